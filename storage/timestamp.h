#ifndef REPLFS_STORAGE_TIMESTAMP_H_
#define REPLFS_STORAGE_TIMESTAMP_H_

#include <time.h>

#include <cstdint>
#include <limits>

namespace replfs {

// Entries carry times as nanoseconds since the epoch (int64, signed: a
// file may be older than 1970). The kernel takes a timespec whose
// nanoseconds are always in [0, 1e9), also before 1970: -0.5 s is
// {-1, 500000000}, never {0, -500000000} (utimensat refuses that with
// EINVAL), so seconds are the floor of the quotient, not its truncation.
inline struct timespec TimespecFromNanoseconds(int64_t ns) {
  constexpr int64_t kPerSecond = 1'000'000'000;
  int64_t seconds = ns / kPerSecond;
  int64_t nanoseconds = ns % kPerSecond;
  if (nanoseconds < 0) {
    seconds -= 1;
    nanoseconds += kPerSecond;
  }
  struct timespec ts;
  ts.tv_sec = static_cast<time_t>(seconds);
  ts.tv_nsec = static_cast<long>(nanoseconds);
  return ts;
}

// The inverse, saturating at the ends of int64 (years before 1678 or after
// 2262, which some file systems can store) instead of overflowing.
inline int64_t NanosecondsFromTimespec(const struct timespec& ts) {
  constexpr int64_t kPerSecond = 1'000'000'000;
  int64_t scaled = 0;
  int64_t sum = 0;
  if (__builtin_mul_overflow(static_cast<int64_t>(ts.tv_sec), kPerSecond, &scaled) ||
      __builtin_add_overflow(scaled, static_cast<int64_t>(ts.tv_nsec), &sum)) {
    return ts.tv_sec < 0 ? std::numeric_limits<int64_t>::min()
                         : std::numeric_limits<int64_t>::max();
  }
  return sum;
}

}  // namespace replfs

#endif  // REPLFS_STORAGE_TIMESTAMP_H_
