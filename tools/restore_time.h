#ifndef REPLFS_TOOLS_RESTORE_TIME_H_
#define REPLFS_TOOLS_RESTORE_TIME_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace replfs {

// The times `replfs-status --restore --as-of` reads and the times the
// version listings print, both in the operator's local time zone unless the
// text says otherwise.

// Parses TIME into unix milliseconds. Accepted:
//   a duration back from now:  "90s", "10m", "2h", "3d", "1h30m"
//   UTC or an explicit offset: "2026-12-05T01:20:00Z", "2026-12-05T01:20:00+01:00"
//   local time (`local`):      "2026-12-05 01:20:00", "2026-12-05T01:20:00"
//                              (the seconds may be left out)
//   unix seconds:              "@1765000000"
// A time after `now_unix_ms`, or anything else, is InvalidArgument naming
// the accepted forms.
absl::StatusOr<int64_t> ParseRestoreTime(absl::string_view text, int64_t now_unix_ms,
                                         const absl::TimeZone& local);
// The same in the machine's local time zone.
absl::StatusOr<int64_t> ParseRestoreTime(absl::string_view text, int64_t now_unix_ms);

// "2026-12-05 01:20:03" in `zone` (default: the machine's local time zone).
std::string FormatRestoreTime(int64_t unix_ms, const absl::TimeZone& zone = absl::LocalTimeZone());

}  // namespace replfs

#endif  // REPLFS_TOOLS_RESTORE_TIME_H_
