#ifndef REPLFS_TESTS_CHAOS_CHAOS_COMMON_H_
#define REPLFS_TESTS_CHAOS_CHAOS_COMMON_H_

// Small helpers and constants shared by the chaos test's parts.

#include <chrono>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/string_view.h"
#include "storage/content_hasher.h"

namespace replfs::testing::chaos {

using SteadyClock = std::chrono::steady_clock;
inline constexpr int kReplicas = 3;
inline constexpr int kWriters = 2;  // Writer k writes through replica k's mount.

inline std::string Hex(const std::string& bytes) { return absl::BytesToHexString(bytes); }
inline std::string ContentHash(absl::string_view content) { return Hex(Sha256(content)); }

inline double SecondsBetween(SteadyClock::time_point a, SteadyClock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

}  // namespace replfs::testing::chaos

#endif  // REPLFS_TESTS_CHAOS_CHAOS_COMMON_H_
