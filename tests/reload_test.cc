// Live reload on real replicas: SIGHUP (what `systemctl reload` sends) makes
// a mounted replica read its config file (-o config=) again. Peers and
// ignore patterns change without a remount; settings that only a restart
// can change, and a file that does not parse, are refused with a log line
// while the replica goes on with what it had. Version retention
// (keep_versions, versions_max) changes too. The same process serves the
// same mount throughout, and a file held open across the reloads still
// reads.
//
// The replica under test (A) gets its peers from its config file only:
// the cluster's topology gives it none, so no -o peers= on its command line
// (which would win over the file's).
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "base/unique_fd.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/cluster.h"

namespace replfs::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr int kA = 0;
constexpr int kB = 1;
constexpr int kC = 2;
// Every wait of these tests: ample on loopback.
constexpr absl::Duration kWait = absl::Seconds(20);
constexpr char kFixed[] = "cannot change while mounted";
constexpr char kRefused[] = "reload refused";
constexpr char kReloaded[] = "reload:";
// The size of each file the version tests delete.
constexpr uint64_t kVersionSize = uint64_t{64} << 10;

std::string Address(const Cluster& cluster, int i) {
  return absl::StrCat("127.0.0.1:", cluster.port(i));
}

// A config file naming `peers` (none: no peers line), then `more` lines.
std::string Config(const Cluster& cluster, std::initializer_list<int> peers,
                   std::initializer_list<const char*> more = {}) {
  std::string text = "# written by reload_test\n";
  std::vector<std::string> addresses;
  for (int peer : peers) addresses.push_back(Address(cluster, peer));
  if (!addresses.empty()) absl::StrAppend(&text, "peers = ", absl::StrJoin(addresses, ";"), "\n");
  for (const char* line : more) absl::StrAppend(&text, line, "\n");
  return text;
}

// The PeerStatus of the peer at `address`, or null.
const PeerStatus* PeerAt(const ReplicaStatus& status, const std::string& address) {
  for (const PeerStatus& peer : status.peers()) {
    if (peer.address() == address) return &peer;
  }
  return nullptr;
}

std::vector<std::string> PeerAddresses(const ReplicaStatus& status) {
  std::vector<std::string> out;
  for (const PeerStatus& peer : status.peers()) out.push_back(peer.address());
  return out;
}

std::vector<std::string> Patterns(const ReplicaStatus& status) {
  return {status.ignore_patterns().begin(), status.ignore_patterns().end()};
}

// Waits until replica i's status satisfies `done`; `last` keeps the last
// status read (for the failure message).
bool WaitForStatus(const Cluster& cluster, int i,
                   const std::function<bool(const ReplicaStatus&)>& done,
                   absl::StatusOr<ReplicaStatus>* last) {
  return WaitUntil(
      [&] {
        *last = cluster.Status(i);
        return last->ok() && done(**last);
      },
      kWait, absl::Milliseconds(100));
}

std::string Describe(const absl::StatusOr<ReplicaStatus>& status) {
  return status.ok() ? status->ShortDebugString() : status.status().ToString();
}

// Whether `pid` is a live process (not gone, not a zombie), without reaping
// it: the ReplicaProcess waits for its own child.
bool Alive(pid_t pid) {
  const std::string stat = ReadWholeFile(absl::StrCat("/proc/", pid, "/stat"));
  const size_t paren = stat.rfind(')');
  if (paren == std::string::npos || paren + 2 >= stat.size()) return false;
  const char state = stat[paren + 2];
  return state != 'Z' && state != 'X' && state != 'x';
}

// The first line of replica i's log past byte `from` holding every one of
// `needles`, waited for (bounded); nullopt if none came.
std::optional<std::string> WaitForLogLine(Cluster& cluster, int i, size_t from,
                                          std::initializer_list<const char*> needles) {
  std::optional<std::string> found;
  WaitUntil(
      [&] {
        const std::string log = cluster.replica(i).Log();
        if (log.size() <= from) return false;
        for (absl::string_view line : absl::StrSplit(log.substr(from), '\n')) {
          bool all = true;
          for (const char* needle : needles) {
            if (line.find(needle) == absl::string_view::npos) all = false;
          }
          if (all) {
            found = std::string(line);
            return true;
          }
        }
        return false;
      },
      kWait, absl::Milliseconds(100));
  return found;
}

// Replica i's log past byte `from` (for failure messages).
std::string LogSince(Cluster& cluster, int i, size_t from) {
  const std::string log = cluster.replica(i).Log();
  return log.size() <= from ? "" : log.substr(from);
}

// Replica kA reads its settings from a config file; a reload is done as
// an operator does it: the file rewritten, then SIGHUP to the daemon.
class ReloadTest : public ::testing::Test {
 protected:
  // Starts `cluster` with replica kA reading its settings from a config
  // file holding `config`.
  void StartWithConfig(Cluster& cluster, const std::string& config) {
    REPLFS_ASSERT_OK(cluster.init_status());
    config_path_ = absl::StrCat(files_.path(), "/replica-a.conf");
    REPLFS_ASSERT_OK(WriteFile(config_path_, config));
    cluster.AddArguments(kA, {"-o", absl::StrCat("config=", config_path_)});
    REPLFS_ASSERT_OK(cluster.StartAll());
    pid_ = cluster.replica(kA).pid();
    ASSERT_GT(pid_, 0);
  }

  // Rewrites A's config file and signals A; *log_offset receives where A's
  // log stood just before.
  void Reload(Cluster& cluster, const std::string& config, size_t* log_offset) {
    REPLFS_ASSERT_OK(WriteFile(config_path_, config));
    *log_offset = cluster.replica(kA).Log().size();
    ASSERT_EQ(cluster.replica(kA).pid(), pid_);
    ASSERT_EQ(::kill(pid_, SIGHUP), 0) << "kill(" << pid_ << ", SIGHUP): errno " << errno;
  }

  // A's daemon is the one started, alive, and its mount still up.
  void ExpectSameReplica(Cluster& cluster) {
    EXPECT_EQ(cluster.replica(kA).pid(), pid_);
    EXPECT_TRUE(Alive(pid_)) << "replica A (pid " << pid_ << ") is gone\n"
                             << cluster.replica(kA).Log();
    EXPECT_TRUE(IsMountpoint(cluster.Mount(kA))) << "A's mount is gone";
  }

  // `name` written on `from` arrives on `to`.
  void ExpectReplicated(Cluster& cluster, int from, int to, const std::string& name) {
    const std::string content = absl::StrCat(name, " from ", from);
    REPLFS_ASSERT_OK(WriteFile(cluster.Mount(from, name), content));
    EXPECT_TRUE(cluster.WaitForContent(to, name, content))
        << name << " did not reach replica " << to << "\n" << cluster.Diagnostics();
  }

  // Writes `name` (kVersionSize bytes) on A, waits until B has it, deletes
  // it on A and waits until B no longer has it: A committed the deletion,
  // and so recorded whatever it kept of the file (the commit records the
  // kept version first).
  void DeleteReplicatedFile(Cluster& cluster, const std::string& name, uint64_t seed) {
    const std::string content = IncompressibleBytes(kVersionSize, seed);
    REPLFS_ASSERT_OK(WriteFile(cluster.Mount(kA, name), content));
    ASSERT_TRUE(cluster.WaitForContent(kB, name, content))
        << name << " did not reach B\n" << cluster.Diagnostics();
    ASSERT_EQ(::unlink(cluster.Mount(kA, name).c_str()), 0)
        << "unlink " << name << ": errno " << errno;
    ASSERT_TRUE(WaitUntil([&] { return !cluster.Exists(kB, name); }, kWait))
        << "the deletion of " << name << " did not reach B\n" << cluster.Diagnostics();
  }

  // Declared first: the config file outlives the cluster.
  TempDir files_{"replfs-reload-test"};
  std::string config_path_;
  pid_t pid_ = -1;
};

// B and C pull from A only, A from whatever its config file says: what C
// writes reaches A only while A's file names C.
TEST_F(ReloadTest, PeersAddedAndRemovedByReload) {
  Cluster cluster(3, Topology{{}, {kA}, {kA}});
  ASSERT_NO_FATAL_FAILURE(StartWithConfig(cluster, Config(cluster, {kB})));

  // A file held open for reading on A across every reload.
  const std::string held_content = "held open across reloads";
  REPLFS_ASSERT_OK(WriteFile(cluster.Mount(kA, "held.txt"), held_content));
  UniqueFd held(::open(cluster.Mount(kA, "held.txt").c_str(), O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(held.valid()) << "open held.txt: errno " << errno;
  auto held_reads = [&] {
    std::string buffer(held_content.size() + 16, '\0');
    const ssize_t n = ::pread(held.get(), buffer.data(), buffer.size(), 0);
    if (n < 0) return absl::StrCat("<pread: errno ", errno, ">");
    buffer.resize(static_cast<size_t>(n));
    return buffer;
  };

  // C's file cannot reach A yet; B's marker shows A is pulling.
  REPLFS_ASSERT_OK(WriteFile(cluster.Mount(kC, "c1"), "c1 from C"));
  ASSERT_NO_FATAL_FAILURE(ExpectReplicated(cluster, kB, kA, "marker1"));
  EXPECT_FALSE(cluster.Exists(kA, "c1")) << "c1 reached A before A pulled from C";
  absl::StatusOr<ReplicaStatus> status = cluster.Status(kA);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_THAT(PeerAddresses(*status), ElementsAre(Address(cluster, kB)));

  // C added: A pulls c1 from it.
  size_t offset = 0;
  ASSERT_NO_FATAL_FAILURE(Reload(cluster, Config(cluster, {kB, kC}), &offset));
  EXPECT_TRUE(WaitForStatus(
      cluster, kA,
      [&](const ReplicaStatus& s) {
        return PeerAt(s, Address(cluster, kB)) != nullptr &&
               PeerAt(s, Address(cluster, kC)) != nullptr;
      },
      &status))
      << "A's status does not list B and C: " << Describe(status) << "\n"
      << LogSince(cluster, kA, offset);
  EXPECT_TRUE(cluster.WaitForContent(kA, "c1", "c1 from C"))
      << "c1 did not reach A after C was added\n" << cluster.Diagnostics();
  EXPECT_TRUE(WaitForLogLine(cluster, kA, offset, {kReloaded}).has_value())
      << "no '" << kReloaded << "' line after the reload:\n" << LogSince(cluster, kA, offset);
  ExpectSameReplica(cluster);
  EXPECT_EQ(held_reads(), held_content);

  // C removed: A's status no longer lists it, and what C writes from then
  // on stays off A.
  ASSERT_NO_FATAL_FAILURE(Reload(cluster, Config(cluster, {kB}), &offset));
  EXPECT_TRUE(WaitForStatus(
      cluster, kA,
      [&](const ReplicaStatus& s) {
        return PeerAt(s, Address(cluster, kC)) == nullptr &&
               PeerAt(s, Address(cluster, kB)) != nullptr;
      },
      &status))
      << "A's status still lists C (or lost B): " << Describe(status) << "\n"
      << LogSince(cluster, kA, offset);
  // One round trip through B first: the status drops C as the reload swaps
  // its pullers, the removed one stops just after.
  ASSERT_NO_FATAL_FAILURE(ExpectReplicated(cluster, kB, kA, "marker2"));
  REPLFS_ASSERT_OK(WriteFile(cluster.Mount(kC, "c2"), "c2 from C"));
  ASSERT_NO_FATAL_FAILURE(ExpectReplicated(cluster, kB, kA, "marker3"));
  EXPECT_FALSE(cluster.Exists(kA, "c2")) << "c2 reached A after C was removed";
  status = cluster.Status(kA);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_THAT(PeerAddresses(*status), ElementsAre(Address(cluster, kB)));
  ExpectSameReplica(cluster);
  EXPECT_EQ(held_reads(), held_content);

  // C added again: what C wrote meanwhile arrives.
  ASSERT_NO_FATAL_FAILURE(Reload(cluster, Config(cluster, {kB, kC}), &offset));
  EXPECT_TRUE(cluster.WaitForContent(kA, "c2", "c2 from C"))
      << "c2 did not reach A after C was added again\n" << cluster.Diagnostics();
  EXPECT_EQ(cluster.Content(kA, "c1"), "c1 from C");

  // The same daemon, the same mount, all along.
  ExpectSameReplica(cluster);
  EXPECT_EQ(held_reads(), held_content);
  ASSERT_NO_FATAL_FAILURE(ExpectReplicated(cluster, kA, kB, "from-a-at-the-end"));
  held.Reset();
}

// Settings only a restart can change are refused one by one, a file that
// does not parse as a whole; either way A keeps replicating as before.
TEST_F(ReloadTest, FixedSettingsAreRefusedAndTheReplicaKeepsRunning) {
  Cluster cluster(2, Topology{{}, {kA}});
  ASSERT_NO_FATAL_FAILURE(StartWithConfig(cluster, Config(cluster, {kB})));
  ASSERT_NO_FATAL_FAILURE(ExpectReplicated(cluster, kB, kA, "before-b"));
  ASSERT_NO_FATAL_FAILURE(ExpectReplicated(cluster, kA, kB, "before-a"));
  absl::StatusOr<ReplicaStatus> before = cluster.Status(kA);
  ASSERT_TRUE(before.ok()) << before.status();
  EXPECT_EQ(before->listen(), Address(cluster, kA));

  // cache_timeout (the default before) cannot change while mounted.
  size_t offset = 0;
  ASSERT_NO_FATAL_FAILURE(
      Reload(cluster, Config(cluster, {kB}, {"cache_timeout = 5"}), &offset));
  std::optional<std::string> line = WaitForLogLine(cluster, kA, offset, {kFixed, "cache_timeout"});
  EXPECT_TRUE(line.has_value()) << "no '" << kFixed << "' line naming cache_timeout:\n"
                                << LogSince(cluster, kA, offset);
  ExpectSameReplica(cluster);
  ASSERT_NO_FATAL_FAILURE(ExpectReplicated(cluster, kB, kA, "after-timeout-b"));
  ASSERT_NO_FATAL_FAILURE(ExpectReplicated(cluster, kA, kB, "after-timeout-a"));

  // Nor can the cluster name: A still answers B and is still "replfs".
  ASSERT_NO_FATAL_FAILURE(
      Reload(cluster, Config(cluster, {kB}, {"cluster = elsewhere"}), &offset));
  line = WaitForLogLine(cluster, kA, offset, {kFixed, "cluster"});
  EXPECT_TRUE(line.has_value()) << "no '" << kFixed << "' line naming cluster:\n"
                                << LogSince(cluster, kA, offset);
  ExpectSameReplica(cluster);
  ASSERT_NO_FATAL_FAILURE(ExpectReplicated(cluster, kB, kA, "after-cluster-b"));
  ASSERT_NO_FATAL_FAILURE(ExpectReplicated(cluster, kA, kB, "after-cluster-a"));
  absl::StatusOr<ReplicaStatus> status = cluster.Status(kA);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->listen(), before->listen());
  EXPECT_EQ(status->cluster(), before->cluster());

  // An unknown key: nothing of the file is taken, neither the dropped peer
  // nor the added pattern.
  ASSERT_NO_FATAL_FAILURE(
      Reload(cluster, Config(cluster, {}, {"ignore = *.tmp", "no_such_setting = 1"}), &offset));
  line = WaitForLogLine(cluster, kA, offset, {kRefused});
  EXPECT_TRUE(line.has_value()) << "no '" << kRefused << "' line:\n"
                                << LogSince(cluster, kA, offset);
  ExpectSameReplica(cluster);
  status = cluster.Status(kA);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_THAT(PeerAddresses(*status), ElementsAre(Address(cluster, kB)))
      << "the refused file's peers were taken";
  EXPECT_THAT(Patterns(*status), IsEmpty()) << "the refused file's ignore line was taken";
  EXPECT_EQ(status->listen(), before->listen());
  ASSERT_NO_FATAL_FAILURE(ExpectReplicated(cluster, kB, kA, "after-refused-b"));
  ASSERT_NO_FATAL_FAILURE(ExpectReplicated(cluster, kA, kB, "after-refused-a"));
  // Nothing of the file's patterns either: a .tmp file still replicates.
  ASSERT_NO_FATAL_FAILURE(ExpectReplicated(cluster, kA, kB, "still-sent.tmp"));
}

// Ignore lines added by a reload: matching paths stay local from then on,
// in both directions; what was replicated before stays where it is.
TEST_F(ReloadTest, IgnorePatternsReloaded) {
  Cluster cluster(2, Topology{{}, {kA}});
  ASSERT_NO_FATAL_FAILURE(StartWithConfig(cluster, Config(cluster, {kB})));
  REPLFS_ASSERT_OK(WriteFile(cluster.Mount(kA, "x.tmp"), "x v1"));
  ASSERT_TRUE(cluster.WaitForContent(kB, "x.tmp", "x v1")) << cluster.Diagnostics();
  absl::StatusOr<ReplicaStatus> status = cluster.Status(kA);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_THAT(Patterns(*status), IsEmpty());

  size_t offset = 0;
  ASSERT_NO_FATAL_FAILURE(Reload(cluster, Config(cluster, {kB}, {"ignore = *.tmp"}), &offset));
  ASSERT_TRUE(WaitForStatus(
      cluster, kA,
      [](const ReplicaStatus& s) { return Patterns(s) == std::vector<std::string>{"*.tmp"}; },
      &status))
      << "A's ignore_patterns: " << Describe(status) << "\n" << LogSince(cluster, kA, offset);
  EXPECT_TRUE(WaitForLogLine(cluster, kA, offset, {kReloaded}).has_value())
      << "no '" << kReloaded << "' line after the reload:\n" << LogSince(cluster, kA, offset);
  EXPECT_THAT(PeerAddresses(*status), ElementsAre(Address(cluster, kB)));

  // Not sent: a new .tmp file, nor an edit of the one replicated before.
  REPLFS_ASSERT_OK(WriteFile(cluster.Mount(kA, "y.tmp"), "y"));
  REPLFS_ASSERT_OK(WriteFile(cluster.Mount(kA, "x.tmp"), "x v2"));
  ASSERT_NO_FATAL_FAILURE(ExpectReplicated(cluster, kA, kB, "marker-a"));
  EXPECT_FALSE(cluster.Exists(kB, "y.tmp")) << "y.tmp reached B after the reload";
  EXPECT_EQ(cluster.Content(kB, "x.tmp"), "x v1")
      << "the reload deleted x.tmp on B, or sent its edit";
  EXPECT_EQ(cluster.Content(kA, "x.tmp"), "x v2");
  EXPECT_EQ(cluster.Content(kA, "y.tmp"), "y");

  // Not applied: what B writes at a .tmp path stays on B.
  REPLFS_ASSERT_OK(WriteFile(cluster.Mount(kB, "z.tmp"), "z"));
  ASSERT_NO_FATAL_FAILURE(ExpectReplicated(cluster, kB, kA, "marker-b"));
  EXPECT_FALSE(cluster.Exists(kA, "z.tmp")) << "z.tmp from B was applied on A after the reload";
  ExpectSameReplica(cluster);
}

// Version retention reloaded: deletions kept under the defaults are pruned
// once a reload caps versions at 1 byte (the smallest versions_max); with
// keep_versions = 0 a deletion keeps nothing; back at 7 days one is kept
// again. A file held open for reading and writing on A works throughout.
TEST_F(ReloadTest, VersionRetentionReloaded) {
  Cluster cluster(2, Topology{{}, {kA}});
  ASSERT_NO_FATAL_FAILURE(StartWithConfig(cluster, Config(cluster, {kB})));
  absl::StatusOr<ReplicaStatus> status = cluster.Status(kA);
  ASSERT_TRUE(status.ok()) << status.status();
  ASSERT_EQ(status->keep_versions_days(), 7u) << Describe(status);
  ASSERT_GT(status->versions_max_bytes(), 3 * kVersionSize) << Describe(status);

  // Written and read back through one descriptor held open across reloads.
  REPLFS_ASSERT_OK(WriteFile(cluster.Mount(kA, "held.txt"), "held 0"));
  UniqueFd held(::open(cluster.Mount(kA, "held.txt").c_str(), O_RDWR | O_CLOEXEC));
  ASSERT_TRUE(held.valid()) << "open held.txt: errno " << errno;
  auto held_round_trip = [&](const std::string& text) {
    if (::pwrite(held.get(), text.data(), text.size(), 0) != static_cast<ssize_t>(text.size())) {
      return absl::StrCat("<pwrite: errno ", errno, ">");
    }
    std::string buffer(text.size() + 16, '\0');
    const ssize_t n = ::pread(held.get(), buffer.data(), buffer.size(), 0);
    if (n < 0) return absl::StrCat("<pread: errno ", errno, ">");
    buffer.resize(static_cast<size_t>(n));
    return buffer;
  };

  // Defaults: three deletions kept.
  for (uint64_t k = 0; k < 3; ++k) {
    ASSERT_NO_FATAL_FAILURE(DeleteReplicatedFile(cluster, absl::StrCat("kept", k, ".bin"), k));
  }
  ASSERT_TRUE(WaitForStatus(
      cluster, kA,
      [](const ReplicaStatus& s) {
        return s.versions_kept() >= 3 && s.versions_bytes() >= 3 * kVersionSize;
      },
      &status))
      << "A did not keep the three deleted files: " << Describe(status);
  EXPECT_EQ(status->versions_kept(), 3u) << Describe(status);
  EXPECT_EQ(status->versions_bytes(), 3 * kVersionSize) << Describe(status);
  EXPECT_EQ(status->versions_not_kept(), 0u) << Describe(status);
  EXPECT_EQ(held_round_trip("held 1"), "held 1");

  // Capped at 1 byte: the next prune drops all three.
  size_t offset = 0;
  ASSERT_NO_FATAL_FAILURE(
      Reload(cluster, Config(cluster, {kB}, {"versions_max = 1"}), &offset));
  EXPECT_TRUE(
      WaitForLogLine(cluster, kA, offset, {"reload: versions now kept 7 days within 1 bytes"})
          .has_value())
      << "no reload line for the 1 byte cap:\n" << LogSince(cluster, kA, offset);
  EXPECT_TRUE(WaitForStatus(
      cluster, kA,
      [](const ReplicaStatus& s) {
        return s.versions_max_bytes() == 1 && s.versions_kept() == 0 && s.versions_bytes() == 0;
      },
      &status))
      << "the kept versions were not pruned to the 1 byte cap: " << Describe(status) << "\n"
      << LogSince(cluster, kA, offset);
  ExpectSameReplica(cluster);
  EXPECT_EQ(held_round_trip("held 2"), "held 2");

  // keep_versions = 0 (a generous cap, so only the days can keep nothing):
  // a deletion, committed and replicated, is not kept.
  ASSERT_NO_FATAL_FAILURE(Reload(
      cluster, Config(cluster, {kB}, {"keep_versions = 0", "versions_max = 1G"}), &offset));
  EXPECT_TRUE(
      WaitForLogLine(cluster, kA, offset, {"reload: versions now kept 0 days within 1073741824"})
          .has_value())
      << "no reload line for keep_versions = 0:\n" << LogSince(cluster, kA, offset);
  ASSERT_TRUE(WaitForStatus(
      cluster, kA,
      [](const ReplicaStatus& s) {
        return s.keep_versions_days() == 0 && s.versions_max_bytes() == (uint64_t{1} << 30);
      },
      &status))
      << "A's retention after keep_versions = 0: " << Describe(status) << "\n"
      << LogSince(cluster, kA, offset);
  ASSERT_NO_FATAL_FAILURE(DeleteReplicatedFile(cluster, "off.bin", 10));
  status = cluster.Status(kA);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->versions_kept(), 0u) << "kept with keep_versions = 0: " << Describe(status);
  EXPECT_EQ(status->versions_bytes(), 0u) << Describe(status);
  EXPECT_EQ(status->versions_not_kept(), 0u) << Describe(status);
  ExpectSameReplica(cluster);
  EXPECT_EQ(held_round_trip("held 3"), "held 3");

  // Back to 7 days: a deletion is kept again.
  ASSERT_NO_FATAL_FAILURE(Reload(
      cluster, Config(cluster, {kB}, {"keep_versions = 7", "versions_max = 1G"}), &offset));
  EXPECT_TRUE(
      WaitForLogLine(cluster, kA, offset, {"reload: versions now kept 7 days within 1073741824"})
          .has_value())
      << "no reload line for keep_versions = 7:\n" << LogSince(cluster, kA, offset);
  ASSERT_TRUE(WaitForStatus(
      cluster, kA, [](const ReplicaStatus& s) { return s.keep_versions_days() == 7; }, &status))
      << "A's retention after keep_versions = 7: " << Describe(status) << "\n"
      << LogSince(cluster, kA, offset);
  ASSERT_NO_FATAL_FAILURE(DeleteReplicatedFile(cluster, "again.bin", 11));
  EXPECT_TRUE(WaitForStatus(
      cluster, kA,
      [](const ReplicaStatus& s) {
        return s.versions_kept() >= 1 && s.versions_bytes() >= kVersionSize;
      },
      &status))
      << "the deletion after keep_versions = 7 was not kept: " << Describe(status);
  EXPECT_EQ(status->versions_kept(), 1u) << Describe(status);
  EXPECT_EQ(status->versions_bytes(), kVersionSize) << Describe(status);

  // The same daemon, the same mount, all along.
  ExpectSameReplica(cluster);
  EXPECT_EQ(held_round_trip("held 4"), "held 4");
  held.Reset();
  ASSERT_NO_FATAL_FAILURE(ExpectReplicated(cluster, kA, kB, "from-a-at-the-end"));
}

}  // namespace
}  // namespace replfs::testing
