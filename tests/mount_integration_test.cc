// Mounting the way an administrator does: `mount -t fuse.replfs BACKING
// MOUNTPOINT -o ...` and an fstab line with `mount MOUNTPOINT`, both through
// util-linux mount(8) and libfuse's mount.fuse3 helper, then `umount`.
//
// mount(8) scrubs PATH before it runs mount.fuse3, whose `sh -c replfs ...`
// then searches sh's default PATH (/usr/local/sbin:/usr/local/bin:...), which
// is where `cmake --install` puts replfs. To run the build's replfs without
// installing anything, each test process enters a private mount namespace
// and mounts a tmpfs holding a `replfs` link to the build's binary over
// /usr/local/sbin; nothing outside this process tree sees it.
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "tests/support/replica_process.h"
#include "tests/support/child_process.h"

namespace replfs {
namespace {

using testing::ReadWholeFile;

namespace fs = std::filesystem;
using testing::TempDir;
using Clock = std::chrono::steady_clock;

// The first folder of sh's built-in PATH (what mount.fuse3's shell uses).
constexpr char kShellPathDir[] = "/usr/local/sbin";

// Runs `argv` with stdout and stderr appended to `log_path` (a file, not a
// pipe: the replfs daemon that mount starts inherits them and outlives the
// command). Killed by its PID after 60 s. Returns the exit status.
int RunCommand(const std::vector<std::string>& argv, const std::string& log_path) {
  testing::ChildOptions output;
  output.stdout_path = log_path;
  output.stderr_path = log_path;
  output.append = true;
  return testing::RunChild(argv, output, absl::Seconds(60));
}

// PIDs of live replfs processes serving `backing` (by /proc/*/cmdline).
std::vector<pid_t> ReplfsProcessesFor(const std::string& backing) {
  std::vector<pid_t> pids;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator("/proc", error)) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    const std::string cmdline = ReadWholeFile(entry.path().string() + "/cmdline");
    std::vector<std::string> argv = absl::StrSplit(cmdline, '\0');
    if (argv.empty() || fs::path(argv[0]).filename() != "replfs") continue;
    bool serves = false;
    for (const std::string& arg : argv) serves |= arg == backing;
    // A zombie has exited: its table entry only waits for its parent.
    const std::string stat = ReadWholeFile(entry.path().string() + "/stat");
    const size_t close_paren = stat.rfind(')');
    const bool zombie = close_paren != std::string::npos && close_paren + 2 < stat.size() &&
                        stat[close_paren + 2] == 'Z';
    if (serves && !zombie) pids.push_back(static_cast<pid_t>(std::stol(name)));
  }
  return pids;
}

// The line of /proc/mounts for `mountpoint`, or "".
std::string ProcMountsLine(const std::string& mountpoint) {
  std::istringstream in(ReadWholeFile("/proc/mounts"));
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> fields = absl::StrSplit(line, ' ');
    if (fields.size() > 2 && fields[1] == mountpoint) return line;
  }
  return "";
}

// Enters a private mount namespace (once per process) where sh's PATH
// leads to the build's replfs. Returns "" or what failed.
std::string EnterNamespaceWithBuildReplfs() {
  static std::string result = [] {
    if (::unshare(CLONE_NEWNS) != 0) return absl::StrCat("unshare: ", std::strerror(errno));
    // Nothing mounted from here on propagates back to the host.
    if (::mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
      return absl::StrCat("make / private: ", std::strerror(errno));
    }
    // A tmpfs of our own over the folder: it holds only the link, and goes
    // away with the namespace when the test process ends.
    if (::mount("replfs-test-bin", kShellPathDir, "tmpfs", 0, "mode=0755") != 0) {
      return absl::StrCat("mount tmpfs on ", kShellPathDir, ": ", std::strerror(errno));
    }
    const std::string link = absl::StrCat(kShellPathDir, "/replfs");
    if (::symlink(testing::ReplfsBinary().c_str(), link.c_str()) != 0) {
      return absl::StrCat("symlink ", link, ": ", std::strerror(errno));
    }
    return std::string();
  }();
  return result;
}

class MountIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string error = EnterNamespaceWithBuildReplfs();
    ASSERT_EQ(error, "");
    dir_ = std::make_unique<TempDir>("replfs-mount-test");
    backing_ = dir_->Sub("backing");
    mountpoint_ = dir_->Sub("mnt");
    log_ = dir_->path() + "/mount.log";
    absl::StatusOr<std::vector<int>> ports = testing::DistinctLoopbackPorts(3);
    ASSERT_TRUE(ports.ok()) << ports.status();
    port_ = (*ports)[0];
    peer1_ = (*ports)[1];
    peer2_ = (*ports)[2];
  }

  void TearDown() override {
    // Whatever the test left: unmount, then stop our replfs by PID.
    if (IsMountpoint(mountpoint_)) testing::Unmount(mountpoint_);
    for (pid_t pid : ReplfsProcessesFor(backing_)) ::kill(pid, SIGTERM);
    testing::WaitUntil([&] { return ReplfsProcessesFor(backing_).empty(); }, absl::Seconds(10));
    for (pid_t pid : ReplfsProcessesFor(backing_)) ::kill(pid, SIGKILL);
    dir_.reset();
  }

  // The replication options: two peers that are not running (replfs
  // mounts anyway and retries them), ';'-separated as documented.
  std::string ReplicationOptions() const {
    return absl::StrCat("listen=127.0.0.1:", port_, ",peers=127.0.0.1:", peer1_,
                        ";127.0.0.1:", peer2_);
  }

  // Through the mount: write, read back, and see it in the backing folder.
  void ExpectMountWorks(const std::string& name, const std::string& content) {
    const std::string line = ProcMountsLine(mountpoint_);
    EXPECT_EQ(line.rfind(absl::StrCat(backing_, " ", mountpoint_, " fuse.replfs "), 0), 0u)
        << "/proc/mounts: " << line;
    {
      std::ofstream out(mountpoint_ + "/" + name);
      out << content;
      ASSERT_TRUE(out.good());
    }
    EXPECT_EQ(ReadWholeFile(mountpoint_ + "/" + name), content);
    EXPECT_EQ(ReadWholeFile(backing_ + "/" + name), content);
    // The ';'-separated peer list survived mount.fuse3's shell quoting: the
    // running replica lists both peers in its command line.
    const std::vector<pid_t> pids = ReplfsProcessesFor(backing_);
    ASSERT_EQ(pids.size(), 1u);
    const std::string cmdline = ReadWholeFile(absl::StrCat("/proc/", pids[0], "/cmdline"));
    EXPECT_NE(cmdline.find(absl::StrCat("peers=127.0.0.1:", peer1_, ";127.0.0.1:", peer2_)),
              std::string::npos)
        << cmdline;
    EXPECT_FALSE(fs::exists(mountpoint_ + "/.replfs")) << "state folder visible in the mount";
  }

  // `umount` ends the replica cleanly: it exits, after closing its store.
  void ExpectUmountStopsReplica() {
    const std::vector<pid_t> before = ReplfsProcessesFor(backing_);
    ASSERT_EQ(before.size(), 1u);
    ASSERT_EQ(RunCommand({"umount", mountpoint_}, log_), 0) << ReadWholeFile(log_);
    EXPECT_FALSE(IsMountpoint(mountpoint_));
    EXPECT_TRUE(
        testing::WaitUntil([&] { return ReplfsProcessesFor(backing_).empty(); }, absl::Seconds(20)))
        << "replfs still running after umount";
    EXPECT_TRUE(testing::WaitUntil(
        [&] { return ReadWholeFile(log_).find("store closed cleanly") != std::string::npos; },
        absl::Seconds(5)))
        << ReadWholeFile(log_);
  }

  std::unique_ptr<TempDir> dir_;
  std::string backing_;
  std::string mountpoint_;
  std::string log_;
  int port_ = 0;
  int peer1_ = 0;
  int peer2_ = 0;
};

TEST_F(MountIntegrationTest, MountTypeFuseReplfsThenUmount) {
  const std::string options =
      absl::StrCat(ReplicationOptions(),
                   ",log_level=info,_netdev,nofail,allow_other,"
                   "x-systemd.requires=network-online.target,x-systemd.mount-timeout=30");
  ASSERT_EQ(RunCommand({"mount", "-t", "fuse.replfs", backing_, mountpoint_, "-o", options}, log_),
            0)
      << ReadWholeFile(log_);
  ASSERT_TRUE(IsMountpoint(mountpoint_)) << ReadWholeFile(log_);
  ExpectMountWorks("hello.txt", "hello through mount -t fuse.replfs\n");
  ExpectUmountStopsReplica();
  // The content stays in the backing folder.
  EXPECT_EQ(ReadWholeFile(backing_ + "/hello.txt"), "hello through mount -t fuse.replfs\n");
}

TEST_F(MountIntegrationTest, FstabLineThenMountByMountpoint) {
  // A private fstab (the real /etc/fstab is never touched), as an
  // administrator would write the line.
  const std::string fstab = dir_->path() + "/fstab";
  {
    std::ofstream out(fstab);
    out << "# replfs test\n"
        << backing_ << "  " << mountpoint_ << "  fuse.replfs  " << ReplicationOptions()
        << ",log_level=info,_netdev,nofail,allow_other,x-systemd.requires=network-online.target"
        << "  0  0\n";
  }
  ASSERT_EQ(RunCommand({"mount", "--fstab", fstab, mountpoint_}, log_), 0) << ReadWholeFile(log_);
  ASSERT_TRUE(IsMountpoint(mountpoint_)) << ReadWholeFile(log_);
  ExpectMountWorks("index.html", "<h1>from fstab</h1>\n");
  ExpectUmountStopsReplica();

  // Mounted again the same way, the replica finds its state and the file.
  ASSERT_EQ(RunCommand({"mount", "--fstab", fstab, mountpoint_}, log_), 0) << ReadWholeFile(log_);
  EXPECT_EQ(ReadWholeFile(mountpoint_ + "/index.html"), "<h1>from fstab</h1>\n");
  ExpectUmountStopsReplica();
}

TEST_F(MountIntegrationTest, MisspelledOptionFailsTheMount) {
  // A typo in fstab must fail loudly, not be ignored.
  const int status = RunCommand({"mount", "-t", "fuse.replfs", backing_, mountpoint_, "-o",
                                 absl::StrCat(ReplicationOptions(), ",cache_timeuot=5")},
                                log_);
  EXPECT_NE(status, 0);
  EXPECT_FALSE(IsMountpoint(mountpoint_));
  EXPECT_NE(ReadWholeFile(log_).find("unknown option 'cache_timeuot=5'"), std::string::npos)
      << ReadWholeFile(log_);
  EXPECT_TRUE(ReplfsProcessesFor(backing_).empty());
}

}  // namespace
}  // namespace replfs
