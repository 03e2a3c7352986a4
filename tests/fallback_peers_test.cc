// Fallback peers: a spoke whose hub is down keeps receiving from the
// centre, and goes back to its hub alone once the hub is back.
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/cluster.h"

namespace replfs::testing {
namespace {

constexpr int kCentre = 0, kHub = 1, kSpoke = 2;
constexpr int kOutageFiles = 10;
constexpr size_t kOutageFileBytes = size_t{128} * 1024;

// The spoke's status entry for its hub (configured) or its fallback.
absl::StatusOr<PeerStatus> SpokePeer(const Cluster& cluster, bool fallback) {
  absl::StatusOr<ReplicaStatus> status = cluster.Status(kSpoke);
  if (!status.ok()) return status.status();
  for (const PeerStatus& peer : status->peers()) {
    if (peer.fallback() == fallback) return peer;
  }
  return absl::NotFoundError(fallback ? "no fallback peer listed" : "no peer listed");
}

bool FallbackInUse(const Cluster& cluster) {
  absl::StatusOr<PeerStatus> fallback = SpokePeer(cluster, /*fallback=*/true);
  return fallback.ok() && fallback->in_use() && fallback->state() == "connected";
}

bool FallbackStandingBy(const Cluster& cluster) {
  absl::StatusOr<PeerStatus> fallback = SpokePeer(cluster, /*fallback=*/true);
  return fallback.ok() && !fallback->in_use() && fallback->state() == "standby";
}

// Whether the centre holds tombstones for `node` (it pulls or pulled).
bool CentreListsPuller(const Cluster& cluster, uint64_t node) {
  absl::StatusOr<ReplicaStatus> status = cluster.Status(kCentre);
  if (!status.ok()) return false;
  for (const PullingNode& puller : status->pullers()) {
    if (puller.node() == node) return true;
  }
  return false;
}

TEST(FallbackPeersTest, SpokePullsFromTheCentreWhileItsHubIsDownThenFromItsHubAlone) {
  // Centre and hub pull from each other; the spoke pulls from the hub, and
  // from the centre only while the hub is silent for 1 s.
  Cluster cluster(3, Topology{{kHub}, {kCentre, kSpoke}, {kHub}});
  REPLFS_ASSERT_OK(cluster.init_status());
  cluster.AddArguments(kSpoke, {"-o", absl::StrCat("fallback_peers=127.0.0.1:",
                                                   cluster.port(kCentre), ",fallback_after=1")});
  REPLFS_ASSERT_OK(cluster.StartAll());
  REPLFS_ASSERT_OK(WriteFile(cluster.Mount(kCentre, "before.html"), "before"));
  REPLFS_ASSERT_OK(cluster.WaitForConvergence());
  EXPECT_TRUE(FallbackStandingBy(cluster)) << cluster.Diagnostics();
  absl::StatusOr<ReplicaStatus> spoke = cluster.Status(kSpoke);
  ASSERT_TRUE(spoke.ok()) << spoke.status();
  const uint64_t spoke_node = spoke->node();
  EXPECT_FALSE(CentreListsPuller(cluster, spoke_node));

  REPLFS_ASSERT_OK(cluster.Stop(kHub));
  for (int f = 0; f < kOutageFiles; ++f) {
    REPLFS_ASSERT_OK(WriteFile(cluster.Mount(kCentre, absl::StrCat("outage", f, ".html")),
                               std::string(kOutageFileBytes, static_cast<char>('a' + f))));
  }
  REPLFS_ASSERT_OK(WriteFile(cluster.Mount(kSpoke, "from-spoke.html"), "written while cut"));
  // The centre's changes reach the spoke through its fallback.
  ASSERT_TRUE(WaitUntil(
      [&] {
        for (int f = 0; f < kOutageFiles; ++f) {
          if (ReadWholeFile(cluster.Mount(kSpoke, absl::StrCat("outage", f, ".html"))).size() !=
              kOutageFileBytes) {
            return false;
          }
        }
        return true;
      },
      absl::Seconds(30)))
      << cluster.Diagnostics();
  EXPECT_TRUE(FallbackInUse(cluster)) << cluster.Diagnostics();
  // Pulling, the spoke is one the centre holds tombstones for.
  EXPECT_TRUE(CentreListsPuller(cluster, spoke_node)) << cluster.Diagnostics();
  absl::StatusOr<PeerStatus> hub_before = SpokePeer(cluster, /*fallback=*/false);
  ASSERT_TRUE(hub_before.ok()) << hub_before.status();

  REPLFS_ASSERT_OK(cluster.Start(kHub));
  // Back and caught up, the hub alone serves the spoke: the fallback is
  // dropped and told to stop holding tombstones for it.
  ASSERT_TRUE(WaitUntil([&] { return FallbackStandingBy(cluster); }, absl::Seconds(30)))
      << cluster.Diagnostics();
  ASSERT_TRUE(WaitUntil([&] { return !CentreListsPuller(cluster, spoke_node); },
                        absl::Seconds(30)))
      << cluster.Diagnostics();
  // The spoke's write of the outage reaches the centre through the hub.
  REPLFS_ASSERT_OK(cluster.WaitForConvergence());
  // What arrived through the fallback is not fetched again from the hub.
  absl::StatusOr<PeerStatus> hub_after = SpokePeer(cluster, /*fallback=*/false);
  ASSERT_TRUE(hub_after.ok()) << hub_after.status();
  EXPECT_LT(hub_after->block_bytes_fetched() - hub_before->block_bytes_fetched(),
            kOutageFileBytes)
      << cluster.Diagnostics();

  absl::StatusOr<PeerStatus> fallback_idle = SpokePeer(cluster, /*fallback=*/true);
  ASSERT_TRUE(fallback_idle.ok()) << fallback_idle.status();
  REPLFS_ASSERT_OK(WriteFile(cluster.Mount(kCentre, "after.html"), "after"));
  REPLFS_ASSERT_OK(cluster.WaitForConvergence());
  absl::StatusOr<PeerStatus> fallback_later = SpokePeer(cluster, /*fallback=*/true);
  ASSERT_TRUE(fallback_later.ok()) << fallback_later.status();
  EXPECT_EQ(fallback_later->entries_received(), fallback_idle->entries_received())
      << "the fallback is still pulled from";
  EXPECT_TRUE(FallbackStandingBy(cluster)) << cluster.Diagnostics();
}

}  // namespace
}  // namespace replfs::testing
