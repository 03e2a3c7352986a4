#include "replication/tombstone_purger.h"

#include <algorithm>
#include <string>
#include <utility>

#include "storage/hlc.h"

namespace replfs {

absl::StatusOr<uint64_t> TombstonePurger::PurgeOnce(
    const std::vector<std::optional<uint64_t>>& acked, absl::Time now) {
  uint64_t safe_seq = store_->LastSeq();
  for (const std::optional<uint64_t>& seq : acked) {
    if (!seq.has_value()) return 0;
    safe_seq = std::min(safe_seq, *seq);
  }
  const uint64_t cutoff_ms = static_cast<uint64_t>(absl::ToUnixMillis(now - grace_));
  uint64_t purged = 0;
  constexpr size_t kChunk = 4096;
  std::string resume;
  for (;;) {
    std::vector<std::pair<std::string, uint64_t>> doomed;
    size_t visited = 0;
    std::string last;
    absl::Status s = store_->ScanEntries(
        "",
        [&](const Entry& e) {
          last = e.path();
          if (e.content().kind() == KIND_TOMBSTONE && e.seq() <= safe_seq &&
              HybridLogicalClock::WallMs(e.content().version().hlc()) < cutoff_ms) {
            doomed.emplace_back(e.path(), e.seq());
          }
          return ++visited < kChunk;
        },
        resume);
    if (!s.ok()) return s;
    for (const auto& [path, seq] : doomed) {
      absl::StatusOr<bool> done = store_->PurgeTombstone(path, seq);
      if (!done.ok()) return done.status();
      if (*done) ++purged;
    }
    if (visited < kChunk) return purged;
    resume = last;
  }
}

}  // namespace replfs
