#include "tools/restore_time.h"

#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace replfs {
namespace {

constexpr char kAcceptedForms[] =
    "a duration back from now (90s, 10m, 2h, 3d, 1h30m), a local time (2026-12-05 01:20:00), "
    "a time with its offset (2026-12-05T01:20:00Z, 2026-12-05T01:20:00+01:00) or unix seconds "
    "(@1765000000)";

// Far more than any kept version can be old, and far from overflowing
// int64 milliseconds whatever the unit.
constexpr int64_t kMaxDurationMs = int64_t{100} * 365 * 24 * 3600 * 1000;

int64_t UnitMs(char unit) {
  switch (unit) {
    case 's': return 1000;
    case 'm': return int64_t{60} * 1000;
    case 'h': return int64_t{3600} * 1000;
    case 'd': return int64_t{24} * 3600 * 1000;
    default: return 0;
  }
}

// "1h30m": one or more NUMBER UNIT pairs, each unit s, m, h or d. Nothing
// when `text` is not of that form.
std::optional<int64_t> ParseDurationMs(absl::string_view text) {
  if (text.empty()) return std::nullopt;
  int64_t total_ms = 0;
  size_t i = 0;
  while (i < text.size()) {
    const size_t digits_start = i;
    while (i < text.size() && absl::ascii_isdigit(static_cast<unsigned char>(text[i]))) ++i;
    if (i == digits_start || i == text.size() || i - digits_start > 12) return std::nullopt;
    const int64_t unit_ms = UnitMs(text[i]);
    if (unit_ms == 0) return std::nullopt;
    int64_t count = 0;
    if (!absl::SimpleAtoi(text.substr(digits_start, i - digits_start), &count)) {
      return std::nullopt;
    }
    ++i;
    if (count > kMaxDurationMs / unit_ms) return std::nullopt;
    total_ms += count * unit_ms;
    if (total_ms > kMaxDurationMs) return std::nullopt;
  }
  return total_ms;
}

// "@SECONDS".
std::optional<int64_t> ParseUnixSecondsMs(absl::string_view text) {
  if (text.size() < 2 || text[0] != '@' || text.size() > 14) return std::nullopt;
  int64_t seconds = 0;
  const absl::string_view digits = text.substr(1);
  for (const char c : digits) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return std::nullopt;
  }
  if (!absl::SimpleAtoi(digits, &seconds)) return std::nullopt;
  return seconds * 1000;
}

// A calendar time; the forms with an offset (%Ez also takes "Z") ignore
// `local`.
std::optional<int64_t> ParseCalendarMs(absl::string_view text, const absl::TimeZone& local) {
  static constexpr const char* kFormats[] = {
      "%Y-%m-%d%ET%H:%M:%E*S%Ez", "%Y-%m-%d %H:%M:%E*S%Ez", "%Y-%m-%d%ET%H:%M%Ez",
      "%Y-%m-%d %H:%M%Ez",        "%Y-%m-%d%ET%H:%M:%E*S",  "%Y-%m-%d %H:%M:%E*S",
      "%Y-%m-%d%ET%H:%M",         "%Y-%m-%d %H:%M",
  };
  for (const char* format : kFormats) {
    absl::Time time;
    std::string error;
    if (absl::ParseTime(format, text, local, &time, &error)) return absl::ToUnixMillis(time);
  }
  return std::nullopt;
}

}  // namespace

absl::StatusOr<int64_t> ParseRestoreTime(absl::string_view text, int64_t now_unix_ms,
                                         const absl::TimeZone& local) {
  const absl::string_view trimmed = absl::StripAsciiWhitespace(text);
  std::optional<int64_t> unix_ms;
  if (std::optional<int64_t> back_ms = ParseDurationMs(trimmed); back_ms.has_value()) {
    unix_ms = now_unix_ms - *back_ms;
  } else if (!trimmed.empty() && trimmed[0] == '@') {
    unix_ms = ParseUnixSecondsMs(trimmed);
  } else {
    unix_ms = ParseCalendarMs(trimmed, local);
  }
  if (!unix_ms.has_value()) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot read '", text, "' as a time; give ", kAcceptedForms));
  }
  if (*unix_ms > now_unix_ms) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", text, "' is in the future (", FormatRestoreTime(*unix_ms, local),
                     ", now is ", FormatRestoreTime(now_unix_ms, local),
                     "); a restore goes back in time"));
  }
  if (*unix_ms < 0) {
    return absl::InvalidArgumentError(absl::StrCat("'", text, "' is before 1970"));
  }
  return *unix_ms;
}

absl::StatusOr<int64_t> ParseRestoreTime(absl::string_view text, int64_t now_unix_ms) {
  return ParseRestoreTime(text, now_unix_ms, absl::LocalTimeZone());
}

std::string FormatRestoreTime(int64_t unix_ms, const absl::TimeZone& zone) {
  return absl::FormatTime("%Y-%m-%d %H:%M:%S", absl::FromUnixMillis(unix_ms), zone);
}

}  // namespace replfs
