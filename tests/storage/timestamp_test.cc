#include "storage/timestamp.h"

#include <limits>

#include "gtest/gtest.h"

namespace replfs {
namespace {

TEST(Timestamp, BeforeTheEpochNanosecondsStayPositive) {
  // 1969-12-31 23:59:59.5 UTC (utimensat refused the truncated {0, -5e8}).
  const struct timespec ts = TimespecFromNanoseconds(-500'000'000);
  EXPECT_EQ(ts.tv_sec, -1);
  EXPECT_EQ(ts.tv_nsec, 500'000'000);
  const struct timespec whole = TimespecFromNanoseconds(-2'000'000'000);
  EXPECT_EQ(whole.tv_sec, -2);
  EXPECT_EQ(whole.tv_nsec, 0);
  const struct timespec just_before = TimespecFromNanoseconds(-1);
  EXPECT_EQ(just_before.tv_sec, -1);
  EXPECT_EQ(just_before.tv_nsec, 999'999'999);
}

TEST(Timestamp, RoundTripsEverywhere) {
  for (int64_t ns : {int64_t{0}, int64_t{1}, int64_t{-1}, int64_t{1'600'000'000'123'456'789},
                     int64_t{-1'600'000'000'123'456'789}, std::numeric_limits<int64_t>::min() + 1'000'000'000,
                     std::numeric_limits<int64_t>::max()}) {
    const struct timespec ts = TimespecFromNanoseconds(ns);
    EXPECT_GE(ts.tv_nsec, 0) << ns;
    EXPECT_LT(ts.tv_nsec, 1'000'000'000) << ns;
    EXPECT_EQ(NanosecondsFromTimespec(ts), ns) << ns;
  }
}

TEST(Timestamp, FarTimesSaturateInsteadOfOverflowing) {
  EXPECT_EQ(NanosecondsFromTimespec({std::numeric_limits<time_t>::max(), 0}),
            std::numeric_limits<int64_t>::max());
  EXPECT_EQ(NanosecondsFromTimespec({std::numeric_limits<time_t>::min(), 0}),
            std::numeric_limits<int64_t>::min());
}

}  // namespace
}  // namespace replfs
