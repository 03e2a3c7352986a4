#include "tests/support/child_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "absl/time/clock.h"

namespace replfs::testing {
namespace {

// Points `target` (STDOUT_FILENO or STDERR_FILENO) at `fd`, or at `path`
// opened for writing; neither: left as inherited. In the child: only
// async-signal-safe calls. Whether it worked.
bool Redirect(int target, int fd, const char* path, int open_flags) {
  if (fd >= 0) return ::dup2(fd, target) >= 0;
  if (path == nullptr) return true;
  const int opened = ::open(path, open_flags, 0644);
  if (opened < 0) return false;
  const bool redirected = ::dup2(opened, target) >= 0;
  ::close(opened);
  return redirected;
}

}  // namespace

absl::StatusOr<pid_t> StartChild(const std::vector<std::string>& argv,
                                 const ChildOptions& options) {
  if (argv.empty()) return absl::InvalidArgumentError("no program to run");
  // Everything the child needs is built before fork: after it, a child of a
  // threaded test must not allocate.
  std::vector<char*> raw;
  raw.reserve(argv.size() + 1);
  for (const std::string& arg : argv) raw.push_back(const_cast<char*>(arg.c_str()));
  raw.push_back(nullptr);
  const char* out_path = options.stdout_path.empty() ? nullptr : options.stdout_path.c_str();
  const char* err_path = options.stderr_path.empty() ? nullptr : options.stderr_path.c_str();
  const bool shared = out_path != nullptr && options.stdout_path == options.stderr_path &&
                      options.stdout_fd < 0 && options.stderr_fd < 0;
  const int open_flags = O_WRONLY | O_CREAT | O_CLOEXEC | (options.append ? O_APPEND : O_TRUNC);

  const pid_t pid = ::fork();
  if (pid < 0) return absl::ErrnoToStatus(errno, "fork");
  if (pid > 0) return pid;
  if (options.before_exec && !options.before_exec()) ::_exit(kChildSetupFailed);
  const bool redirected =
      Redirect(STDOUT_FILENO, options.stdout_fd, out_path, open_flags) &&
      (shared ? ::dup2(STDOUT_FILENO, STDERR_FILENO) >= 0
              : Redirect(STDERR_FILENO, options.stderr_fd, err_path, open_flags));
  if (!redirected) ::_exit(kChildSetupFailed);
  ::execvp(raw[0], raw.data());
  ::_exit(kChildExecFailed);
}

int WaitForChild(pid_t pid, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  int status = 0;
  for (;;) {
    const pid_t reaped = ::waitpid(pid, &status, WNOHANG);
    if (reaped == pid) break;
    if (reaped < 0 && errno != EINTR) return -1;
    if (absl::Now() >= deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return -1;
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int RunChild(const std::vector<std::string>& argv, const ChildOptions& options,
             absl::Duration timeout) {
  absl::StatusOr<pid_t> pid = StartChild(argv, options);
  if (!pid.ok()) return -1;
  return WaitForChild(*pid, timeout);
}

}  // namespace replfs::testing
