#include "storage/hlc.h"

#include <chrono>

#include "absl/strings/str_cat.h"

namespace replfs {

HybridLogicalClock::HybridLogicalClock(WallClockMs wall_clock_ms)
    : wall_clock_ms_(std::move(wall_clock_ms)) {}

uint64_t HybridLogicalClock::SystemWallClockMs() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::system_clock::now().time_since_epoch())
          .count());
}

uint64_t HybridLogicalClock::Now() {
  const uint64_t wall = Pack(wall_clock_ms_(), 0);
  absl::MutexLock lock(&mu_);
  // When the wall clock is behind what we have seen, the counter carries the
  // order; overflowing the counter borrows a millisecond, which is harmless.
  last_ = wall > last_ ? wall : last_ + 1;
  return last_;
}

absl::Status HybridLogicalClock::CheckNotAhead(uint64_t remote, uint64_t max_ahead_ms) const {
  const uint64_t wall_ms = wall_clock_ms_();
  if (WallMs(remote) > wall_ms + max_ahead_ms) {
    return absl::OutOfRangeError(
        absl::StrCat("timestamp is ", WallMs(remote) - wall_ms,
                     " ms ahead of the local clock (limit ", max_ahead_ms,
                     " ms)"));
  }
  return absl::OkStatus();
}

absl::Status HybridLogicalClock::Observe(uint64_t remote,
                                         uint64_t max_ahead_ms) {
  if (absl::Status s = CheckNotAhead(remote, max_ahead_ms); !s.ok()) return s;
  AdvanceTo(remote);
  return absl::OkStatus();
}

void HybridLogicalClock::AdvanceTo(uint64_t at_least) {
  absl::MutexLock lock(&mu_);
  if (at_least > last_) last_ = at_least;
}

}  // namespace replfs
