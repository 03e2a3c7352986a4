#ifndef REPLFS_TESTS_APACHE_APACHE_SERVER_H_
#define REPLFS_TESTS_APACHE_APACHE_SERVER_H_

// A private Apache for the docroot test: Debian's apache2 binary and its
// enabled modules, on loopback ports, as www-data.

#include <sys/types.h>

#include <chrono>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace replfs::testing::apache {

// The apache2 binary, installed with apt-get if missing. The package's
// postinst would start the system service; a policy-rc.d that denies it is
// put in place for the install when the system has none (and removed after).
absl::StatusOr<std::string> EnsureApacheInstalled();

// One Apache site: a loopback port and its DocumentRoot.
struct Site {
  int port = 0;
  std::string document_root;
};

struct ApacheSettings {
  bool sendfile = false;  // Debian's apache2.conf leaves the compiled default, Off.
  bool mmap = true;       // The compiled default, On.
  bool writeback = true;  // replfs's default; the README suggests off for a docroot.
};

void PrintTo(const ApacheSettings& settings, std::ostream* out);

// A private Apache: Debian's modules (mods-enabled, as the package ships
// them) under a config of our own. Runs `apache2 -k start -DFOREGROUND` as
// our child, so its PID is known from the start; Stop() asks it with
// `-k stop`, then SIGTERM/SIGKILL by PID. The destructor always stops it.
class ApacheServer {
 public:
  ApacheServer(std::string binary, std::string dir, std::vector<Site> sites, ApacheSettings settings)
      : binary_(std::move(binary)), dir_(std::move(dir)), sites_(std::move(sites)),
        settings_(settings) {}
  ~ApacheServer() { Stop(); }
  ApacheServer(const ApacheServer&) = delete;
  ApacheServer& operator=(const ApacheServer&) = delete;

  std::string ConfigPath() const { return dir_ + "/apache2.conf"; }
  std::string ErrorLog() const;

  absl::Status Start();

  // Stops Apache and its workers; waits (bounded) until the parent is gone.
  void Stop();

 private:
  absl::Status WriteConfig() const;

  bool WaitForExit(std::chrono::seconds timeout);

  static pid_t ProcessParent(pid_t pid);

  // The worker processes Apache forked (children of its parent process).
  std::vector<pid_t> Workers() const;

  std::string binary_;
  std::string dir_;
  std::vector<Site> sites_;
  ApacheSettings settings_;
  pid_t pid_ = -1;
};

}  // namespace replfs::testing::apache

#endif  // REPLFS_TESTS_APACHE_APACHE_SERVER_H_
