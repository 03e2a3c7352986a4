// ParseRestoreTime: the TIME of `replfs-status --restore --as-of`. The
// relative and offset forms must not depend on the machine's time zone;
// the local forms are tested with a zone given explicitly.
#include "tools/restore_time.h"

#include <cstdint>
#include <string>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace replfs {
namespace {

using ::testing::HasSubstr;

int64_t UtcMs(int year, int month, int day, int hour, int minute, int second) {
  return absl::ToUnixMillis(absl::FromCivil(
      absl::CivilSecond(year, month, day, hour, minute, second), absl::UTCTimeZone()));
}

// Noon UTC on the day the examples name.
const int64_t kNow = UtcMs(2026, 12, 5, 12, 0, 0);
// A zone no test machine is in: the forms with an offset must ignore it.
const absl::TimeZone kPlusSeven = absl::FixedTimeZone(7 * 3600);

int64_t Parse(const std::string& text, const absl::TimeZone& local = kPlusSeven) {
  absl::StatusOr<int64_t> ms = ParseRestoreTime(text, kNow, local);
  EXPECT_TRUE(ms.ok()) << text << ": " << ms.status();
  return ms.value_or(-1);
}

TEST(RestoreTimeTest, DurationsCountBackFromNow) {
  EXPECT_EQ(Parse("90s"), kNow - 90'000);
  EXPECT_EQ(Parse("10m"), kNow - 600'000);
  EXPECT_EQ(Parse("2h"), kNow - 7'200'000);
  EXPECT_EQ(Parse("3d"), kNow - int64_t{3} * 86'400'000);
  EXPECT_EQ(Parse("0s"), kNow);
}

TEST(RestoreTimeTest, DurationsCombine) {
  EXPECT_EQ(Parse("1h30m"), kNow - 5'400'000);
  EXPECT_EQ(Parse("1d2h3m4s"), kNow - (86'400'000 + 7'200'000 + 180'000 + 4'000));
}

TEST(RestoreTimeTest, SurroundingWhitespaceIsIgnored) {
  EXPECT_EQ(Parse("  2h "), kNow - 7'200'000);
}

TEST(RestoreTimeTest, UtcTimeWithZ) {
  EXPECT_EQ(Parse("2026-12-05T01:20:00Z"), UtcMs(2026, 12, 5, 1, 20, 0));
}

TEST(RestoreTimeTest, ExplicitOffsets) {
  EXPECT_EQ(Parse("2026-12-05T01:20:00+01:00"), UtcMs(2026, 12, 5, 0, 20, 0));
  EXPECT_EQ(Parse("2026-12-05T01:20:00-05:30"), UtcMs(2026, 12, 5, 6, 50, 0));
}

TEST(RestoreTimeTest, FractionalSecondsAreKeptToTheMillisecond) {
  EXPECT_EQ(Parse("2026-12-05T01:20:00.250Z"), UtcMs(2026, 12, 5, 1, 20, 0) + 250);
}

TEST(RestoreTimeTest, LocalTimeUsesTheZoneGiven) {
  const absl::TimeZone plus_two = absl::FixedTimeZone(2 * 3600);
  const int64_t expected = UtcMs(2026, 12, 4, 23, 20, 0);
  EXPECT_EQ(Parse("2026-12-05 01:20:00", plus_two), expected);
  EXPECT_EQ(Parse("2026-12-05T01:20:00", plus_two), expected);
  EXPECT_EQ(Parse("2026-12-05 01:20", plus_two), expected);
  EXPECT_EQ(Parse("2026-12-05 01:20:00", absl::UTCTimeZone()), UtcMs(2026, 12, 5, 1, 20, 0));
}

TEST(RestoreTimeTest, UnixSeconds) { EXPECT_EQ(Parse("@1765000000"), int64_t{1'765'000'000'000}); }

TEST(RestoreTimeTest, NowItselfIsAccepted) {
  EXPECT_EQ(Parse("2026-12-05T12:00:00Z"), kNow);
}

TEST(RestoreTimeTest, TheFutureIsRefused) {
  for (const char* text : {"2026-12-05T12:00:01Z", "2027-01-01 00:00:00", "@9999999999"}) {
    absl::StatusOr<int64_t> ms = ParseRestoreTime(text, kNow, absl::UTCTimeZone());
    ASSERT_FALSE(ms.ok()) << text;
    EXPECT_TRUE(absl::IsInvalidArgument(ms.status())) << ms.status();
    EXPECT_THAT(ms.status().message(), HasSubstr("future")) << text;
  }
}

TEST(RestoreTimeTest, GarbageIsRefusedNamingTheAcceptedForms) {
  for (const char* text :
       {"", "yesterday", "10x", "h", "1h30", "-2h", "2h ago", "@", "@12ab", "2026-13-45 00:00:00",
        "2026-12-05", "01:20:00", "2026-12-05T01:20:00Q"}) {
    absl::StatusOr<int64_t> ms = ParseRestoreTime(text, kNow, absl::UTCTimeZone());
    ASSERT_FALSE(ms.ok()) << "'" << text << "' gave " << ms.value_or(0);
    EXPECT_TRUE(absl::IsInvalidArgument(ms.status())) << ms.status();
    EXPECT_THAT(ms.status().message(), HasSubstr("1h30m")) << text;
    EXPECT_THAT(ms.status().message(), HasSubstr("2026-12-05T01:20:00Z")) << text;
    EXPECT_THAT(ms.status().message(), HasSubstr("@1765000000")) << text;
  }
}

TEST(RestoreTimeTest, DurationsBeyondACenturyAreRefused) {
  EXPECT_FALSE(ParseRestoreTime("99999999999d", kNow, absl::UTCTimeZone()).ok());
  EXPECT_FALSE(ParseRestoreTime("999999999999999999999s", kNow, absl::UTCTimeZone()).ok());
}

TEST(RestoreTimeTest, FormatsAsTheListingsPrint) {
  EXPECT_EQ(FormatRestoreTime(UtcMs(2026, 12, 5, 1, 20, 3) + 999, absl::UTCTimeZone()),
            "2026-12-05 01:20:03");
  EXPECT_EQ(FormatRestoreTime(UtcMs(2026, 12, 5, 1, 20, 3), absl::FixedTimeZone(3600)),
            "2026-12-05 02:20:03");
}

}  // namespace
}  // namespace replfs
