#ifndef REPLFS_TESTS_CHAOS_FAULT_INJECTOR_H_
#define REPLFS_TESTS_CHAOS_FAULT_INJECTOR_H_

// Faults.

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "tests/chaos/chaos_common.h"
#include "tests/chaos/proxied_cluster.h"

namespace replfs::testing::chaos {

struct FaultCounts {
  int kills = 0;
  int pauses = 0;
  int cuts = 0;
  int total() const { return kills + pauses + cuts; }
};

class FaultInjector {
 public:
  FaultInjector(ProxiedCluster* cluster, uint64_t seed, SteadyClock::time_point epoch)
      : cluster_(cluster), random_(seed), epoch_(epoch) {}

  // Injects faults, one at a time (cuts stay while others happen), until
  // `until`; then heals every link. Every paused replica is resumed before
  // the next step, whatever happens.
  void Run(SteadyClock::time_point until);

  const FaultCounts& counts() const { return counts_; }
  // What happened when (seconds since the first operation), for reports.
  const std::vector<std::string>& events() const { return events_; }
  const std::string& error() const { return error_; }

 private:
  int Uniform(int low, int high) { return std::uniform_int_distribution<int>(low, high)(random_); }
  static void Sleep(int ms, SteadyClock::time_point until);

  void Note(const std::string& what);

  ProxiedCluster* cluster_;
  std::mt19937_64 random_;
  SteadyClock::time_point epoch_;
  std::vector<std::string> events_;
  FaultCounts counts_;
  std::string error_;
};

}  // namespace replfs::testing::chaos

#endif  // REPLFS_TESTS_CHAOS_FAULT_INJECTOR_H_
