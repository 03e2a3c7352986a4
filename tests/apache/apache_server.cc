#include "tests/apache/apache_server.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <ostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "tests/http_client.h"
#include "tests/support/replica_process.h"
#include "tests/support/child_process.h"

namespace replfs::testing::apache {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

// Runs `command` through the shell; returns its exit status (-1 if it did
// not exit normally).
int Shell(const std::string& command) {
  const int status = std::system(command.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace

absl::StatusOr<std::string> EnsureApacheInstalled() {
  constexpr const char* kBinary = "/usr/sbin/apache2";
  if (::access(kBinary, X_OK) == 0) return std::string(kBinary);
  if (Shell("command -v apache2 >/dev/null 2>&1") != 0) {
    const bool own_policy = ::access("/usr/sbin/policy-rc.d", F_OK) != 0;
    if (own_policy) {
      std::ofstream policy("/usr/sbin/policy-rc.d");
      policy << "#!/bin/sh\n# Temporary, by replfs apache_docroot_test.\nexit 101\n";
      policy.close();
      ::chmod("/usr/sbin/policy-rc.d", 0755);
    }
    const int r = Shell("DEBIAN_FRONTEND=noninteractive apt-get install -y -qq apache2 >/dev/null 2>&1");
    if (own_policy) ::unlink("/usr/sbin/policy-rc.d");
    if (r != 0) {
      return absl::FailedPreconditionError(absl::StrCat(
          "apache2 is not installed and `apt-get install -y apache2` failed (exit ", r,
          "); install it (tools/install-deps.sh) and run the test again"));
    }
  }
  if (::access(kBinary, X_OK) == 0) return std::string(kBinary);
  return absl::FailedPreconditionError("apache2 installed but /usr/sbin/apache2 is missing");
}

void PrintTo(const ApacheSettings& settings, std::ostream* out) {
  *out << "EnableSendfile " << (settings.sendfile ? "On" : "Off") << ", EnableMMAP "
       << (settings.mmap ? "On" : "Off") << ", replfs writeback " << (settings.writeback ? "on" : "off");
}

std::string ApacheServer::ErrorLog() const { return ReadWholeFile(dir_ + "/error.log"); }

absl::Status ApacheServer::Start() {
  if (absl::Status s = WriteConfig(); !s.ok()) return s;
  ChildOptions output;
  output.stdout_path = dir_ + "/stderr.log";
  output.stderr_path = output.stdout_path;
  output.append = true;
  absl::StatusOr<pid_t> pid =
      StartChild({binary_, "-f", ConfigPath(), "-k", "start", "-DFOREGROUND"}, output);
  if (!pid.ok()) return pid.status();
  pid_ = *pid;
  // Ready when every port answers HTTP.
  const Clock::time_point deadline = Clock::now() + seconds(20);
  for (const Site& site : sites_) {
    for (;;) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return absl::InternalError(absl::StrCat("apache2 exited during start-up: ",
                                                ReadWholeFile(dir_ + "/stderr.log"), ErrorLog()));
      }
      if (HttpGet(site.port, "/", milliseconds(1000)).ok()) break;
      if (Clock::now() > deadline) {
        return absl::DeadlineExceededError(
            absl::StrCat("apache2 did not answer on port ", site.port, " within 20 s: ",
                         ReadWholeFile(dir_ + "/stderr.log"), ErrorLog()));
      }
      std::this_thread::sleep_for(milliseconds(50));
    }
  }
  return absl::OkStatus();
}

void ApacheServer::Stop() {
  if (pid_ <= 0) return;
  const std::vector<pid_t> workers = Workers();
  Shell(absl::StrCat(binary_, " -f ", ConfigPath(), " -k stop >/dev/null 2>&1"));
  if (!WaitForExit(seconds(10))) {
    ::kill(pid_, SIGTERM);
    if (!WaitForExit(seconds(5))) {
      ::kill(pid_, SIGKILL);
      WaitForExit(seconds(5));
    }
  }
  // The parent reaps its workers on a clean stop; after a forced one they
  // must not outlive the test (they would keep the mount busy).
  for (const pid_t worker : workers) {
    if (ProcessParent(worker) == pid_) ::kill(worker, SIGKILL);
  }
  pid_ = -1;
}

absl::Status ApacheServer::WriteConfig() const {
  std::ofstream out(ConfigPath());
  out << "# Private test instance; modules as Debian enables them.\n"
      << "ServerRoot \"/etc/apache2\"\n"
      << "ServerName 127.0.0.1\n"
      << "DefaultRuntimeDir \"" << dir_ << "/run\"\n"
      << "PidFile \"" << dir_ << "/run/apache2.pid\"\n"
      << "ErrorLog \"" << dir_ << "/error.log\"\n"
      << "LogLevel warn\n"
      << "User www-data\nGroup www-data\n"
      // Debian's apache2.conf values for these.
      << "Timeout 300\nKeepAlive On\nMaxKeepAliveRequests 100\nKeepAliveTimeout 5\n"
      << "HostnameLookups Off\nAccessFileName .htaccess\n"
      << "IncludeOptional mods-enabled/*.load\n"
      << "IncludeOptional mods-enabled/*.conf\n"
      << "EnableSendfile " << (settings_.sendfile ? "On" : "Off") << "\n"
      << "EnableMMAP " << (settings_.mmap ? "On" : "Off") << "\n"
      << "<Directory />\n  Options FollowSymLinks\n  AllowOverride None\n"
      << "  Require all denied\n</Directory>\n"
      << "<FilesMatch \"^\\.ht\">\n  Require all denied\n</FilesMatch>\n";
  for (const Site& site : sites_) {
    out << "Listen 127.0.0.1:" << site.port << "\n"
        << "<VirtualHost 127.0.0.1:" << site.port << ">\n"
        << "  DocumentRoot \"" << site.document_root << "\"\n"
        // Debian's <Directory /var/www/> block.
        << "  <Directory \"" << site.document_root << "\">\n"
        << "    Options Indexes FollowSymLinks\n    AllowOverride None\n"
        << "    Require all granted\n  </Directory>\n"
        << "</VirtualHost>\n";
  }
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", ConfigPath()));
  if (::mkdir((dir_ + "/run").c_str(), 0755) != 0 && errno != EEXIST) {
    return absl::ErrnoToStatus(errno, "mkdir run dir");
  }
  return absl::OkStatus();
}

bool ApacheServer::WaitForExit(seconds timeout) {
  const Clock::time_point deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    int status = 0;
    const pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_ || r < 0) return true;
    std::this_thread::sleep_for(milliseconds(20));
  }
  return false;
}

pid_t ApacheServer::ProcessParent(pid_t pid) {
  const std::string stat = ReadWholeFile(absl::StrCat("/proc/", pid, "/stat"));
  const size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return -1;
  std::istringstream fields(stat.substr(paren + 2));
  std::string state;
  pid_t parent = -1;
  fields >> state >> parent;
  return parent;
}

std::vector<pid_t> ApacheServer::Workers() const {
  std::vector<pid_t> workers;
  const std::string children =
      ReadWholeFile(absl::StrCat("/proc/", pid_, "/task/", pid_, "/children"));
  std::istringstream in(children);
  pid_t child;
  while (in >> child) workers.push_back(child);
  return workers;
}

}  // namespace replfs::testing::apache
