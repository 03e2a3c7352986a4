#include "replication/set_aside_schedule.h"

#include <algorithm>
#include <limits>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"

namespace replfs {

int64_t NowUnixMs() { return absl::ToUnixMillis(absl::Now()); }

int64_t NextAttemptUnixMs(int64_t now_unix_ms, uint32_t attempts) {
  constexpr int64_t kFirstMs = 1000;
  constexpr int64_t kMaxMs = int64_t{10} * 60 * 1000;
  const int64_t delay = attempts >= 10 ? kMaxMs : std::min(kMaxMs, kFirstMs << attempts);
  return now_unix_ms + delay;
}

SetAsideRecord PartialRecord(const Entry& applied, uint64_t peer,
                             const DroppedAttributes& dropped, int64_t now_unix_ms) {
  SetAsideRecord record;
  *record.mutable_entry() = applied;
  record.mutable_entry()->clear_local_stat();
  record.mutable_entry()->clear_seq();
  record.set_peer(peer);
  record.set_partial(true);
  for (const std::string& item : dropped.items) record.add_dropped(item);
  record.set_reason(absl::StrCat("applied without ", absl::StrJoin(dropped.items, "; ")));
  record.set_retryable(dropped.retryable);
  record.set_first_unix_ms(now_unix_ms);
  record.set_next_attempt_unix_ms(dropped.retryable ? NextAttemptUnixMs(now_unix_ms, 0)
                                                    : std::numeric_limits<int64_t>::max());
  return record;
}

}  // namespace replfs
