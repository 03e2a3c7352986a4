#ifndef REPLFS_TESTS_SUPPORT_CHILD_PROCESS_H_
#define REPLFS_TESTS_SUPPORT_CHILD_PROCESS_H_

#include <sys/types.h>

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace replfs::testing {

// Where a child's standard output and error go, and what it does before
// it runs its program.
struct ChildOptions {
  // A file to write to (created mode 0644), or "" to inherit the test's.
  // The same path for both shares one open file, as `>log 2>&1` does.
  std::string stdout_path;
  std::string stderr_path;
  // Append to those files (a log shared by several runs) instead of
  // truncating them.
  bool append = false;
  // Descriptors to use instead of paths (a pipe's write end, say); -1: none.
  int stdout_fd = -1;
  int stderr_fd = -1;
  // Runs in the child after fork, before the output is redirected (joining
  // a network namespace, say); false makes the child exit with 126. Only
  // async-signal-safe calls belong here: the test may have threads.
  std::function<bool()> before_exec;
};

// The exit status a child reports when its output could not be redirected
// or `before_exec` failed, and when its program could not be run (as sh).
inline constexpr int kChildSetupFailed = 126;
inline constexpr int kChildExecFailed = 127;

// Starts `argv` (argv[0] looked up in PATH unless it holds a '/') as a child
// of this process. The caller reaps it: WaitForChild, or waitpid.
absl::StatusOr<pid_t> StartChild(const std::vector<std::string>& argv,
                                 const ChildOptions& options = {});

// Waits up to `timeout` for the child `pid` to exit, then kills it (by its
// pid, SIGKILL) and reaps it. Its exit status; -1 when it was killed or
// died of a signal.
int WaitForChild(pid_t pid, absl::Duration timeout);

// StartChild, then WaitForChild: `argv`'s exit status, -1 when it could not
// be started, was killed after `timeout` or died of a signal.
int RunChild(const std::vector<std::string>& argv, const ChildOptions& options = {},
             absl::Duration timeout = absl::Seconds(60));

}  // namespace replfs::testing

#endif  // REPLFS_TESTS_SUPPORT_CHILD_PROCESS_H_
