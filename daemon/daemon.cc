#include "daemon/daemon.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace replfs {
namespace {
int g_report_fd = -1;  // Write end of the pipe to the waiting parent.

void WriteAll(int fd, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n <= 0) return;
    done += static_cast<size_t>(n);
  }
}
}  // namespace

void Daemon::Start(bool background) {
  if (!background) return;
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    std::perror("replfs: error: pipe");
    std::exit(1);
  }
  const pid_t pid = ::fork();
  if (pid < 0) {
    std::perror("replfs: error: fork");
    std::exit(1);
  }
  if (pid > 0) {
    ::close(fds[1]);
    std::string verdict;
    char buffer[512];
    ssize_t n;
    while ((n = ::read(fds[0], buffer, sizeof(buffer))) > 0) {
      verdict.append(buffer, static_cast<size_t>(n));
    }
    if (verdict == "ok") std::_Exit(0);
    if (verdict.empty()) verdict = "replfs exited during start-up";
    std::fprintf(stderr, "replfs: error: %s\n", verdict.c_str());
    std::_Exit(1);
  }
  ::close(fds[0]);
  g_report_fd = fds[1];
  ::setsid();
  if (::chdir("/") != 0) {
    // Not fatal: every path we use is absolute.
  }
  const int null_fd = ::open("/dev/null", O_RDWR);
  if (null_fd >= 0) {
    ::dup2(null_fd, STDIN_FILENO);
    ::dup2(null_fd, STDOUT_FILENO);
    if (null_fd > STDERR_FILENO) ::close(null_fd);
  }
}

void Daemon::ReportReady() {
  if (g_report_fd < 0) return;
  WriteAll(g_report_fd, "ok");
  ::close(g_report_fd);
  g_report_fd = -1;
}

void Daemon::ReportFailure(const std::string& message) {
  if (g_report_fd < 0) {
    std::fprintf(stderr, "replfs: error: %s\n", message.c_str());
    return;
  }
  WriteAll(g_report_fd, message);
  ::close(g_report_fd);
  g_report_fd = -1;
}

}  // namespace replfs
