// -o max_rate on real replicas: what a replica takes from a peer (its feed
// and the blocks of its files) holds to the cap, within 20 %, and the cap
// shows in the status.
#include <cstdint>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "tests/cluster.h"

namespace replfs::testing {
namespace {

constexpr int kA = 0;
constexpr int kB = 1;
constexpr uint64_t kMiB = 1 << 20;

TEST(MaxRateTest, ACappedReplicaTakesAPeersFileAtTheCap) {
  Cluster cluster(2);
  REPLFS_ASSERT_OK(cluster.init_status());
  cluster.AddArguments(kB, {"-o", "max_rate=2M"});
  REPLFS_ASSERT_OK(cluster.StartAll());
  // Both connected and idle first: the transfer below is all that flows.
  REPLFS_ASSERT_OK(WriteFile(cluster.Mount(kA, "ready"), "ready"));
  ASSERT_TRUE(WaitUntil([&] { return ReadFile(cluster.Mount(kB, "ready")).ok(); },
                        absl::Seconds(20)))
      << cluster.Diagnostics();

  // Long enough (8 s) that what is not the cap (the first entry's way,
  // the last block's apply) stays well inside the 20 %.
  const std::string data = IncompressibleBytes(16 * kMiB, 42);
  const absl::Time written = absl::Now();
  REPLFS_ASSERT_OK(WriteFile(cluster.Mount(kA, "big.bin"), data));
  ASSERT_TRUE(WaitUntil(
      [&] {
        absl::StatusOr<std::string> got = ReadFile(cluster.Mount(kB, "big.bin"));
        return got.ok() && got->size() == data.size() && *got == data;
      },
      absl::Seconds(40), absl::Milliseconds(50)))
      << cluster.Diagnostics();
  const double seconds = absl::ToDoubleSeconds(absl::Now() - written);
  // The cap's quarter second of burst lets the first 0.5 MiB through at
  // once: 15.5 MiB at 2 MiB/s is 7.75 s.
  const double rate_mib = 16.0 / seconds;
  EXPECT_LE(rate_mib, 2.0 * 1.2) << seconds << " s";
  EXPECT_GE(rate_mib, 2.0 * 0.8) << seconds << " s";

  absl::StatusOr<ReplicaStatus> status = cluster.Status(kB);
  ASSERT_TRUE(status.ok()) << status.status();
  ASSERT_EQ(status->peers_size(), 1);
  EXPECT_EQ(status->peers(0).max_rate(), 2 * kMiB);
  EXPECT_GE(status->peers(0).bytes_received(), 16 * kMiB);
  // The uncapped side is not held.
  absl::StatusOr<ReplicaStatus> uncapped = cluster.Status(kA);
  ASSERT_TRUE(uncapped.ok()) << uncapped.status();
  ASSERT_EQ(uncapped->peers_size(), 1);
  EXPECT_EQ(uncapped->peers(0).max_rate(), 0u);
}

}  // namespace
}  // namespace replfs::testing
