#include "storage/log.h"

#include <atomic>
#include <cstdio>
#include <string>

namespace replfs {
namespace {
std::atomic<int> g_level{static_cast<int>(LogLevel::kWarning)};
constexpr const char* kNames[] = {"error", "warning", "info", "debug"};
}  // namespace

void SetLogLevel(LogLevel level) { g_level = static_cast<int>(level); }

bool ParseLogLevel(absl::string_view text, LogLevel* level) {
  for (int i = 0; i < 4; ++i) {
    if (text == kNames[i]) {
      *level = static_cast<LogLevel>(i);
      return true;
    }
  }
  return false;
}

bool LogEnabled(LogLevel level) {
  return static_cast<int>(level) <= g_level.load(std::memory_order_relaxed);
}

void Log(LogLevel level, absl::string_view message) {
  if (!LogEnabled(level)) return;
  // One fprintf per line keeps lines from different threads whole.
  std::fprintf(stderr, "replfs %s: %.*s\n", kNames[static_cast<int>(level)],
               static_cast<int>(message.size()), message.data());
}

}  // namespace replfs
