#include "storage/log.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"

namespace replfs {
namespace {

std::atomic<int> g_level{static_cast<int>(LogLevel::kWarning)};
constexpr const char* kNames[] = {"error", "warning", "info", "debug"};

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// One line per call, never longer than this, control characters escaped:
// what a peer sends (a name, a path, an error text) can neither flood the
// log nor forge lines in it.
constexpr size_t kMaxLineBytes = 2048;

std::string OneLine(absl::string_view message) {
  std::string line;
  line.reserve(std::min(message.size(), kMaxLineBytes) + 32);
  for (size_t i = 0; i < message.size(); ++i) {
    if (line.size() >= kMaxLineBytes) {
      absl::StrAppend(&line, "... [", message.size(), " bytes]");
      break;
    }
    const unsigned char c = static_cast<unsigned char>(message[i]);
    if (c < 0x20 || c == 0x7f) {
      absl::StrAppend(&line, "\\x", absl::Hex(c, absl::kZeroPad2));
    } else {
      line.push_back(static_cast<char>(c));
    }
  }
  return line;
}

// Repeated lines: a line like one written in the last kRepeatWindowMs
// (equal but for its digits: counts, ports, durations) is counted, not
// written; the next one written says how many were left out. And at most
// kLinesPerSecond lines a second (bursts of kBurst), whatever they say.
constexpr int64_t kRepeatWindowMs = 10'000;
constexpr size_t kMaxTracked = 4096;
constexpr double kLinesPerSecond = 50;
constexpr double kBurst = 500;

class RateLimiter {
 public:
  // Whether to write `line` now; `note` receives what to add to it.
  // Without `fold_repeats` a line like a recent one is written too.
  bool Admit(absl::string_view line, std::string* note, bool fold_repeats) {
    std::string shape;
    shape.reserve(line.size());
    for (char c : line) {
      if (c < '0' || c > '9') shape.push_back(c);
    }
    const size_t key = absl::HashOf(shape);
    const int64_t now = NowMs();
    absl::MutexLock lock(&mu_);
    tokens_ = std::min(kBurst, tokens_ + static_cast<double>(now - refilled_ms_) *
                                             kLinesPerSecond / 1000.0);
    refilled_ms_ = now;
    if (recent_.size() > kMaxTracked) recent_.clear();
    Recent& recent = recent_[key];
    if (fold_repeats && recent.last_ms != 0 && now - recent.last_ms < kRepeatWindowMs) {
      ++recent.left_out;
      return false;
    }
    if (tokens_ < 1) {
      ++over_rate_;
      return false;
    }
    tokens_ -= 1;
    if (recent.left_out > 0) {
      absl::StrAppend(note, " [", recent.left_out, " more like it in the last ",
                      (now - recent.last_ms) / 1000, " s not shown]");
    }
    if (over_rate_ > 0) {
      absl::StrAppend(note, " [", over_rate_, " other lines not shown: more than ",
                      static_cast<int>(kLinesPerSecond), " a second]");
      over_rate_ = 0;
    }
    recent.last_ms = now;
    recent.left_out = 0;
    return true;
  }

 private:
  struct Recent {
    int64_t last_ms = 0;
    uint64_t left_out = 0;
  };
  absl::Mutex mu_;
  absl::flat_hash_map<size_t, Recent> recent_ ABSL_GUARDED_BY(mu_);
  double tokens_ ABSL_GUARDED_BY(mu_) = kBurst;
  int64_t refilled_ms_ ABSL_GUARDED_BY(mu_) = NowMs();
  uint64_t over_rate_ ABSL_GUARDED_BY(mu_) = 0;
};

RateLimiter& Limiter() {
  static RateLimiter* limiter = new RateLimiter;
  return *limiter;
}

}  // namespace

void SetLogLevel(LogLevel level) { g_level = static_cast<int>(level); }

const char* LogLevelName(LogLevel level) { return kNames[static_cast<int>(level)]; }

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

namespace {

void Write(LogLevel level, absl::string_view message, bool fold_repeats) {
  if (!LogEnabled(level)) return;
  std::string line = OneLine(message);
  // Debug output is asked for and shown whole.
  if (level != LogLevel::kDebug) {
    std::string note;
    if (!Limiter().Admit(line, &note, fold_repeats)) return;
    line += note;
  }
  // One fprintf per line keeps lines from different threads whole.
  std::fprintf(stderr, "replfs %s: %.*s\n", kNames[static_cast<int>(level)],
               static_cast<int>(line.size()), line.data());
}

}  // namespace

void Log(LogLevel level, absl::string_view message) { Write(level, message, true); }

void LogEach(LogLevel level, absl::string_view message) { Write(level, message, false); }

std::string ForLog(absl::string_view untrusted, size_t max_bytes) {
  if (untrusted.size() <= max_bytes) return absl::CHexEscape(untrusted);
  return absl::StrCat(absl::CHexEscape(untrusted.substr(0, max_bytes)), "... [",
                      untrusted.size(), " bytes]");
}

}  // namespace replfs
