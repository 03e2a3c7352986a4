// Replicas that come and go, and topologies other than the full mesh.
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/cluster.h"

namespace replfs::testing {
namespace {

// Content of `bytes` bytes, distinct per `seed` and per MiB (so blocks do
// not deduplicate by accident).
std::string Data(size_t bytes, int seed) {
  std::string out(bytes, '\0');
  uint64_t x = uint64_t{0x9e3779b97f4a7c15} * (static_cast<uint64_t>(static_cast<unsigned>(seed)) + 1);
  for (size_t i = 0; i < bytes; i += 8) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    for (size_t k = 0; k < 8 && i + k < bytes; ++k) out[i + k] = static_cast<char>(x >> (8 * k));
  }
  return out;
}

void ExpectFile(Cluster& cluster, int i, const std::string& path, const std::string& content) {
  absl::StatusOr<std::string> got = ReadFile(cluster.Mount(i, path));
  ASSERT_TRUE(got.ok()) << "replica " << i << ": " << got.status();
  EXPECT_TRUE(*got == content) << "replica " << i << " " << path << " differs (" << got->size()
                               << " bytes, want " << content.size() << ")";
}

uint64_t EntriesReceived(const Cluster& cluster, int i) {
  absl::StatusOr<uint64_t> n =
      cluster.SumOverPeers(i, [](const PeerStatus& p) { return p.entries_received(); });
  EXPECT_TRUE(n.ok()) << n.status();
  return n.ok() ? *n : 0;
}

uint64_t BlockBytes(const Cluster& cluster, int i) {
  absl::StatusOr<uint64_t> n = cluster.BlockBytesFetched(i);
  EXPECT_TRUE(n.ok()) << n.status();
  return n.ok() ? *n : 0;
}

size_t Occurrences(const std::string& text, const std::string& what) {
  size_t count = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++count;
  return count;
}

constexpr size_t kFileBytes = size_t{3} * 512 * 1024;  // 1.5 MiB: two blocks.

// A receive-only spoke is away while its hub forgets deletions for good
// (the operator released the spoke, --forget-puller). Back, it finds out
// that it is stale and reconciles against the hub's tree: what the hub
// deleted goes, what the spoke changed while away stays, and it is stale
// no more, across restarts too. It never keeps serving a deleted page.
TEST(ReplicationTopologyTest, ASpokeBackAfterItsHubForgotDeletionsReconcilesAgainstIt) {
  Cluster cluster(2, Topology{{}, {0}});
  cluster.AddArguments(0, {"-o", "tombstone_grace=1"});
  REPLFS_ASSERT_OK(cluster.init_status());
  REPLFS_ASSERT_OK(cluster.StartAll());
  REPLFS_ASSERT_OK(WriteFile(cluster.Mount(0, "keep.html"), "kept"));
  REPLFS_ASSERT_OK(WriteFile(cluster.Mount(0, "doomed.html"), "deleted while away"));
  REPLFS_ASSERT_OK(WriteFile(cluster.Mount(0, "edited.html"), "deleted there, edited here"));
  for (const char* dir : {"old", "refilled"}) {
    ASSERT_EQ(::mkdir(cluster.Mount(0, dir).c_str(), 0755), 0);
    REPLFS_ASSERT_OK(WriteFile(cluster.Mount(0, absl::StrCat(dir, "/page.html")), dir));
  }
  REPLFS_ASSERT_OK(cluster.WaitForConvergence());
  absl::StatusOr<ReplicaStatus> spoke = cluster.Status(1);
  ASSERT_TRUE(spoke.ok()) << spoke.status();
  ASSERT_EQ(spoke->peers_size(), 1);
  EXPECT_EQ(spoke->peers(0).missed_purge_seq(), 0u);
  const uint64_t spoke_node = spoke->node();

  REPLFS_ASSERT_OK(cluster.Stop(1));
  for (const char* gone : {"doomed.html", "edited.html", "old/page.html", "refilled/page.html"}) {
    ASSERT_EQ(::unlink(cluster.Mount(0, gone).c_str()), 0) << gone;
  }
  ASSERT_EQ(::rmdir(cluster.Mount(0, "old").c_str()), 0);
  ASSERT_EQ(::rmdir(cluster.Mount(0, "refilled").c_str()), 0);
  REPLFS_ASSERT_OK(AdminForgetPuller(cluster.replica(0), spoke_node));
  ASSERT_TRUE(WaitUntil(
      [&] {
        absl::StatusOr<ReplicaStatus> hub = cluster.Status(0);
        return hub.ok() && hub->tombstones() == 0;
      },
      absl::Seconds(30)))
      << "the hub never purged the tombstones\n" << cluster.Diagnostics();
  // Changed on the spoke while it was away (its start-up scan commits them).
  REPLFS_ASSERT_OK(WriteFile(cluster.Backing(1, "edited.html"), "edited while away"));
  REPLFS_ASSERT_OK(WriteFile(cluster.Backing(1, "refilled/added.html"), "added while away"));
  REPLFS_ASSERT_OK(WriteFile(cluster.Backing(1, "new.html"), "new while away"));

  REPLFS_ASSERT_OK(cluster.Start(1));
  const std::string reconciled = "reconciled against its tree";
  ASSERT_TRUE(WaitUntil([&] { return cluster.replica(1).Log().find(reconciled) != std::string::npos; },
                        absl::Seconds(30)))
      << cluster.replica(1).Log();
  const std::string log = cluster.replica(1).Log();
  EXPECT_NE(log.find("This replica is stale until it has reconciled"), std::string::npos) << log;
  struct stat st;
  for (const char* gone : {"doomed.html", "old/page.html", "old", "refilled/page.html"}) {
    EXPECT_NE(::lstat(cluster.Mount(1, gone).c_str(), &st), 0) << gone << " came back";
  }
  ExpectFile(cluster, 1, "keep.html", "kept");
  ExpectFile(cluster, 1, "edited.html", "edited while away");
  ExpectFile(cluster, 1, "refilled/added.html", "added while away");
  ExpectFile(cluster, 1, "new.html", "new while away");
  absl::StatusOr<ReplicaStatus> back = cluster.Status(1);
  ASSERT_TRUE(back.ok()) << back.status();
  ASSERT_EQ(back->peers_size(), 1);
  EXPECT_EQ(back->peers(0).missed_purge_seq(), 0u);

  // Still in line after a restart, not stale again, and the hub's later
  // changes still arrive. (The log file goes on across restarts.)
  const std::string stale = "This replica is stale";
  const size_t stale_said = Occurrences(cluster.replica(1).Log(), stale);
  REPLFS_ASSERT_OK(cluster.Stop(1));
  REPLFS_ASSERT_OK(cluster.Start(1));
  REPLFS_ASSERT_OK(WriteFile(cluster.Mount(0, "after.html"), "after"));
  EXPECT_TRUE(WaitUntil([&] { return ReadFile(cluster.Mount(1, "after.html")).ok(); },
                        absl::Seconds(20)))
      << cluster.Diagnostics();
  back = cluster.Status(1);
  ASSERT_TRUE(back.ok()) << back.status();
  ASSERT_EQ(back->peers_size(), 1);
  EXPECT_EQ(back->peers(0).missed_purge_seq(), 0u);
  EXPECT_NE(::lstat(cluster.Mount(1, "doomed.html").c_str(), &st), 0);
  EXPECT_EQ(Occurrences(cluster.replica(1).Log(), stale), stale_said)
      << "stale again after the restart:\n" << cluster.replica(1).Log();
}

// C is stopped while A and B keep writing; after restart it pulls only what
// it missed, from its checkpoints, not everything again.
TEST(ReplicationTopologyTest, StoppedReplicaCatchesUpFromItsCheckpoint) {
  Cluster cluster(3);
  REPLFS_ASSERT_OK(cluster.init_status());
  REPLFS_ASSERT_OK(cluster.StartAll());
  constexpr int kOldFiles = 30;
  ASSERT_EQ(::mkdir(cluster.Mount(0, "old").c_str(), 0755), 0);
  for (int f = 0; f < kOldFiles; ++f) {
    REPLFS_ASSERT_OK(WriteFile(cluster.Mount(0, absl::StrCat("old/f", f)), Data(kFileBytes, f)));
  }
  REPLFS_ASSERT_OK(cluster.WaitForConvergence(absl::Seconds(60)));
  const uint64_t first_fetch = BlockBytes(cluster, 2);
  EXPECT_GE(first_fetch, kOldFiles * kFileBytes) << "C got the old files without fetching them?";

  REPLFS_ASSERT_OK(cluster.Stop(2));
  REPLFS_ASSERT_OK(WriteFile(cluster.Mount(0, "new_a1"), Data(kFileBytes, 100)));
  REPLFS_ASSERT_OK(WriteFile(cluster.Mount(0, "new_a2"), Data(kFileBytes, 101)));
  REPLFS_ASSERT_OK(WriteFile(cluster.Mount(1, "new_b"), Data(kFileBytes, 102)));
  ASSERT_EQ(::unlink(cluster.Mount(1, "old/f0").c_str()), 0);
  REPLFS_ASSERT_OK(AppendFile(cluster.Mount(0, "old/f1"), "appended while C was away"));
  REPLFS_ASSERT_OK(cluster.WaitForConvergence(absl::Seconds(30), {0, 1}));

  REPLFS_ASSERT_OK(cluster.Start(2));
  REPLFS_ASSERT_OK(cluster.WaitForConvergence(absl::Seconds(60)));
  ExpectFile(cluster, 2, "new_b", Data(kFileBytes, 102));
  ExpectFile(cluster, 2, "old/f1", Data(kFileBytes, 1) + "appended while C was away");
  struct stat st;
  EXPECT_NE(::lstat(cluster.Mount(2, "old/f0").c_str(), &st), 0);

  // Counters restart with the process: they count this session only. Five
  // paths changed, each is in both peers' logs at most once; replaying
  // from zero would be 2 x (30 files + the directory) at least.
  const uint64_t entries = EntriesReceived(cluster, 2);
  EXPECT_LE(entries, 2u * 5u + 2u) << cluster.Diagnostics();
  // New data: three new files and one changed block (the append touches
  // the last of f1's two blocks); never the 45 MiB of old files again.
  const uint64_t fetched = BlockBytes(cluster, 2);
  EXPECT_LE(fetched, 3 * kFileBytes + size_t{1024} * 1024) << cluster.Diagnostics();
  EXPECT_GE(fetched, 3 * kFileBytes) << cluster.Diagnostics();
}

// A new, empty replica joins a cluster that already holds data.
TEST(ReplicationTopologyTest, NewEmptyReplicaReceivesEverything) {
  Cluster cluster(3);
  REPLFS_ASSERT_OK(cluster.init_status());
  REPLFS_ASSERT_OK(cluster.Start(0));
  REPLFS_ASSERT_OK(cluster.Start(1));
  ASSERT_EQ(::mkdir(cluster.Mount(0, "dir").c_str(), 0750), 0);
  ASSERT_EQ(::mkdir(cluster.Mount(0, "dir/sub").c_str(), 0755), 0);
  // Replica 1 writes into dir/sub too: it must have received it first.
  ASSERT_TRUE(WaitUntil(
      [&] {
        struct stat st;
        return ::stat(cluster.Mount(1, "dir/sub").c_str(), &st) == 0;
      },
      absl::Seconds(30)))
      << cluster.Diagnostics();
  for (int f = 0; f < 10; ++f) {
    REPLFS_ASSERT_OK(WriteFile(cluster.Mount(f % 2, absl::StrCat("dir/sub/f", f)),
                               Data(f == 0 ? kFileBytes : 1000 + static_cast<size_t>(f), f)));
  }
  REPLFS_ASSERT_OK(cluster.WaitForConvergence(absl::Seconds(30), {0, 1}));
  ASSERT_EQ(::symlink("dir/sub/f1", cluster.Mount(1, "link").c_str()), 0);
  REPLFS_ASSERT_OK(WriteFile(cluster.Mount(1, "deleted"), "gone soon"));
  ASSERT_EQ(::unlink(cluster.Mount(1, "deleted").c_str()), 0);
  ASSERT_EQ(::chmod(cluster.Mount(1, "dir/sub/f2").c_str(), 0600), 0);
  REPLFS_ASSERT_OK(cluster.WaitForConvergence(absl::Seconds(30), {0, 1}));

  REPLFS_ASSERT_OK(cluster.Start(2));
  REPLFS_ASSERT_OK(cluster.WaitForConvergence(absl::Seconds(30)));
  for (int f = 0; f < 10; ++f) {
    ExpectFile(cluster, 2, absl::StrCat("dir/sub/f", f),
               Data(f == 0 ? kFileBytes : 1000 + static_cast<size_t>(f), f));
  }
  struct stat st;
  ASSERT_EQ(::lstat(cluster.Mount(2, "dir/sub/f2").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_NE(::lstat(cluster.Mount(2, "deleted").c_str(), &st), 0);
  EXPECT_GE(BlockBytes(cluster, 2), kFileBytes);
}

// A - H - B: the spokes only talk to the hub, yet changes made on either
// spoke reach the other (the hub's change feed carries what it learned).
TEST(ReplicationTopologyTest, HubAndSpokeConverges) {
  constexpr int kA = 0, kHub = 1, kB = 2;
  Cluster cluster(3, HubAndSpoke(3, kHub));
  REPLFS_ASSERT_OK(cluster.init_status());
  REPLFS_ASSERT_OK(cluster.StartAll());
  absl::StatusOr<ReplicaStatus> a_status = cluster.Status(kA);
  ASSERT_TRUE(a_status.ok()) << a_status.status();
  ASSERT_EQ(a_status->peers_size(), 1) << "A must not be linked with B";
  EXPECT_EQ(a_status->peers(0).address(), absl::StrCat("127.0.0.1:", cluster.port(kHub)));

  REPLFS_ASSERT_OK(WriteFile(cluster.Mount(kA, "from_a"), Data(kFileBytes, 1)));
  ASSERT_EQ(::mkdir(cluster.Mount(kA, "dir").c_str(), 0755), 0);
  REPLFS_ASSERT_OK(WriteFile(cluster.Mount(kB, "dir_from_b"), "spoke B"));
  REPLFS_ASSERT_OK(cluster.WaitForConvergence());
  ExpectFile(cluster, kB, "from_a", Data(kFileBytes, 1));
  ExpectFile(cluster, kA, "dir_from_b", "spoke B");

  ASSERT_EQ(::rename(cluster.Mount(kB, "from_a").c_str(), cluster.Mount(kB, "dir/moved").c_str()), 0);
  ASSERT_EQ(::unlink(cluster.Mount(kA, "dir_from_b").c_str()), 0);
  REPLFS_ASSERT_OK(cluster.WaitForConvergence());
  ExpectFile(cluster, kA, "dir/moved", Data(kFileBytes, 1));
  struct stat st;
  EXPECT_NE(::lstat(cluster.Mount(kB, "dir_from_b").c_str(), &st), 0);
  EXPECT_NE(::lstat(cluster.Mount(kA, "from_a").c_str(), &st), 0);
}

// A starts alone (its peers are down), takes writes; B and C start later
// and receive them.
TEST(ReplicationTopologyTest, PeersDownAtStartReceiveLater) {
  Cluster cluster(3);
  REPLFS_ASSERT_OK(cluster.init_status());
  REPLFS_ASSERT_OK(cluster.Start(0));
  REPLFS_ASSERT_OK(WriteFile(cluster.Mount(0, "early"), Data(kFileBytes, 7)));
  ASSERT_EQ(::mkdir(cluster.Mount(0, "d").c_str(), 0755), 0);
  REPLFS_ASSERT_OK(WriteFile(cluster.Mount(0, "d/small"), "small"));
  // Let A's pullers fail a few times against the missing peers.
  ASSERT_TRUE(WaitUntil([&] {
    absl::StatusOr<ReplicaStatus> status = cluster.Status(0);
    if (!status.ok() || status->peers_size() != 2) return false;
    for (const PeerStatus& peer : status->peers()) {
      if (peer.state() != "retrying") return false;
    }
    return true;
  }, absl::Seconds(10))) << cluster.Diagnostics();

  REPLFS_ASSERT_OK(cluster.Start(1));
  REPLFS_ASSERT_OK(cluster.Start(2));
  REPLFS_ASSERT_OK(cluster.WaitForConvergence());
  for (int i = 1; i < 3; ++i) {
    ExpectFile(cluster, i, "early", Data(kFileBytes, 7));
    ExpectFile(cluster, i, "d/small", "small");
  }
  // And A hears from them once its retries reach them.
  REPLFS_ASSERT_OK(WriteFile(cluster.Mount(2, "late"), "from C"));
  REPLFS_ASSERT_OK(cluster.WaitForConvergence());
  ExpectFile(cluster, 0, "late", "from C");
}

// A removes a whole tree while C, concurrently (C is down; the file is put
// straight into its backing directory, which its start-up scan records),
// creates a file deep inside it. By the parents rule the new file survives
// everywhere together with its ancestors, and everything else of the tree
// is gone everywhere.
TEST(ReplicationTopologyTest, FileCreatedInATreeRemovedConcurrentlySurvivesWithItsParents) {
  Cluster cluster(3);
  REPLFS_ASSERT_OK(cluster.init_status());
  REPLFS_ASSERT_OK(cluster.StartAll());
  ASSERT_EQ(::mkdir(cluster.Mount(0, "tree").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir(cluster.Mount(0, "tree/sub").c_str(), 0755), 0);
  REPLFS_ASSERT_OK(WriteFile(cluster.Mount(0, "tree/sub/old"), "old"));
  REPLFS_ASSERT_OK(WriteFile(cluster.Mount(0, "tree/top"), "top"));
  REPLFS_ASSERT_OK(cluster.WaitForConvergence());

  REPLFS_ASSERT_OK(cluster.Stop(2));
  REPLFS_ASSERT_OK(WriteFile(cluster.Backing(2, "tree/sub/new"), "created on C"));
  std::error_code error;
  std::filesystem::remove_all(cluster.Mount(0, "tree"), error);
  ASSERT_FALSE(error) << error.message();
  REPLFS_ASSERT_OK(cluster.WaitForConvergence(absl::Seconds(30), {0, 1}));
  REPLFS_ASSERT_OK(cluster.Start(2));

  REPLFS_ASSERT_OK(cluster.WaitForConvergence());
  for (int i = 0; i < 3; ++i) {
    ExpectFile(cluster, i, "tree/sub/new", "created on C");
    struct stat st;
    EXPECT_NE(::lstat(cluster.Mount(i, "tree/sub/old").c_str(), &st), 0) << i;
    EXPECT_NE(::lstat(cluster.Mount(i, "tree/top").c_str(), &st), 0) << i;
  }
}

// A receive-only spoke (it pulls from its hub; the hub does not pull from
// it) is down for longer than tombstone_grace while files are deleted at
// the origin. The origin purges its tombstones once the hub has them, but
// the hub keeps them for the spoke, which learns of the deletions only
// through it: back, the spoke removes the files instead of serving deleted
// pages for good. Once the spoke has them, the hub purges them too.
TEST(ReplicationTopologyTest, ReceiveOnlySpokeAwayPastTheGraceDoesNotKeepDeletedFiles) {
  constexpr int kOrigin = 0, kHub = 1, kSpoke = 2;
  constexpr int kFiles = 20;
  Cluster cluster(3, Topology{{kHub}, {kOrigin}, {kHub}}, {"-o", "tombstone_grace=1"});
  REPLFS_ASSERT_OK(cluster.init_status());
  REPLFS_ASSERT_OK(cluster.StartAll());
  ASSERT_EQ(::mkdir(cluster.Mount(kOrigin, "site").c_str(), 0755), 0);
  for (int f = 0; f < kFiles; ++f) {
    REPLFS_ASSERT_OK(WriteFile(cluster.Mount(kOrigin, absl::StrCat("site/page", f)), "page"));
  }
  REPLFS_ASSERT_OK(cluster.WaitForConvergence());
  REPLFS_ASSERT_OK(cluster.Stop(kSpoke));

  for (int f = 0; f < kFiles; ++f) {
    ASSERT_EQ(::unlink(cluster.Mount(kOrigin, absl::StrCat("site/page", f)).c_str()), 0);
  }
  REPLFS_ASSERT_OK(cluster.WaitForConvergence());  // Origin and hub.
  auto tombstones = [&](int i) -> uint64_t {
    absl::StatusOr<ReplicaStatus> status = cluster.Status(i);
    EXPECT_TRUE(status.ok()) << status.status();
    return status.ok() ? status->tombstones() : 0;
  };
  // Past the grace: the origin's only puller (the hub) has them.
  ASSERT_TRUE(WaitUntil([&] { return tombstones(kOrigin) == 0; }, absl::Seconds(20)))
      << cluster.Diagnostics();
  // The hub has had the same grace and three more purge rounds (one a
  // second), and still keeps them for the spoke.
  ::usleep(3'000'000);
  ASSERT_GE(tombstones(kHub), static_cast<uint64_t>(kFiles)) << cluster.Diagnostics();

  REPLFS_ASSERT_OK(cluster.Start(kSpoke));
  REPLFS_ASSERT_OK(cluster.WaitForConvergence());
  struct stat st;
  for (int f = 0; f < kFiles; ++f) {
    EXPECT_NE(::lstat(cluster.Mount(kSpoke, absl::StrCat("site/page", f)).c_str(), &st), 0)
        << "page" << f << " came back on the spoke";
  }
  // The spoke acknowledges (every 2 s at most); then nothing holds them.
  EXPECT_TRUE(WaitUntil([&] { return tombstones(kHub) == 0; }, absl::Seconds(20)))
      << cluster.Diagnostics();
}

}  // namespace
}  // namespace replfs::testing
