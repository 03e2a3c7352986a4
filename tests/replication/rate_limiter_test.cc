// RateLimiter's arithmetic, on a clock the test moves (no waiting).
#include "replication/rate_limiter.h"

#include "gtest/gtest.h"

namespace replfs {
namespace {

constexpr uint64_t kMiB = 1 << 20;

TEST(RateLimiterTest, WaitsWhatTheBytesCostPastTheBurst) {
  RateLimiter limiter(4 * kMiB);
  const absl::Time start = absl::FromUnixSeconds(1000);
  // A quarter second of idle credit covers the first MiB.
  EXPECT_EQ(limiter.Reserve(kMiB, start), absl::ZeroDuration());
  // Each MiB after it costs a quarter second at 4 MiB/s.
  EXPECT_EQ(limiter.Reserve(kMiB, start), absl::Milliseconds(250));
  EXPECT_EQ(limiter.Reserve(2 * kMiB, start), absl::Milliseconds(750));
  // Time that passed pays for them.
  EXPECT_EQ(limiter.Reserve(kMiB, start + absl::Milliseconds(750)), absl::Milliseconds(250));
}

TEST(RateLimiterTest, IdleTimeBuildsAtMostTheBurst) {
  RateLimiter limiter(kMiB);
  const absl::Time start = absl::FromUnixSeconds(1000);
  EXPECT_EQ(limiter.Reserve(kMiB, start), absl::Milliseconds(750));
  // An hour idle buys a quarter second at full speed, not an hour's worth.
  const absl::Time later = start + absl::Hours(1);
  EXPECT_EQ(limiter.Reserve(kMiB / 4, later), absl::ZeroDuration());
  EXPECT_EQ(limiter.Reserve(kMiB, later), absl::Seconds(1));
}

TEST(RateLimiterTest, NoRateNeverWaitsAndCancelEndsWaits) {
  RateLimiter unlimited(0);
  EXPECT_EQ(unlimited.Reserve(uint64_t{1} << 40, absl::Now()), absl::ZeroDuration());
  RateLimiter slow(1);  // A byte a second: a MiB would wait twelve days.
  slow.Cancel();
  const absl::Time before = absl::Now();
  slow.Account(kMiB);
  EXPECT_LT(absl::Now() - before, absl::Seconds(5));
}

}  // namespace
}  // namespace replfs
