// Chaos: three real replicas with real mounts, two writers, and a fault
// injector that SIGKILLs and restarts replicas, SIGSTOPs and resumes them,
// and cuts and heals the links between them (each replica pulls from its
// peers through an in-test TCP proxy). Afterwards, with the faults stopped,
// the replicas must converge to identical trees within a bounded time, and
// every write a writer saw complete must be accounted for.
//
// REPLFS_CHAOS_SECONDS sets the fault phase (default 90: the CI mode, about
// two minutes in all); REPLFS_CHAOS_SEED replays a schedule of choices
// (timing still differs from run to run).
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "replfs.grpc.pb.h"
#include "tests/chaos/chaos_common.h"
#include "tests/chaos/chaos_writer.h"
#include "tests/chaos/conflict_harvester.h"
#include "tests/chaos/fault_injector.h"
#include "tests/chaos/proxied_cluster.h"
#include "tests/chaos/write_verdicts.h"
#include "tests/cluster.h"
#include "tests/support/replica_process.h"

namespace replfs::testing::chaos {
namespace {

int64_t EnvInt(const char* name, int64_t fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? std::strtoll(value, nullptr, 10) : fallback;
}

TEST(ChaosTest, ConvergesAndKeepsEveryCompletedWriteUnderFaults) {
  const int64_t seconds = std::clamp<int64_t>(EnvInt("REPLFS_CHAOS_SECONDS", 90), 5, 86400);
  const uint64_t seed = static_cast<uint64_t>(EnvInt("REPLFS_CHAOS_SEED", std::random_device()()));
  std::printf("[chaos] seed %llu (REPLFS_CHAOS_SEED), fault phase %lld s (REPLFS_CHAOS_SECONDS)\n",
              static_cast<unsigned long long>(seed), static_cast<long long>(seconds));

  ProxiedCluster cluster;
  REPLFS_ASSERT_OK(cluster.Init());
  for (int i = 0; i < kReplicas; ++i) REPLFS_ASSERT_OK(cluster.Start(i));
  for (const char* dir : {"w0", "w1", "shared"}) {
    ASSERT_EQ(::mkdir(cluster.replica(0).MountPath(dir).c_str(), 0755), 0) << dir;
  }
  REPLFS_ASSERT_OK(cluster.WaitForConvergence(absl::Seconds(30)));

  const auto epoch = SteadyClock::now();
  std::atomic<bool> stop_writers{false};
  std::vector<std::unique_ptr<Writer>> writers;
  writers.reserve(kWriters);
  for (int k = 0; k < kWriters; ++k) {
    writers.push_back(std::make_unique<Writer>(k, cluster.replica(k).mountpoint(),
                                               seed * 7919 + static_cast<uint64_t>(k),
                                               &stop_writers, epoch));
  }
  FaultInjector faults(&cluster, seed, epoch);
  std::vector<std::string> conflict_dirs;
  conflict_dirs.reserve(kReplicas);
  for (int i = 0; i < kReplicas; ++i) {
    conflict_dirs.push_back(cluster.replica(i).StateDir() + "/conflicts");
  }
  ConflictHarvester harvester(conflict_dirs);
  {
    // Declared after the cluster: joined before it is torn down.
    std::vector<std::thread> writer_threads;
    writer_threads.reserve(writers.size());
    for (auto& w : writers) writer_threads.emplace_back([&w] { w->Run(); });
    std::atomic<bool> stop_harvesting{false};
    std::thread harvesting([&] {
      while (!stop_harvesting) {
        harvester.Harvest();
        std::this_thread::sleep_for(std::chrono::seconds(1));
      }
    });
    faults.Run(epoch + std::chrono::seconds(seconds));
    stop_writers = true;
    stop_harvesting = true;
    harvesting.join();
    // A writer can be blocked on a replica that hangs (a bug): give it a
    // bounded time, then kill that replica, which fails the blocked call.
    for (int k = 0; k < kWriters; ++k) {
      const bool finished = WaitUntil([&] { return writers[static_cast<size_t>(k)]->busy_since_ms() < 0; },
                                      absl::Seconds(60));
      if (!finished) {
        ADD_FAILURE() << "writer " << k << " is stuck in an operation started at "
                      << writers[static_cast<size_t>(k)]->busy_since_ms() << " ms: replica " << k
                      << " hangs\n"
                      << cluster.Diagnostics();
        cluster.Kill(k);
      }
    }
    for (auto& t : writer_threads) t.join();
  }
  EXPECT_TRUE(faults.error().empty()) << faults.error();

  // Faults over: every link healed, every replica resumed and running.
  cluster.HealAll();
  for (int i = 0; i < kReplicas; ++i) {
    cluster.Resume(i);
    if (!cluster.running(i)) REPLFS_ASSERT_OK(cluster.Start(i));
  }
  const auto converge_start = SteadyClock::now();
  const absl::Status converged = cluster.WaitForConvergence(absl::Seconds(120));
  const double converge_seconds = SecondsBetween(converge_start, SteadyClock::now());
  EXPECT_TRUE(converged.ok()) << converged;

  // Every operation, in start order.
  std::vector<Op> all;
  std::vector<std::string> anomalies;
  for (auto& w : writers) {
    all.insert(all.end(), w->ops().begin(), w->ops().end());
    anomalies.insert(anomalies.end(), w->anomalies().begin(), w->anomalies().end());
  }
  std::sort(all.begin(), all.end(), [](const Op& a, const Op& b) { return a.start < b.start; });
  ASSERT_FALSE(all.empty());
  for (const std::string& a : anomalies) ADD_FAILURE() << a;

  absl::StatusOr<std::map<std::string, std::string>> final_tree =
      FileHashes(cluster.replica(0).mountpoint(), false);
  ASSERT_TRUE(final_tree.ok()) << final_tree.status();
  harvester.Harvest();
  const std::set<std::string>& conflict_hashes = harvester.hashes();
  size_t conflicts_listed = 0;
  for (int i = 0; i < kReplicas; ++i) {
    absl::StatusOr<ConflictsReply> listed = cluster.Conflicts(i);
    if (listed.ok()) conflicts_listed += static_cast<size_t>(listed->conflicts_size());
  }
  std::string tree_report = "  final tree (replica 0):\n";
  for (const auto& [path, hash] : *final_tree) {
    absl::StrAppend(&tree_report, "    ", path, " ", hash.substr(0, 12), "\n");
  }
  const Verdicts verdicts = CheckWrites(all, *final_tree, conflict_hashes, tree_report);

  std::map<OpKind, int> done, unknown;
  std::map<std::string, int> errors;
  for (const Op& o : all) {
    if (o.outcome == Outcome::kDone) ++done[o.kind];
    if (o.outcome == Outcome::kUnknown) {
      ++unknown[o.kind];
      ++errors[strerrorname_np(o.error) != nullptr ? strerrorname_np(o.error) : "?"];
    }
  }
  std::string error_breakdown;
  for (const auto& [name, count] : errors) absl::StrAppend(&error_breakdown, " ", name, "=", count);
  const int completed_writes = done[OpKind::kWrite] + done[OpKind::kAppend];
  std::printf(
      "[chaos] operations: %zu; completed: %d writes, %d appends, %d renames, %d deletes; "
      "outcome unknown (mount failed under them): %d writes, %d appends, %d renames, %d deletes "
      "(%s)\n",
      all.size(), done[OpKind::kWrite], done[OpKind::kAppend], done[OpKind::kRename],
      done[OpKind::kDelete], unknown[OpKind::kWrite], unknown[OpKind::kAppend],
      unknown[OpKind::kRename], unknown[OpKind::kDelete], error_breakdown.c_str());
  std::printf("[chaos] writes made (close returned 0): %d\n", completed_writes);
  std::printf("[chaos] faults injected: %d (kill+restart %d, stop+cont %d, link cuts %d)\n",
              faults.counts().total(), faults.counts().kills, faults.counts().pauses,
              faults.counts().cuts);
  std::printf("[chaos] seconds to converge: %.1f%s\n", converge_seconds,
              converged.ok() ? "" : " (DID NOT CONVERGE)");
  std::printf(
      "[chaos] completed writes: %d present, %d moved by a rename, %d superseded, %d kept as "
      "conflict copies, %zu lost; final tree %zu files; conflict copies: %zu seen, %zu listed at "
      "the end, at most %zu on one replica\n",
      verdicts.present, verdicts.moved, verdicts.superseded, verdicts.conflict,
      verdicts.lost.size(), final_tree->size(), harvester.copies_seen(), conflicts_listed,
      harvester.peak_per_replica());
  std::fflush(stdout);
  EXPECT_GT(faults.counts().total(), 0);
  EXPECT_GT(completed_writes, 0);
  for (size_t i = 0; i < verdicts.lost.size() && i < 10; ++i) ADD_FAILURE() << verdicts.lost[i];
  if (!verdicts.lost.empty()) {
    std::string events = "faults (seconds since the start of the writers):\n";
    for (const std::string& e : faults.events()) absl::StrAppend(&events, "  ", e, "\n");
    ADD_FAILURE() << events << cluster.Diagnostics(verdicts.lost_paths);
  }
}

}  // namespace
}  // namespace replfs::testing::chaos
