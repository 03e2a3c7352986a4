#include "replication/feed_position.h"

#include <algorithm>
#include <limits>

#include "absl/strings/str_format.h"

namespace replfs {

absl::StatusOr<uint64_t> FeedPosition::Check(const ChangeBatch& batch, absl::Time now) const {
  const double seconds = std::max(0.0, absl::ToDoubleSeconds(now - hello_time_));
  // Saturating: the bound only has to be far beyond any honest head.
  const double reachable_double = static_cast<double>(announced_head_) +
                                  static_cast<double>(kSeqSlack) +
                                  seconds * static_cast<double>(kMaxSeqsPerSecond);
  const uint64_t reachable =
      reachable_double >= 1.8e19 ? std::numeric_limits<uint64_t>::max()
                                 : static_cast<uint64_t>(reachable_double);
  if (batch.head_seq() > reachable) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "feed announces head seq %d, beyond what the peer can have reached (%d at hello)",
        batch.head_seq(), announced_head_));
  }
  if (batch.through_seq() > batch.head_seq()) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "feed covers up to seq %d, past its own head %d", batch.through_seq(), batch.head_seq()));
  }
  uint64_t previous = checkpoint_;
  for (const Entry& e : batch.entries()) {
    if (e.seq() <= previous) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "entry %s at seq %d does not follow seq %d (checkpoint %d)",
          e.path().substr(0, 200), e.seq(), previous, checkpoint_));
    }
    if (e.seq() > batch.head_seq()) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "entry %s at seq %d, past the feed's head %d", e.path().substr(0, 200), e.seq(),
          batch.head_seq()));
    }
    previous = e.seq();
  }
  return std::max({checkpoint_, previous, batch.through_seq()});
}

}  // namespace replfs
