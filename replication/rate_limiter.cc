#include "replication/rate_limiter.h"

#include <algorithm>

namespace replfs {

absl::Duration RateLimiter::Reserve(uint64_t bytes, absl::Time now) {
  if (bytes_per_second_ == 0) return absl::ZeroDuration();
  absl::MutexLock lock(&mu_);
  // Credit for idle time, up to kBurst.
  const absl::Time start = std::max(paid_until_, now - kBurst);
  paid_until_ = start + absl::Seconds(static_cast<double>(bytes) /
                                      static_cast<double>(bytes_per_second_));
  return std::max(absl::ZeroDuration(), paid_until_ - now);
}

void RateLimiter::Account(uint64_t bytes) {
  const absl::Time now = absl::Now();
  const absl::Duration wait = Reserve(bytes, now);
  if (wait <= absl::ZeroDuration()) return;
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithDeadline(absl::Condition(&cancelled_), now + wait);
}

void RateLimiter::Cancel() {
  absl::MutexLock lock(&mu_);
  cancelled_ = true;
}

}  // namespace replfs
