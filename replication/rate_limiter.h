#ifndef REPLFS_REPLICATION_RATE_LIMITER_H_
#define REPLFS_REPLICATION_RATE_LIMITER_H_

#include <cstdint>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace replfs {

// Holds what one peer sends this replica (its feed and its blocks) to
// -o max_rate: each arrival is counted, and the thread that counted it
// waits until the flow is back under the rate, so that the peer's stream,
// held by gRPC's flow control meanwhile, averages the rate. Idle time
// builds up credit for at most kBurst of arrivals at full speed.
// Thread-safe.
class RateLimiter {
 public:
  static constexpr absl::Duration kBurst = absl::Milliseconds(250);

  // `bytes_per_second` 0: no limit.
  explicit RateLimiter(uint64_t bytes_per_second) : bytes_per_second_(bytes_per_second) {}

  // Counts `bytes` that arrived at `now`: how long the caller must wait
  // before taking more (zero when under the rate).
  absl::Duration Reserve(uint64_t bytes, absl::Time now) ABSL_LOCKS_EXCLUDED(mu_);
  // Reserve, then waits that long, or until Cancel.
  void Account(uint64_t bytes) ABSL_LOCKS_EXCLUDED(mu_);
  // Ends every wait, now and later (the puller stops).
  void Cancel() ABSL_LOCKS_EXCLUDED(mu_);

  uint64_t bytes_per_second() const { return bytes_per_second_; }

 private:
  const uint64_t bytes_per_second_;
  absl::Mutex mu_;
  // When the bytes counted so far have been paid for at the rate.
  absl::Time paid_until_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace replfs

#endif  // REPLFS_REPLICATION_RATE_LIMITER_H_
