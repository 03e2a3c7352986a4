#ifndef REPLFS_STORAGE_LOG_H_
#define REPLFS_STORAGE_LOG_H_

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"

namespace replfs {

// Log levels, most severe first. Messages above the configured level are
// dropped. Logs go to stderr, where journald picks them up. Every message
// becomes one line of at most 2 KiB with control characters escaped; a
// line like one written in the last 10 s (equal but for its digits) is not
// written again but counted, and at most 50 lines a second are written
// (bursts of 500); the next line written says how many were left out.
// Debug messages are not limited.
enum class LogLevel { kError = 0, kWarning = 1, kInfo = 2, kDebug = 3 };

void SetLogLevel(LogLevel level);
bool ParseLogLevel(absl::string_view text, LogLevel* level);
// "error", "warning", "info" or "debug".
const char* LogLevelName(LogLevel level);
void Log(LogLevel level, absl::string_view message);
// As Log, but never left out as like a line of the last 10 s (still within
// the lines a second): for lines that each answer an operator's action,
// such as a reload, whose values may differ only in their digits.
void LogEach(LogLevel level, absl::string_view message);
// Whether messages of `level` are written (to skip building them).
bool LogEnabled(LogLevel level);
inline void LogError(absl::string_view m) { Log(LogLevel::kError, m); }
inline void LogWarning(absl::string_view m) { Log(LogLevel::kWarning, m); }
inline void LogInfo(absl::string_view m) { Log(LogLevel::kInfo, m); }
inline void LogDebug(absl::string_view m) { Log(LogLevel::kDebug, m); }

// A string received from the network, quoted for a log line or a status
// message: escaped, and cut after `max_bytes` (saying how long it was).
std::string ForLog(absl::string_view untrusted, size_t max_bytes = 128);

}  // namespace replfs

#endif  // REPLFS_STORAGE_LOG_H_
