// Randomized convergence simulation: replicas' stores and apply logic wired
// by an in-process message bus (no FUSE, no network). See simulation.cc for
// what each seed does and checks.
//
//   REPLFS_SIM_SEEDS=n      run seeds 1..n (default below, ~1 minute on 2 cores)
//   REPLFS_SIM_FIRST_SEED=k start at seed k instead of 1
//   REPLFS_SIM_SEED=n       run only seed n (replay a failure)
//   REPLFS_SIM_VERBOSE=1    trace every step and commit to stderr
//   REPLFS_SIM_KEEP=1       keep the per-seed folders (under /dev/shm)

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/simulation/simulation.h"

namespace replfs::sim {
namespace {

// Sized for under a minute on the 2-core CI machine (measured: 8000 seeds in
// 47 s; tools/test.sh runs it alone).
constexpr uint64_t kDefaultSeeds = 8000;
// However many seeds are asked for, stop starting new ones after this long.
constexpr auto kTimeBudget = std::chrono::seconds(110);
constexpr size_t kMaxReportedFailures = 5;

uint64_t EnvNumber(const char* name, uint64_t fallback) {
  const char* value = std::getenv(name);
  uint64_t parsed = 0;
  return value != nullptr && absl::SimpleAtoi(value, &parsed) ? parsed : fallback;
}

bool EnvFlag(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr && std::string(value) != "0" && std::string(value) != "";
}

std::string SelfPath() {
  char buffer[4096];
  const ssize_t n = ::readlink("/proc/self/exe", buffer, sizeof(buffer) - 1);
  return n > 0 ? std::string(buffer, static_cast<size_t>(n)) : "convergence_sim_test";
}

std::string ReplayCommand(uint64_t seed) {
  return absl::StrCat("REPLFS_SIM_SEED=", seed, " REPLFS_SIM_VERBOSE=1 ", SelfPath());
}

TEST(ConvergenceSimulation, EveryReplicaEndsWithTheTreeLwwDecides) {
  const bool keep = EnvFlag("REPLFS_SIM_KEEP");
  if (const char* only = std::getenv("REPLFS_SIM_SEED"); only != nullptr) {
    SimulationOptions options;
    ASSERT_TRUE(absl::SimpleAtoi(only, &options.seed)) << "REPLFS_SIM_SEED=" << only;
    options.verbose = EnvFlag("REPLFS_SIM_VERBOSE");
    options.keep_temp = keep;
    const SimulationResult result = RunSimulation(options);
    EXPECT_TRUE(result.ok) << "seed " << options.seed << " failed: " << result.failure
                           << "\nreplay: " << ReplayCommand(options.seed);
    std::printf("seed %lu: %d replicas, %d local ops, %d deliveries, %d restarts, "
                "%d conflict copies required, %d entries set aside, %d moved by a rename\n",
                static_cast<unsigned long>(options.seed), result.replicas, result.local_ops,
                result.deliveries, result.restarts, result.conflicts_required, result.set_aside,
                result.moved);
    return;
  }

  const uint64_t first = EnvNumber("REPLFS_SIM_FIRST_SEED", 1);
  const uint64_t count = EnvNumber("REPLFS_SIM_SEEDS", kDefaultSeeds);
  const auto start = std::chrono::steady_clock::now();
  std::atomic<uint64_t> next{first};
  std::atomic<uint64_t> finished{0};
  std::atomic<uint64_t> conflicts{0};
  std::atomic<uint64_t> set_aside{0};
  std::atomic<uint64_t> moved{0};
  std::atomic<bool> out_of_time{false};
  std::mutex failures_mu;
  std::vector<std::pair<uint64_t, std::string>> failures;
  auto worker = [&] {
    for (;;) {
      if (std::chrono::steady_clock::now() - start > kTimeBudget) {
        out_of_time = true;
        return;
      }
      const uint64_t seed = next++;
      if (seed >= first + count) return;
      SimulationOptions options;
      options.seed = seed;
      options.keep_temp = keep;
      const SimulationResult result = RunSimulation(options);
      ++finished;
      conflicts += static_cast<uint64_t>(result.conflicts_required);
      set_aside += static_cast<uint64_t>(result.set_aside);
      moved += static_cast<uint64_t>(result.moved);
      std::lock_guard lock(failures_mu);
      if (!result.ok) failures.emplace_back(seed, result.failure);
    }
  };
  const unsigned workers = std::clamp(std::thread::hardware_concurrency(), 1u, 4u);
  std::vector<std::thread> threads;
  for (unsigned i = 0; i < workers; ++i) threads.emplace_back(worker);
  for (std::thread& t : threads) t.join();

  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("%lu seeds from %lu in %.1f s on %u threads (%lu conflict copies checked, "
              "%lu entries set aside and retried, %lu applied by moving a subtree)%s\n",
              static_cast<unsigned long>(finished.load()), static_cast<unsigned long>(first),
              seconds, workers, static_cast<unsigned long>(conflicts.load()),
              static_cast<unsigned long>(set_aside.load()),
              static_cast<unsigned long>(moved.load()), out_of_time ? "; stopped at the time budget" : "");
  std::sort(failures.begin(), failures.end());
  for (size_t i = 0; i < failures.size() && i < kMaxReportedFailures; ++i) {
    ADD_FAILURE() << "seed " << failures[i].first << " failed: " << failures[i].second
                  << "\nreplay: " << ReplayCommand(failures[i].first);
  }
  if (!failures.empty()) {
    std::string seeds;
    for (const auto& [seed, unused] : failures) absl::StrAppend(&seeds, seeds.empty() ? "" : " ", seed);
    ADD_FAILURE() << failures.size() << " of " << finished.load() << " seeds failed: " << seeds;
  }
}

}  // namespace
}  // namespace replfs::sim
