#include "tests/support/replica_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sched.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "tests/support/child_process.h"

namespace replfs::testing {
namespace fs = std::filesystem;

namespace {

// Runs `argv` with its output discarded; its exit status.
int RunCommand(const std::vector<std::string>& argv) {
  ChildOptions quiet;
  quiet.stdout_path = "/dev/null";
  quiet.stderr_path = "/dev/null";
  return RunChild(argv, quiet);
}

// Waits up to `timeout` for `pid` to exit; returns whether it did.
bool WaitForExit(pid_t pid, std::chrono::milliseconds timeout, int* status) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    const pid_t r = ::waitpid(pid, status, WNOHANG);
    if (r == pid || r < 0) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

}  // namespace

TempDir::TempDir(const std::string& prefix) {
  std::string templ = (fs::temp_directory_path() / (prefix + "-XXXXXX")).string();
  if (::mkdtemp(templ.data()) == nullptr) {
    std::perror("mkdtemp");
    std::abort();
  }
  path_ = templ;
}

TempDir::~TempDir() {
  // Never recurse into a live mount: unmount anything below us first.
  std::ifstream mountinfo("/proc/self/mountinfo");
  std::string line;
  std::vector<std::string> below;
  while (std::getline(mountinfo, line)) {
    std::vector<std::string> fields = absl::StrSplit(line, ' ');
    if (fields.size() > 4 && fields[4].starts_with(path_ + "/")) below.push_back(fields[4]);
  }
  for (auto it = below.rbegin(); it != below.rend(); ++it) Unmount(*it);
  std::error_code ignored;
  fs::remove_all(path_, ignored);
}

std::string TempDir::Sub(const std::string& name) const {
  std::string p = path_ + "/" + name;
  fs::create_directories(p);
  return p;
}

std::string ReplfsBinary() {
  if (const char* env = std::getenv("REPLFS_BINARY"); env != nullptr && *env != '\0') return env;
  return REPLFS_BINARY_PATH;
}

absl::StatusOr<int> FreeLoopbackPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::ErrnoToStatus(errno, "socket");
  struct sockaddr_in address = {};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof(address);
  absl::Status error;
  if (::bind(fd, reinterpret_cast<struct sockaddr*>(&address), sizeof(address)) != 0) {
    error = absl::ErrnoToStatus(errno, "bind 127.0.0.1:0");
  } else if (::getsockname(fd, reinterpret_cast<struct sockaddr*>(&address), &length) != 0) {
    error = absl::ErrnoToStatus(errno, "getsockname");
  }
  ::close(fd);
  if (!error.ok()) return error;
  return static_cast<int>(ntohs(address.sin_port));
}

absl::StatusOr<std::vector<int>> DistinctLoopbackPorts(int count) {
  std::vector<int> ports;
  for (int i = 0; i < count; ++i) {
    absl::StatusOr<int> port = FreeLoopbackPort();
    // Distinct ports even if the kernel hands one out twice.
    for (int attempt = 0; port.ok() && attempt < 20 &&
                          std::find(ports.begin(), ports.end(), *port) != ports.end();
         ++attempt) {
      port = FreeLoopbackPort();
    }
    if (!port.ok()) return port.status();
    ports.push_back(*port);
  }
  return ports;
}

std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

bool PathExists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

void Unmount(const std::string& path) {
  for (int attempt = 0; attempt < 20 && IsMountpoint(path); ++attempt) {
    if (RunCommand({"fusermount3", "-u", path}) == 0) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (IsMountpoint(path)) RunCommand({"fusermount3", "-uz", path});
  if (IsMountpoint(path)) RunCommand({"umount", "-l", path});
}

ReplicaProcess::ReplicaProcess(std::string backing, std::string mountpoint,
                               std::vector<std::string> extra_args)
    : backing_(std::move(backing)), mountpoint_(std::move(mountpoint)),
      extra_args_(std::move(extra_args)) {
  log_path_ = backing_ + ".log";
}

ReplicaProcess::~ReplicaProcess() {
  if (pid_ > 0) {
    if (!Stop().ok()) Kill();
  }
  if (IsMountpoint(mountpoint_)) Unmount(mountpoint_);
}

absl::Status ReplicaProcess::Start(absl::Duration timeout) {
  if (pid_ > 0) return absl::FailedPreconditionError("already running");
  std::vector<std::string> argv = {ReplfsBinary(), backing_, mountpoint_, "-f"};
  argv.insert(argv.end(), extra_args_.begin(), extra_args_.end());
  // CI runs the mount suites once per data path: REPLFS_TEST_DATA_PATH=fuse
  // keeps file data going through the daemon on a kernel with passthrough.
  if (const char* data_path = std::getenv("REPLFS_TEST_DATA_PATH");
      data_path != nullptr && std::string(data_path) == "fuse") {
    argv.insert(argv.end(), {"-o", "passthrough=off"});
  }
  ChildOptions options;
  options.stdout_path = log_path_;
  options.stderr_path = log_path_;
  options.append = true;
  if (!network_namespace_.empty()) {
    const char* ns_path = network_namespace_.c_str();
    options.before_exec = [ns_path] {
      const int ns_fd = ::open(ns_path, O_RDONLY | O_CLOEXEC);
      if (ns_fd < 0 || ::setns(ns_fd, CLONE_NEWNET) != 0) return false;
      ::close(ns_fd);
      // A process group of its own: a bed driven from a terminal stops its
      // replicas itself, they must not take the Ctrl-C meant for it.
      ::setpgid(0, 0);
      return true;
    };
  }
  absl::StatusOr<pid_t> pid = StartChild(argv, options);
  if (!pid.ok()) return pid.status();
  pid_ = *pid;
  const auto deadline = std::chrono::steady_clock::now() + absl::ToChronoSeconds(timeout);
  while (std::chrono::steady_clock::now() < deadline) {
    if (IsMountpoint(mountpoint_)) {
      // The mount table shows the mount before the kernel's INIT is
      // answered (what the data path is, for one, is decided there); a
      // stat waits for it, as a user's first access does.
      struct stat st;
      if (::stat(mountpoint_.c_str(), &st) != 0) {
        return absl::ErrnoToStatus(errno, absl::StrCat("stat ", mountpoint_, ": ", Log()));
      }
      return absl::OkStatus();
    }
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      const std::string how = WIFEXITED(status)   ? absl::StrCat("exit status ", WEXITSTATUS(status))
                              : WIFSIGNALED(status) ? absl::StrCat("signal ", WTERMSIG(status))
                                                    : "unknown status";
      return absl::InternalError(
          absl::StrCat("replfs exited during start-up (", how,
                       "; 127: exec failed, 126: could not join the network namespace): ", Log()));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  Kill();
  return absl::DeadlineExceededError(
      absl::StrCat("replfs did not mount within ", absl::FormatDuration(timeout), ": ", Log()));
}

absl::Status ReplicaProcess::Stop() {
  if (pid_ <= 0) return absl::OkStatus();
  Unmount(mountpoint_);
  int status = 0;
  if (!WaitForExit(pid_, std::chrono::seconds(20), &status)) {
    ::kill(pid_, SIGTERM);
    if (!WaitForExit(pid_, std::chrono::seconds(5), &status)) {
      Kill();
      return absl::DeadlineExceededError("replfs did not exit after unmount");
    }
  }
  pid_ = -1;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return absl::InternalError(absl::StrCat("replfs exited with status ", status, ": ", Log()));
  }
  return absl::OkStatus();
}

void ReplicaProcess::Kill() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }
  Unmount(mountpoint_);
}

std::string ReplicaProcess::Log() const { return ReadWholeFile(log_path_); }

}  // namespace replfs::testing
