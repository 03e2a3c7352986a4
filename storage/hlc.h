#ifndef REPLFS_STORAGE_HLC_H_
#define REPLFS_STORAGE_HLC_H_

#include <cstdint>
#include <functional>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"

namespace replfs {

// Hybrid logical clock: 48 bits of wall-clock milliseconds, 16 bits of
// counter. Timestamps it hands out strictly increase, and never fall behind a
// timestamp it has observed, so a change made after seeing another always
// beats it even when wall clocks are skewed. Thread-safe.
class HybridLogicalClock {
 public:
  using WallClockMs = std::function<uint64_t()>;

  // `wall_clock_ms` is injectable so tests can skew and freeze time.
  explicit HybridLogicalClock(WallClockMs wall_clock_ms = SystemWallClockMs);

  // A fresh timestamp for a local change.
  uint64_t Now();

  // Advances the clock past a timestamp received from a peer. Refuses (and
  // does not advance) if it is more than `max_ahead_ms` ahead of the local
  // wall clock.
  absl::Status Observe(uint64_t remote, uint64_t max_ahead_ms);

  // Whether `remote` is acceptable (not more than `max_ahead_ms` ahead of
  // the local wall clock), without advancing anything.
  absl::Status CheckNotAhead(uint64_t remote, uint64_t max_ahead_ms) const;

  // Restores a floor after a restart (the highest timestamp in the store).
  void AdvanceTo(uint64_t at_least);

  static uint64_t SystemWallClockMs();
  static uint64_t Pack(uint64_t wall_ms, uint64_t counter) {
    return (wall_ms << 16) | (counter & 0xffff);
  }
  static uint64_t WallMs(uint64_t hlc) { return hlc >> 16; }

 private:
  WallClockMs wall_clock_ms_;
  absl::Mutex mu_;
  uint64_t last_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace replfs

#endif  // REPLFS_STORAGE_HLC_H_
