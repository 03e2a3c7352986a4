// Ignore patterns (-o ignore=, -o ignore_file=) on real replicas: matching
// paths stay local to the replica that ignores them, in both directions and
// across restarts with changed patterns, and a pair whose patterns differ
// says so in its status.
#include <sys/stat.h>
#include <unistd.h>

#include <initializer_list>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/cluster.h"

namespace replfs::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr int kA = 0;
constexpr int kB = 1;
// Every wait of these tests: ample on loopback, also after a restart (the
// peer's reconnect backoff is still short then).
constexpr absl::Duration kWait = absl::Seconds(20);
constexpr char kOtherPatterns[] = "has other ignore patterns";

// "-o ignore=P" for each pattern, in order.
std::vector<std::string> Ignore(std::initializer_list<const char*> patterns) {
  std::vector<std::string> args;
  for (const char* pattern : patterns) {
    args.insert(args.end(), {"-o", absl::StrCat("ignore=", pattern)});
  }
  return args;
}

// Two replicas pulling from each other, each with its own extra options.
absl::Status StartPair(Cluster& cluster, const std::vector<std::string>& a_args,
                       const std::vector<std::string>& b_args) {
  if (!cluster.init_status().ok()) return cluster.init_status();
  cluster.AddArguments(kA, a_args);
  cluster.AddArguments(kB, b_args);
  return cluster.StartAll();
}

std::vector<std::string> Patterns(const ReplicaStatus& status) {
  return {status.ignore_patterns().begin(), status.ignore_patterns().end()};
}

bool WarnsOfOtherPatterns(const ReplicaStatus& status) {
  for (const std::string& warning : status.warnings()) {
    if (warning.find(kOtherPatterns) != std::string::npos) return true;
  }
  return false;
}

// The PeerStatus of the peer listening on `port`, or null.
const PeerStatus* PeerOn(const ReplicaStatus& status, int port) {
  for (const PeerStatus& peer : status.peers()) {
    if (peer.address() == absl::StrCat("127.0.0.1:", port)) return &peer;
  }
  return nullptr;
}

// B has no patterns, so anything of A's that reached it would be applied:
// absence on B proves that A never sent it.
TEST(IgnoreTest, IgnoredPathsStayLocal) {
  Cluster cluster(2);
  REPLFS_ASSERT_OK(StartPair(cluster, Ignore({"*.tmp", "cache/"}), {}));
  REPLFS_ASSERT_OK(WriteFile(cluster.Mount(kA, "page.html"), "<p>page</p>"));
  REPLFS_ASSERT_OK(WriteFile(cluster.Mount(kA, "draft.tmp"), "draft"));
  ASSERT_EQ(::mkdir(cluster.Mount(kA, "cache").c_str(), 0755), 0);
  REPLFS_ASSERT_OK(WriteFile(cluster.Mount(kA, "cache/x.bin"), "x"));
  ASSERT_EQ(::mkdir(cluster.Mount(kA, "sub").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir(cluster.Mount(kA, "sub/cache").c_str(), 0755), 0);
  REPLFS_ASSERT_OK(WriteFile(cluster.Mount(kA, "sub/cache/y"), "y"));
  REPLFS_ASSERT_OK(WriteFile(cluster.Mount(kA, "sub/keep.txt"), "kept"));
  // Changes are pulled in log order: once this has arrived, every entry
  // A recorded before it has too.
  REPLFS_ASSERT_OK(WriteFile(cluster.Mount(kA, "last.txt"), "last"));

  ASSERT_TRUE(cluster.WaitForContent(kB, "page.html", "<p>page</p>")) << cluster.Diagnostics();
  ASSERT_TRUE(cluster.WaitForContent(kB, "sub/keep.txt", "kept")) << cluster.Diagnostics();
  ASSERT_TRUE(cluster.WaitForContent(kB, "last.txt", "last")) << cluster.Diagnostics();
  for (const char* local : {"draft.tmp", "cache", "sub/cache"}) {
    EXPECT_FALSE(cluster.Exists(kB, local)) << local << " reached B";
  }
  // Locally they are ordinary files.
  EXPECT_EQ(cluster.Content(kA, "draft.tmp"), "draft");
  EXPECT_EQ(cluster.Content(kA, "cache/x.bin"), "x");
  EXPECT_EQ(cluster.Content(kA, "sub/cache/y"), "y");

  // Renamed out of the ignored set, they replicate from then on; renamed
  // into it, a replicated file is deleted on the peers.
  ASSERT_EQ(::rename(cluster.Mount(kA, "draft.tmp").c_str(),
                     cluster.Mount(kA, "published.html").c_str()), 0);
  ASSERT_EQ(::rename(cluster.Mount(kA, "cache").c_str(), cluster.Mount(kA, "assets").c_str()),
            0);
  ASSERT_EQ(::rename(cluster.Mount(kA, "page.html").c_str(),
                     cluster.Mount(kA, "page.html.tmp").c_str()), 0);
  ASSERT_TRUE(cluster.WaitForContent(kB, "published.html", "draft")) << cluster.Diagnostics();
  ASSERT_TRUE(cluster.WaitForContent(kB, "assets/x.bin", "x")) << cluster.Diagnostics();
  EXPECT_TRUE(WaitUntil([&] { return !cluster.Exists(kB, "page.html"); }, kWait))
      << cluster.Diagnostics();
  EXPECT_FALSE(cluster.Exists(kB, "page.html.tmp"));
}

// What a peer sends for a path B ignores is not applied: B's own files at
// those paths keep their content, and a deletion there leaves them alone.
TEST(IgnoreTest, OwnIgnoredFilesUntouchedByPeers) {
  Cluster cluster(2);
  REPLFS_ASSERT_OK(StartPair(cluster, {}, Ignore({"*.tmp", "local/"})));
  REPLFS_ASSERT_OK(WriteFile(cluster.Mount(kB, "notes.tmp"), "b"));
  ASSERT_EQ(::mkdir(cluster.Mount(kB, "local").c_str(), 0755), 0);
  REPLFS_ASSERT_OK(WriteFile(cluster.Mount(kB, "local/state"), "b"));

  REPLFS_ASSERT_OK(WriteFile(cluster.Mount(kA, "notes.tmp"), "a"));
  ASSERT_EQ(::mkdir(cluster.Mount(kA, "local").c_str(), 0755), 0);
  REPLFS_ASSERT_OK(WriteFile(cluster.Mount(kA, "local/state"), "a"));
  REPLFS_ASSERT_OK(WriteFile(cluster.Mount(kA, "done.txt"), "done"));
  ASSERT_TRUE(cluster.WaitForContent(kB, "done.txt", "done")) << cluster.Diagnostics();
  EXPECT_EQ(cluster.Content(kB, "notes.tmp"), "b");
  EXPECT_EQ(cluster.Content(kB, "local/state"), "b");
  // B never sent its own either.
  EXPECT_EQ(cluster.Content(kA, "notes.tmp"), "a");
  EXPECT_EQ(cluster.Content(kA, "local/state"), "a");

  ASSERT_EQ(::unlink(cluster.Mount(kA, "notes.tmp").c_str()), 0);
  REPLFS_ASSERT_OK(WriteFile(cluster.Mount(kA, "done2.txt"), "done2"));
  ASSERT_TRUE(cluster.WaitForContent(kB, "done2.txt", "done2")) << cluster.Diagnostics();
  EXPECT_EQ(cluster.Content(kB, "notes.tmp"), "b");
  EXPECT_EQ(cluster.Content(kB, "local/state"), "b");
  // Not applied means no conflict either: nothing was set against B's files.
  absl::StatusOr<ConflictsReply> conflicts = cluster.Conflicts(kB);
  ASSERT_TRUE(conflicts.ok()) << conflicts.status();
  EXPECT_EQ(conflicts->conflicts_size(), 0) << conflicts->ShortDebugString();
}

// Changing the patterns deletes nothing: a newly ignored path keeps its last
// replicated state everywhere, a newly un-ignored one is committed by the
// next start-up scan and then replicates.
TEST(IgnoreTest, PatternsChangedAcrossRestart) {
  Cluster cluster(2);
  REPLFS_ASSERT_OK(StartPair(cluster, {}, {}));
  REPLFS_ASSERT_OK(WriteFile(cluster.Mount(kA, "a.log"), "log v1"));
  REPLFS_ASSERT_OK(WriteFile(cluster.Mount(kA, "b.txt"), "text v1"));
  ASSERT_TRUE(cluster.WaitForContent(kB, "a.log", "log v1")) << cluster.Diagnostics();
  ASSERT_TRUE(cluster.WaitForContent(kB, "b.txt", "text v1")) << cluster.Diagnostics();

  REPLFS_ASSERT_OK(cluster.Stop(kA));
  REPLFS_ASSERT_OK(cluster.SetArguments(kA, Ignore({"*.log"})));
  REPLFS_ASSERT_OK(cluster.Start(kA));
  EXPECT_EQ(cluster.Content(kA, "a.log"), "log v1") << "the restart itself removed a.log";

  // Now ignored on A: its deletion stays local, the edit of b.txt does not.
  ASSERT_EQ(::unlink(cluster.Mount(kA, "a.log").c_str()), 0);
  REPLFS_ASSERT_OK(WriteFile(cluster.Mount(kA, "b.txt"), "text v2"));
  REPLFS_ASSERT_OK(WriteFile(cluster.Mount(kA, "marker1"), "1"));
  ASSERT_TRUE(cluster.WaitForContent(kB, "b.txt", "text v2")) << cluster.Diagnostics();
  ASSERT_TRUE(cluster.WaitForContent(kB, "marker1", "1")) << cluster.Diagnostics();
  EXPECT_EQ(cluster.Content(kB, "a.log"), "log v1") << "A's deletion of an ignored path was sent";

  // Made while ignored: stays on A.
  REPLFS_ASSERT_OK(WriteFile(cluster.Mount(kA, "new.log"), "new"));
  REPLFS_ASSERT_OK(WriteFile(cluster.Mount(kA, "marker2"), "2"));
  ASSERT_TRUE(cluster.WaitForContent(kB, "marker2", "2")) << cluster.Diagnostics();
  EXPECT_FALSE(cluster.Exists(kB, "new.log")) << "new.log reached B while ignored on A";

  // Un-ignored: A's start-up scan commits what *.log now looks like on A,
  // new.log and the absence of a.log, and both reach B.
  REPLFS_ASSERT_OK(cluster.Stop(kA));
  REPLFS_ASSERT_OK(cluster.SetArguments(kA, {}));
  REPLFS_ASSERT_OK(cluster.Start(kA));
  EXPECT_EQ(cluster.Content(kA, "new.log"), "new");
  ASSERT_TRUE(cluster.WaitForContent(kB, "new.log", "new")) << cluster.Diagnostics();
  EXPECT_TRUE(WaitUntil([&] { return !cluster.Exists(kB, "a.log"); }, kWait))
      << "A's scan did not commit the deletion of a.log\n" << cluster.Diagnostics();
}

// A pair whose pattern sets differ warns on both sides and marks the peer;
// a pair with the same set does neither.
TEST(IgnoreTest, DifferentPatternsWarn) {
  {
    Cluster cluster(2);
    REPLFS_ASSERT_OK(StartPair(cluster, Ignore({"*.tmp"}), {}));
    absl::StatusOr<ReplicaStatus> a, b;
    const bool warned = WaitUntil(
        [&] {
          a = cluster.Status(kA);
          b = cluster.Status(kB);
          if (!a.ok() || !b.ok()) return false;
          const PeerStatus* b_at_a = PeerOn(*a, cluster.port(kB));
          const PeerStatus* a_at_b = PeerOn(*b, cluster.port(kA));
          return WarnsOfOtherPatterns(*a) && WarnsOfOtherPatterns(*b) && b_at_a != nullptr &&
                 b_at_a->ignore_patterns_differ() && a_at_b != nullptr &&
                 a_at_b->ignore_patterns_differ();
        },
        kWait, absl::Milliseconds(100));
    ASSERT_TRUE(a.ok()) << a.status();
    ASSERT_TRUE(b.ok()) << b.status();
    EXPECT_TRUE(warned) << "A: " << a->ShortDebugString() << "\nB: " << b->ShortDebugString();
    EXPECT_THAT(Patterns(*a), ElementsAre("*.tmp"));
    EXPECT_THAT(Patterns(*b), IsEmpty());
  }

  Cluster cluster(2);
  REPLFS_ASSERT_OK(StartPair(cluster, Ignore({"*.tmp"}), Ignore({"*.tmp"})));
  // A file each way: both have pulled from the other, so each has had the
  // other's hello.
  REPLFS_ASSERT_OK(WriteFile(cluster.Mount(kA, "from-a"), "a"));
  REPLFS_ASSERT_OK(WriteFile(cluster.Mount(kB, "from-b"), "b"));
  ASSERT_TRUE(cluster.WaitForContent(kB, "from-a", "a")) << cluster.Diagnostics();
  ASSERT_TRUE(cluster.WaitForContent(kA, "from-b", "b")) << cluster.Diagnostics();
  for (int i : {kA, kB}) {
    absl::StatusOr<ReplicaStatus> status = cluster.Status(i);
    ASSERT_TRUE(status.ok()) << status.status();
    EXPECT_FALSE(WarnsOfOtherPatterns(*status)) << status->ShortDebugString();
    EXPECT_THAT(Patterns(*status), ElementsAre("*.tmp"));
    const PeerStatus* peer = PeerOn(*status, cluster.port(i == kA ? kB : kA));
    ASSERT_NE(peer, nullptr) << status->ShortDebugString();
    EXPECT_FALSE(peer->ignore_patterns_differ()) << status->ShortDebugString();
  }
}

// A .gitignore-style file: comments skipped, a later "!" re-includes.
TEST(IgnoreTest, IgnoreFileOption) {
  TempDir files("replfs-ignore-test");
  const std::string ignores = absl::StrCat(files.path(), "/ignores");
  REPLFS_ASSERT_OK(WriteFile(ignores, "# comment\n*.bak\n!keep.bak\n"));
  Cluster cluster(2);
  REPLFS_ASSERT_OK(StartPair(cluster, {"-o", absl::StrCat("ignore_file=", ignores)}, {}));
  REPLFS_ASSERT_OK(WriteFile(cluster.Mount(kA, "x.bak"), "x"));
  REPLFS_ASSERT_OK(WriteFile(cluster.Mount(kA, "keep.bak"), "keep"));
  REPLFS_ASSERT_OK(WriteFile(cluster.Mount(kA, "marker"), "m"));
  ASSERT_TRUE(cluster.WaitForContent(kB, "keep.bak", "keep")) << cluster.Diagnostics();
  ASSERT_TRUE(cluster.WaitForContent(kB, "marker", "m")) << cluster.Diagnostics();
  EXPECT_FALSE(cluster.Exists(kB, "x.bak")) << "x.bak reached B";
  EXPECT_EQ(cluster.Content(kA, "x.bak"), "x");
  absl::StatusOr<ReplicaStatus> status = cluster.Status(kA);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_THAT(Patterns(*status), ElementsAre("*.bak", "!keep.bak"));
}

}  // namespace
}  // namespace replfs::testing
