// replfs-status against real replicas: three `replfs` processes with FUSE
// mounts replicating over 127.0.0.1, asked through their admin sockets by
// the real replfs-status binary; its JSON and exit status are checked for a
// healthy cluster (0), a stopped peer (1), a lagging peer (1) and a killed
// replica (2), and conflict copies are listed and restored.
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "tests/support/replica_process.h"
#include "tests/support/child_process.h"
#include "tools/replica_locator.h"

namespace replfs {
namespace {

using testing::ReadWholeFile;

using google::protobuf::Struct;
using google::protobuf::Value;
using testing::ChildOptions;
using testing::ReplicaProcess;
using testing::RunChild;
using testing::TempDir;
using Clock = std::chrono::steady_clock;

constexpr int kReplicas = 3;

// One replfs-status run: its exit status, stdout and stderr.
struct StatusRun {
  int exit_code = -1;
  std::string out;
  std::string err;
  Struct json;  // Parsed stdout when --json was given and it parsed.
  bool json_ok = false;
  std::string Describe() const { return absl::StrCat("exit ", exit_code, "\n", out, "\n", err); }
};

// Runs replfs-status with `args`, stdout and stderr to files in `scratch`;
// killed (by its PID) if it runs longer than 30 s.
StatusRun RunStatus(const std::string& scratch, const std::vector<std::string>& args) {
  static int counter = 0;
  const std::string out_path = absl::StrCat(scratch, "/status-", ++counter, ".out");
  const std::string err_path = out_path + ".err";
  std::vector<std::string> argv = {REPLFS_STATUS_BINARY_PATH};
  argv.insert(argv.end(), args.begin(), args.end());
  StatusRun run;
  ChildOptions output;
  output.stdout_path = out_path;
  output.stderr_path = err_path;
  run.exit_code = RunChild(argv, output, absl::Seconds(30));
  run.out = ReadWholeFile(out_path);
  run.err = ReadWholeFile(err_path);
  run.json_ok = google::protobuf::util::JsonStringToMessage(run.out, &run.json).ok();
  return run;
}

// JSON navigation that yields an empty value instead of crashing when a
// key is missing (the assertions then fail with the document printed).
const Value& Field(const Struct& object, const std::string& key) {
  static const Value kEmpty;
  auto it = object.fields().find(key);
  return it == object.fields().end() ? kEmpty : it->second;
}
const Value& Field(const Value& value, const std::string& key) {
  return Field(value.struct_value(), key);
}

// The report of the replica whose target is `mountpoint`.
const Value* ReplicaIn(const StatusRun& run, const std::string& mountpoint) {
  for (const Value& replica : Field(run.json, "replicas").list_value().values()) {
    if (Field(replica, "target").string_value() == mountpoint) return &replica;
  }
  return nullptr;
}

// Within a replica report: the assessment and the raw PeerStatus of the
// peer at `address`.
const Value* PeerAssessmentOf(const Value& replica, const std::string& address) {
  for (const Value& peer : Field(replica, "peers").list_value().values()) {
    if (Field(peer, "address").string_value() == address) return &peer;
  }
  return nullptr;
}
const Value* PeerStatusOf(const Value& replica, const std::string& address) {
  for (const Value& peer : Field(Field(replica, "status"), "peers").list_value().values()) {
    if (Field(peer, "address").string_value() == address) return &peer;
  }
  return nullptr;
}

std::string Address(int port) { return absl::StrCat("127.0.0.1:", port); }

// SIGCONTs a SIGSTOPped replica when it goes out of scope, so a failing
// assertion never leaves a frozen process (or a hung unmount) behind.
class ResumeOnExit {
 public:
  explicit ResumeOnExit(pid_t pid) : pid_(pid) {}
  ~ResumeOnExit() {
    if (pid_ > 0) ::kill(pid_, SIGCONT);
  }
  ResumeOnExit(const ResumeOnExit&) = delete;
  ResumeOnExit& operator=(const ResumeOnExit&) = delete;

 private:
  pid_t pid_;
};

// Three replicas in a full mesh.
class StatusTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::make_unique<TempDir>("replfs-status-test");
    absl::StatusOr<std::vector<int>> ports = testing::DistinctLoopbackPorts(kReplicas);
    ASSERT_TRUE(ports.ok()) << ports.status();
    ports_ = *std::move(ports);
    for (int i = 0; i < kReplicas; ++i) {
      std::string peers;
      for (int j = 0; j < kReplicas; ++j) {
        if (j != i)
          absl::StrAppend(&peers, peers.empty() ? "" : ";",
                          Address(ports_[static_cast<size_t>(j)]));
      }
      const std::string name = std::string(1, static_cast<char>('a' + i));
      replicas_.push_back(std::make_unique<ReplicaProcess>(
          dir_->Sub(name + "-backing"), dir_->Sub(name + "-mount"),
          std::vector<std::string>{
              "-o",
              absl::StrCat("listen=", Address(ports_[static_cast<size_t>(i)]), ",peers=", peers)}));
    }
    for (auto& replica : replicas_) {
      absl::Status started = replica->Start();
      ASSERT_TRUE(started.ok()) << started;
    }
  }

  void TearDown() override {
    replicas_.clear();  // Unmounts and stops each (by PID), even after a failure.
    dir_.reset();
  }

  std::string Mount(int i) const { return replicas_[static_cast<size_t>(i)]->mountpoint(); }
  std::string PeerAddress(int i) const { return Address(ports_[static_cast<size_t>(i)]); }
  ReplicaProcess& Replica(int i) { return *replicas_[static_cast<size_t>(i)]; }

  StatusRun Status(const std::vector<std::string>& args) { return RunStatus(dir_->path(), args); }

  // Waits until every replica reports every peer connected (exit 0).
  StatusRun WaitHealthy() {
    StatusRun run;
    testing::WaitUntil(
        [&] {
          run = Status({"--json", Mount(0), Mount(1), Mount(2)});
          return run.exit_code == 0;
        },
        absl::Seconds(30));
    return run;
  }

  std::unique_ptr<TempDir> dir_;
  std::vector<int> ports_;
  std::vector<std::unique_ptr<ReplicaProcess>> replicas_;
};

TEST_F(StatusTest, ConnectedClusterIsHealthyAndExitsZero) {
  const StatusRun run = WaitHealthy();
  ASSERT_EQ(run.exit_code, 0) << run.Describe();
  ASSERT_TRUE(run.json_ok) << run.Describe();
  EXPECT_EQ(Field(run.json, "health").string_value(), "healthy");
  EXPECT_EQ(Field(run.json, "exit_code").number_value(), 0);
  ASSERT_EQ(Field(run.json, "replicas").list_value().values_size(), kReplicas) << run.out;
  for (int i = 0; i < kReplicas; ++i) {
    const Value* replica = ReplicaIn(run, Mount(i));
    ASSERT_NE(replica, nullptr) << run.out;
    EXPECT_TRUE(Field(*replica, "reachable").bool_value());
    EXPECT_EQ(Field(*replica, "health").string_value(), "healthy");
    EXPECT_EQ(Field(Field(*replica, "status"), "listen").string_value(), PeerAddress(i));
    EXPECT_EQ(Field(Field(*replica, "status"), "mountpoint").string_value(), Mount(i));
    EXPECT_EQ(Field(*replica, "state_dir").string_value(), Replica(i).StateDir());
    for (int j = 0; j < kReplicas; ++j) {
      if (j == i) continue;
      const Value* peer = PeerStatusOf(*replica, PeerAddress(j));
      ASSERT_NE(peer, nullptr) << "replica " << i << " lacks peer " << j << ": " << run.out;
      EXPECT_EQ(Field(*peer, "state").string_value(), "connected");
      // The node id a replica reports for its peer is that peer's own.
      const Value* other = ReplicaIn(run, Mount(j));
      ASSERT_NE(other, nullptr);
      EXPECT_EQ(Field(*PeerAssessmentOf(*replica, PeerAddress(j)), "node").string_value(),
                Field(*other, "node").string_value());
      EXPECT_FALSE(Field(*PeerAssessmentOf(*replica, PeerAddress(j)), "down").bool_value());
    }
  }

  // The human table says the same, and the mounts are found without naming
  // them (from /proc/mounts; other replfs mounts on the machine may show up
  // too, so only ours are checked).
  const StatusRun table = Status({Mount(0)});
  EXPECT_EQ(table.exit_code, 0) << table.Describe();
  EXPECT_NE(table.out.find("HEALTHY"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find(PeerAddress(1)), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("connected"), std::string::npos) << table.out;
  const StatusRun all = Status({"--json"});
  ASSERT_TRUE(all.json_ok) << all.Describe();
  for (int i = 0; i < kReplicas; ++i) {
    const Value* replica = ReplicaIn(all, Mount(i));
    ASSERT_NE(replica, nullptr) << "mount " << i << " not discovered: " << all.out;
    EXPECT_EQ(Field(*replica, "health").string_value(), "healthy");
  }
  // Naming the backing directory or the state folder finds the same replica.
  const StatusRun by_backing = Status({"--json", Replica(0).backing()});
  EXPECT_EQ(by_backing.exit_code, 0) << by_backing.Describe();
  const StatusRun by_state = Status({"--json", "--state-dir", Replica(0).StateDir()});
  EXPECT_EQ(by_state.exit_code, 0) << by_state.Describe();
}

TEST_F(StatusTest, StoppedPeerIsReportedDownAndExitsOne) {
  ASSERT_EQ(WaitHealthy().exit_code, 0);
  absl::Status stopped = Replica(2).Stop();
  ASSERT_TRUE(stopped.ok()) << stopped;

  StatusRun run;
  const bool retrying = testing::WaitUntil(
      [&] {
        run = Status({"--json", Mount(0), Mount(1)});
        if (!run.json_ok) return false;
        for (int i = 0; i < 2; ++i) {
          const Value* replica = ReplicaIn(run, Mount(i));
          if (replica == nullptr) return false;
          const Value* peer = PeerStatusOf(*replica, PeerAddress(2));
          if (peer == nullptr || Field(*peer, "state").string_value() != "retrying") return false;
        }
        return true;
      },
      absl::Seconds(20));
  ASSERT_TRUE(retrying) << run.Describe();
  EXPECT_EQ(run.exit_code, 1) << run.Describe();
  EXPECT_EQ(Field(run.json, "health").string_value(), "degraded");
  for (int i = 0; i < 2; ++i) {
    const Value& replica = *ReplicaIn(run, Mount(i));
    EXPECT_EQ(Field(replica, "health").string_value(), "degraded");
    const Value& stopped_peer = *PeerAssessmentOf(replica, PeerAddress(2));
    EXPECT_TRUE(Field(stopped_peer, "down").bool_value()) << run.out;
    EXPECT_FALSE(
        Field(*PeerStatusOf(replica, PeerAddress(2)), "last_error").string_value().empty());
    EXPECT_GT(
        std::stoll(
            Field(*PeerStatusOf(replica, PeerAddress(2)), "next_attempt_unix_ms").string_value()),
        0);
    // The surviving pair stays connected.
    const Value& live_peer = *PeerAssessmentOf(replica, PeerAddress(1 - i));
    EXPECT_FALSE(Field(live_peer, "down").bool_value()) << run.out;
  }
  const StatusRun table = Status({Mount(0)});
  EXPECT_EQ(table.exit_code, 1) << table.Describe();
  EXPECT_NE(table.out.find("retrying"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("DEGRADED"), std::string::npos) << table.out;
}

// A replica that pulls from A while A does not pull from it (a receive-only
// spoke) is listed as "pulled by" on A, and holds A's tombstones until
// forgotten: --forget-puller drops it, once; a bad node id is a usage error.
TEST_F(StatusTest, PullerThatIsNoPeerIsListedAndCanBeForgotten) {
  ASSERT_EQ(WaitHealthy().exit_code, 0);
  absl::StatusOr<std::vector<int>> port = testing::DistinctLoopbackPorts(1);
  ASSERT_TRUE(port.ok()) << port.status();
  ReplicaProcess spoke(dir_->Sub("spoke-backing"), dir_->Sub("spoke-mount"),
                       std::vector<std::string>{"-o", absl::StrCat("listen=", Address(port->front()),
                                                                   ",peers=", PeerAddress(0))});
  ASSERT_TRUE(spoke.Start().ok());
  StatusRun spoke_run;
  ASSERT_TRUE(testing::WaitUntil(
      [&] {
        spoke_run = Status({"--json", spoke.mountpoint()});
        return spoke_run.exit_code == 0;
      },
      absl::Seconds(30)))
      << spoke_run.Describe();
  const std::string spoke_node =
      Field(*ReplicaIn(spoke_run, spoke.mountpoint()), "node").string_value();
  ASSERT_EQ(spoke_node.size(), 16u) << spoke_run.out;

  // Recorded when its feed starts, which follows its hello.
  const std::string listed = absl::StrCat("pulled by     ", spoke_node, " (not a peer");
  StatusRun table;
  EXPECT_TRUE(testing::WaitUntil(
      [&] {
        table = Status({Mount(0)});
        return table.out.find(listed) != std::string::npos;
      },
      absl::Seconds(20)))
      << table.Describe();
  // B pulls from A too, but is a peer: not listed as a stranger.
  const StatusRun b_run = Status({"--json", Mount(1)});
  const std::string b_node = Field(*ReplicaIn(b_run, Mount(1)), "node").string_value();
  EXPECT_EQ(table.out.find(absl::StrCat("pulled by     ", b_node)), std::string::npos)
      << table.out;

  absl::Status stopped = spoke.Stop();
  ASSERT_TRUE(stopped.ok()) << stopped;
  const StatusRun forgot = Status({"--forget-puller", spoke_node, Mount(0)});
  EXPECT_EQ(forgot.exit_code, 0) << forgot.Describe();
  EXPECT_NE(forgot.out.find("forgot node " + spoke_node), std::string::npos) << forgot.out;
  table = Status({Mount(0)});
  EXPECT_EQ(table.out.find("pulled by"), std::string::npos) << table.out;
  const StatusRun again = Status({"--forget-puller=" + spoke_node, Mount(0)});
  EXPECT_EQ(again.exit_code, 1) << again.Describe();
  EXPECT_NE(again.err.find("does not pull from this replica"), std::string::npos) << again.err;

  EXPECT_EQ(Status({"--forget-puller=xyz", Mount(0)}).exit_code, 2);
  EXPECT_EQ(Status({"--forget-puller=" + spoke_node, Mount(0), Mount(1)}).exit_code, 2);
}

TEST_F(StatusTest, LaggingPeerIsReportedBehindAndExitsOne) {
  ASSERT_EQ(WaitHealthy().exit_code, 0);
  // Freeze replica C: it stops reading its streams, so once the HTTP/2
  // window is full A cannot send it more and its position falls behind.
  ASSERT_EQ(::kill(Replica(2).pid(), SIGSTOP), 0);
  ResumeOnExit resume(Replica(2).pid());

  // 4000 bytes stay inline in the entry (<= 4 KiB), so 4000 files are about
  // 16 MB of change feed: far more than any flow-control window.
  const std::string dir = Mount(0) + "/many";
  ASSERT_EQ(::mkdir(dir.c_str(), 0755), 0);
  const std::string content(4000, 'x');
  for (int i = 0; i < 4000; ++i) {
    std::ofstream out(absl::StrCat(dir, "/f", i));
    out << content;
    ASSERT_TRUE(out.good()) << "write " << i;
  }

  constexpr int kMaxLagEntries = 500;
  StatusRun run;
  const bool behind = testing::WaitUntil(
      [&] {
        run = Status({"--json", absl::StrCat("--max-lag-entries=", kMaxLagEntries),
                      "--max-lag-seconds=600", Mount(0)});
        if (!run.json_ok) return false;
        const Value* replica = ReplicaIn(run, Mount(0));
        if (replica == nullptr) return false;
        const Value* lagging = PeerAssessmentOf(*replica, PeerAddress(2));
        const Value* live = PeerAssessmentOf(*replica, PeerAddress(1));
        // B keeps up (so only C is behind); C stays behind while frozen.
        return lagging != nullptr && live != nullptr && Field(*lagging, "behind").bool_value() &&
               !Field(*live, "behind").bool_value();
      },
      absl::Seconds(20));
  ASSERT_TRUE(behind) << run.Describe();
  EXPECT_EQ(run.exit_code, 1) << run.Describe();
  const Value& replica = *ReplicaIn(run, Mount(0));
  EXPECT_EQ(Field(replica, "health").string_value(), "degraded");
  const Value& lagging = *PeerAssessmentOf(replica, PeerAddress(2));
  EXPECT_GT(Field(lagging, "outgoing_lag_entries").number_value(), kMaxLagEntries) << run.out;
  bool problem_named = false;
  for (const Value& problem : Field(replica, "problems").list_value().values()) {
    if (problem.string_value().find(absl::StrCat("peer ", PeerAddress(2), " is behind")) !=
        std::string::npos) {
      problem_named = true;
    }
  }
  EXPECT_TRUE(problem_named) << run.out;
  // With a limit above the lag, the same state is not "behind".
  const StatusRun lenient =
      Status({"--json", "--max-lag-entries=1000000", "--max-lag-seconds=600", Mount(0)});
  ASSERT_TRUE(lenient.json_ok) << lenient.Describe();
  EXPECT_FALSE(Field(*PeerAssessmentOf(*ReplicaIn(lenient, Mount(0)), PeerAddress(2)), "behind")
                   .bool_value())
      << lenient.out;

  // A frozen replica does not answer its own admin socket: unreachable.
  const StatusRun frozen = Status({"--json", "--timeout=1", Mount(2)});
  EXPECT_EQ(frozen.exit_code, 2) << frozen.Describe();

  ::kill(Replica(2).pid(), SIGCONT);
  // Once thawed, C catches up and the cluster is healthy again.
  const StatusRun healed = WaitHealthy();
  EXPECT_EQ(healed.exit_code, 0) << healed.Describe();
}

TEST_F(StatusTest, KilledReplicaIsUnreachableAndExitsTwo) {
  ASSERT_EQ(WaitHealthy().exit_code, 0);
  // SIGKILL without unmounting: the mount stays in /proc/mounts, dead.
  const pid_t pid = Replica(2).pid();
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  ASSERT_TRUE(testing::WaitUntil(
      [&] {
        std::ifstream stat(absl::StrCat("/proc/", pid, "/stat"));
        std::string text;
        std::getline(stat, text);
        return text.empty() || text.find(") Z") != std::string::npos;
      },
      absl::Seconds(10)));
  ASSERT_TRUE(IsMountpoint(Mount(2)));

  const StatusRun run = Status({"--json", Mount(2)});
  EXPECT_EQ(run.exit_code, 2) << run.Describe();
  ASSERT_TRUE(run.json_ok) << run.Describe();
  const Value* replica = ReplicaIn(run, Mount(2));
  ASSERT_NE(replica, nullptr) << run.out;
  EXPECT_FALSE(Field(*replica, "reachable").bool_value());
  EXPECT_EQ(Field(*replica, "health").string_value(), "unreachable");
  EXPECT_FALSE(Field(*replica, "error").string_value().empty());

  // The worst replica decides: a healthy one next to it still exits 2.
  const StatusRun both = Status({"--json", Mount(0), Mount(2)});
  EXPECT_EQ(both.exit_code, 2) << both.Describe();
  EXPECT_EQ(Field(*ReplicaIn(both, Mount(0)), "reachable").bool_value(), true);
  // Named by its backing directory: same verdict.
  EXPECT_EQ(Status({Replica(2).backing()}).exit_code, 2);
  // Something that is no replica at all cannot be checked either.
  EXPECT_EQ(Status({dir_->Sub("not-a-replica")}).exit_code, 2);

  Replica(2).Kill();  // Reaps it and detaches the dead mount.
}

// Two replicas write the same file while apart; once connected, the loser
// is kept as a conflict copy that --conflicts lists and --restore brings
// back through the mount.
TEST(StatusConflictTest, ListsAndRestoresConflictCopies) {
  TempDir dir("replfs-status-conflict");
  absl::StatusOr<std::vector<int>> ports = testing::DistinctLoopbackPorts(2);
  ASSERT_TRUE(ports.ok()) << ports.status();
  const int port_a = (*ports)[0];
  const int port_b = (*ports)[1];
  const std::string backing_a = dir.Sub("a-backing"), mount_a = dir.Sub("a-mount");
  const std::string backing_b = dir.Sub("b-backing"), mount_b = dir.Sub("b-mount");
  {
    // Apart: each replica alone, the same path written differently.
    ReplicaProcess a(backing_a, mount_a), b(backing_b, mount_b);
    ASSERT_TRUE(a.Start().ok());
    ASSERT_TRUE(b.Start().ok());
    std::ofstream(mount_a + "/page.html") << "from A\n";
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    std::ofstream(mount_b + "/page.html") << "from B\n";
    ASSERT_TRUE(a.Stop().ok());
    ASSERT_TRUE(b.Stop().ok());
  }
  ReplicaProcess a(backing_a, mount_a,
                   {"-o", absl::StrCat("listen=", Address(port_a), ",peers=", Address(port_b))});
  ReplicaProcess b(backing_b, mount_b,
                   {"-o", absl::StrCat("listen=", Address(port_b), ",peers=", Address(port_a))});
  ASSERT_TRUE(a.Start().ok());
  ASSERT_TRUE(b.Start().ok());

  // Whichever side lost keeps the other's content; find it.
  StatusRun run;
  std::string loser_mount;
  ASSERT_TRUE(testing::WaitUntil(
      [&] {
        for (const std::string& mount : {mount_a, mount_b}) {
          run = RunStatus(dir.path(), {"--json", "--conflicts", mount});
          const Value* replica = run.json_ok ? ReplicaIn(run, mount) : nullptr;
          if (replica != nullptr && Field(*replica, "conflicts").list_value().values_size() > 0) {
            loser_mount = mount;
            return true;
          }
        }
        return false;
      },
      absl::Seconds(30)))
      << run.Describe() << a.Log() << b.Log();
  const Value& conflict = Field(*ReplicaIn(run, loser_mount), "conflicts").list_value().values(0);
  EXPECT_EQ(Field(conflict, "path").string_value(), "page.html") << run.out;
  EXPECT_NE(Field(conflict, "origin").string_value(), "") << run.out;
  EXPECT_TRUE(Field(conflict, "loser_version").has_struct_value()) << run.out;
  EXPECT_TRUE(Field(conflict, "winner_version").has_struct_value()) << run.out;
  const std::string copy_file = Field(conflict, "copy_file").string_value();
  const std::string kept = ReadWholeFile(copy_file);
  ASSERT_TRUE(kept == "from A\n" || kept == "from B\n") << copy_file << ": " << kept;
  EXPECT_NE(Field(conflict, "restore_command").string_value().find(copy_file), std::string::npos);

  // The table lists it with the command that restores it.
  const StatusRun table = RunStatus(dir.path(), {"--conflicts", loser_mount});
  EXPECT_NE(table.out.find("restore: cp -- "), std::string::npos) << table.out;

  // --restore copies it over the path through the mount; it replicates.
  const StatusRun restore =
      RunStatus(dir.path(), {"--restore", Field(conflict, "name").string_value(), loser_mount});
  ASSERT_EQ(restore.exit_code, 0) << restore.Describe();
  EXPECT_EQ(ReadWholeFile(loser_mount + "/page.html"), kept);
  const std::string other_mount = loser_mount == mount_a ? mount_b : mount_a;
  EXPECT_TRUE(testing::WaitUntil([&] { return ReadWholeFile(other_mount + "/page.html") == kept; },
                        absl::Seconds(20)))
      << ReadWholeFile(other_mount + "/page.html");
  EXPECT_NE(RunStatus(dir.path(), {"--restore", "no/such/path", loser_mount}).exit_code, 0);
}

// --log reads a running replica's store over its admin socket: entries,
// change log and local objects, by mountpoint or backing directory; a
// stopped replica is an error that says so.
TEST(StatusLogTest, PrintsTheStoreOfARunningReplica) {
  TempDir dir("replfs-status-log");
  ReplicaProcess replica(dir.Sub("backing"), dir.Sub("mount"));
  ASSERT_TRUE(replica.Start().ok());
  ASSERT_EQ(::mkdir(replica.MountPath("docs").c_str(), 0755), 0);
  std::ofstream(replica.MountPath("docs/page.html")) << "hello\n";
  ASSERT_EQ(::symlink("docs/page.html", replica.MountPath("index.html").c_str()), 0);
  ASSERT_EQ(::mknod(replica.MountPath("control.sock").c_str(), S_IFSOCK | 0600, 0), 0);

  StatusRun table;
  ASSERT_TRUE(testing::WaitUntil(
      [&] {
        table = RunStatus(dir.path(), {"--log", replica.backing()});
        return table.out.find("index.html") != std::string::npos;
      },
      absl::Seconds(10)))
      << table.Describe() << replica.Log();
  EXPECT_EQ(table.exit_code, 0) << table.Describe();
  for (const char* expected :
       {"replica node ", "entries (E/, by path):", "docs/page.html", "6 bytes, 1 blocks",
        "-> docs/page.html", "change log (S/, by seq; each path once, at its latest change):",
        "local objects (devices and sockets: never recorded or replicated):",
        "socket    control.sock  (local)"}) {
    EXPECT_NE(table.out.find(expected), std::string::npos) << expected << "\n" << table.out;
  }

  const StatusRun json = RunStatus(dir.path(), {"--log", "--json", replica.mountpoint()});
  EXPECT_EQ(json.exit_code, 0) << json.Describe();
  EXPECT_NE(json.out.find("\"path\":\"docs/page.html\""), std::string::npos) << json.out;
  EXPECT_NE(json.out.find("{\"local_object\":\"control.sock\",\"kind\":\"socket\"}"),
            std::string::npos)
      << json.out;
  EXPECT_EQ(json.out.find("change log"), std::string::npos) << json.out;

  ASSERT_TRUE(replica.Stop().ok());
  const StatusRun stopped = RunStatus(dir.path(), {"--log", replica.backing()});
  EXPECT_EQ(stopped.exit_code, 1) << stopped.Describe();
  EXPECT_NE(stopped.err.find("admin socket"), std::string::npos) << stopped.Describe();
}

// /proc/mounts escapes blanks; only fuse.replfs lines are replicas, and a
// mountpoint maps to BACKING/.replfs.
TEST(ReplicaLocatorTest, FindsReplicasInProcMounts) {
  const std::vector<ReplfsMount> mounts = ParseReplfsMounts(
      "/dev/vda / ext4 rw 0 0\n"
      "/srv/my\\040www /var/my\\040www fuse.replfs rw,allow_other 0 0\n"
      "sshfs#x /mnt/x fuse.sshfs rw 0 0\n");
  ASSERT_EQ(mounts.size(), 1u);
  EXPECT_EQ(mounts[0].backing, "/srv/my www");
  EXPECT_EQ(mounts[0].mountpoint, "/var/my www");
  absl::StatusOr<ReplicaLocation> location = LocateReplica("/var/my www/", mounts);
  ASSERT_TRUE(location.ok()) << location.status();
  EXPECT_EQ(location->state_dir, "/srv/my www/.replfs");
  EXPECT_EQ(location->admin_socket(), "/srv/my www/.replfs/admin.sock");
  EXPECT_FALSE(LocateReplica("/var/not-mounted-anywhere", mounts).ok());
}

}  // namespace
}  // namespace replfs
