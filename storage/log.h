#ifndef REPLFS_STORAGE_LOG_H_
#define REPLFS_STORAGE_LOG_H_

#include "absl/strings/string_view.h"

namespace replfs {

// Log levels, most severe first. Messages above the configured level are
// dropped. Logs go to stderr, where journald picks them up.
enum class LogLevel { kError = 0, kWarning = 1, kInfo = 2, kDebug = 3 };

void SetLogLevel(LogLevel level);
bool ParseLogLevel(absl::string_view text, LogLevel* level);
void Log(LogLevel level, absl::string_view message);
// Whether messages of `level` are written (to skip building them).
bool LogEnabled(LogLevel level);
inline void LogError(absl::string_view m) { Log(LogLevel::kError, m); }
inline void LogWarning(absl::string_view m) { Log(LogLevel::kWarning, m); }
inline void LogInfo(absl::string_view m) { Log(LogLevel::kInfo, m); }
inline void LogDebug(absl::string_view m) { Log(LogLevel::kDebug, m); }

}  // namespace replfs

#endif  // REPLFS_STORAGE_LOG_H_
