#include "tests/netns.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "tests/support/child_process.h"

namespace replfs::testing {
namespace {

// Reads both pipes until they close or `deadline` passes.
void DrainPipes(int out_fd, int err_fd, absl::Time deadline, std::string* out, std::string* err) {
  struct pollfd fds[2] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}};
  std::string* sinks[2] = {out, err};
  int open_count = 2;
  while (open_count > 0 && absl::Now() < deadline) {
    if (::poll(fds, 2, 100) < 0 && errno != EINTR) return;
    for (int k = 0; k < 2; ++k) {
      if (fds[k].fd < 0 || fds[k].revents == 0) continue;
      char buffer[4096];
      const ssize_t n = ::read(fds[k].fd, buffer, sizeof(buffer));
      if (n > 0) {
        sinks[k]->append(buffer, static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        fds[k].fd = -1;  // poll ignores negative descriptors.
        --open_count;
      }
    }
  }
}

}  // namespace

absl::StatusOr<std::string> RunTool(const std::vector<std::string>& argv) {
  int out_pipe[2];
  int err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) return absl::ErrnoToStatus(errno, "pipe");
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
    ::close(out_pipe[0]);
    ::close(out_pipe[1]);
    return absl::ErrnoToStatus(errno, "pipe");
  }
  UniqueFd out_read(out_pipe[0]), out_write(out_pipe[1]);
  UniqueFd err_read(err_pipe[0]), err_write(err_pipe[1]);
  ChildOptions pipes;
  pipes.stdout_fd = out_write.get();
  pipes.stderr_fd = err_write.get();
  absl::StatusOr<pid_t> pid = StartChild(argv, pipes);
  if (!pid.ok()) return pid.status();
  out_write.Reset();
  err_write.Reset();
  std::string out, err;
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  DrainPipes(out_read.get(), err_read.get(), deadline, &out, &err);
  const int status = WaitForChild(*pid, std::max(deadline - absl::Now(), absl::ZeroDuration()));
  if (status != 0) {
    return absl::InternalError(absl::StrCat("`", absl::StrJoin(argv, " "), "` failed (status ",
                                            status, "): ", absl::StripTrailingAsciiWhitespace(err)));
  }
  return out;
}

std::string NetnsPath(const std::string& name) { return absl::StrCat("/var/run/netns/", name); }

absl::StatusOr<std::unique_ptr<NetNamespace>> NetNamespace::Create(const std::string& name) {
  if (absl::StatusOr<std::string> r = RunTool({"ip", "netns", "add", name}); !r.ok()) {
    return r.status();
  }
  auto ns = std::unique_ptr<NetNamespace>(new NetNamespace(name));
  if (absl::StatusOr<std::string> r = RunTool({"ip", "-n", name, "link", "set", "lo", "up"});
      !r.ok()) {
    return r.status();
  }
  return ns;
}

NetNamespace::~NetNamespace() { DeleteNamespace(name_); }

void DeleteNamespace(const std::string& name) {
  // Bounded: a process in D state may take a moment to die.
  for (int round = 0; round < 50; ++round) {
    absl::StatusOr<std::string> pids = RunTool({"ip", "netns", "pids", name});
    if (!pids.ok() || absl::StripAsciiWhitespace(*pids).empty()) break;
    for (absl::string_view pid : absl::StrSplit(*pids, '\n', absl::SkipWhitespace())) {
      int number = 0;
      if (absl::SimpleAtoi(pid, &number) && number > 1 && number != ::getpid()) {
        ::kill(number, SIGKILL);
      }
    }
    absl::SleepFor(absl::Milliseconds(100));
  }
  (void)RunTool({"ip", "netns", "del", name});  // Gone already is fine too.
}

std::vector<std::string> NamespacesWithPrefix(const std::string& prefix) {
  std::vector<std::string> names;
  absl::StatusOr<std::string> list = RunTool({"ip", "netns", "list"});
  if (!list.ok()) return names;
  for (absl::string_view line : absl::StrSplit(*list, '\n', absl::SkipWhitespace())) {
    // Lines look like "NAME" or "NAME (id: 3)".
    const std::string name(line.substr(0, line.find(' ')));
    if (absl::StartsWith(name, prefix)) names.push_back(name);
  }
  return names;
}

absl::StatusOr<UniqueFd> SocketInNamespace(const std::string& netns_path, int domain, int type) {
  if (netns_path.empty()) {
    UniqueFd fd(::socket(domain, type | SOCK_CLOEXEC, 0));
    if (!fd.valid()) return absl::ErrnoToStatus(errno, "socket");
    return fd;
  }
  absl::Status error;
  int created = -1;
  // setns affects only the calling thread; this one ends right after.
  std::thread([&] {
    UniqueFd ns(::open(netns_path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!ns.valid()) {
      error = absl::ErrnoToStatus(errno, absl::StrCat("open ", netns_path));
      return;
    }
    if (::setns(ns.get(), CLONE_NEWNET) != 0) {
      error = absl::ErrnoToStatus(errno, absl::StrCat("setns ", netns_path));
      return;
    }
    created = ::socket(domain, type | SOCK_CLOEXEC, 0);
    if (created < 0) error = absl::ErrnoToStatus(errno, "socket");
  }).join();
  if (!error.ok()) return error;
  return UniqueFd(created);
}

}  // namespace replfs::testing
