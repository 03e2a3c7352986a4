#ifndef REPLFS_TESTS_SIMULATION_SIMULATION_H_
#define REPLFS_TESTS_SIMULATION_SIMULATION_H_

#include <cstdint>
#include <string>

namespace replfs::sim {

struct SimulationOptions {
  uint64_t seed = 1;
  bool verbose = false;         // Trace every step to stderr.
  std::string temp_root;        // Where the per-seed folder goes (/dev/shm if empty and present).
  bool keep_temp = false;       // Leave the per-seed folder for inspection.
};

struct SimulationResult {
  bool ok = false;
  std::string failure;  // What went wrong, with the step trace.
  int replicas = 0;
  int local_ops = 0;
  int deliveries = 0;
  int restarts = 0;
  int conflicts_required = 0;
  int set_aside = 0;  // Entries set aside (their blocks not served) on delivery.
  int moved = 0;      // Entries applied by one rename of their subtree.
};

// One randomized run, fully determined by the seed: 3-5 replicas, random
// local operations interleaved with random, partial, duplicated deliveries
// over a random topology and replica restarts; then full delivery until
// quiescent; then the convergence checks (see simulation.cc).
SimulationResult RunSimulation(const SimulationOptions& options);

}  // namespace replfs::sim

#endif  // REPLFS_TESTS_SIMULATION_SIMULATION_H_
