#ifndef REPLFS_DAEMON_CONFIG_RELOADER_H_
#define REPLFS_DAEMON_CONFIG_RELOADER_H_

#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "base/unique_fd.h"
#include "daemon/options.h"
#include "replication/replicator.h"
#include "storage/ignore_set.h"
#include "storage/version_keeper.h"

namespace replfs {

// Live reload: on SIGHUP (systemctl reload) the config file is read again
// with the same command line, and what can change while mounted changes
// (peers, fallback peers and their patience, the log level, the ignore
// patterns); a setting that cannot is named in one log line and keeps its
// running value. A file that does not parse changes nothing. Every reload
// logs at warning level, so that the default log shows it.
class ConfigReloader {
 public:
  // `argv`: the daemon's command line; `running`: the options parsed from
  // it at start (before ValidateOptions); `config_file`: the config file's
  // absolute name ("" when there is none). `replicator` and `ignore`
  // outlive this.
  ConfigReloader(std::vector<std::string> argv, Options running, std::string config_file,
                 Replicator* replicator, IgnoreSet* ignore, VersionKeeper* versions);
  ~ConfigReloader();  // Stop().
  ConfigReloader(const ConfigReloader&) = delete;
  ConfigReloader& operator=(const ConfigReloader&) = delete;

  // Takes SIGHUP over (from libfuse's handler, which would end the mount)
  // and starts the thread that reloads. One reloader per process.
  absl::Status Start();
  // Ignores SIGHUP from then on and stops the thread.
  void Stop();

  // Reads the config file again and applies it (what SIGHUP does).
  void Reload();

 private:
  void Run();
  void ApplyPeers(const Options& reread);
  void ApplyIgnorePatterns(const std::vector<std::string>& lines);
  void ApplyVersionRetention(const ReplicationOptions& wanted);

  const std::vector<std::string> argv_;
  Options running_;  // Only the reload thread touches it after Start.
  const std::string config_file_;
  Replicator* replicator_;
  IgnoreSet* ignore_;
  VersionKeeper* versions_;
  UniqueFd signal_read_;   // SIGHUP's handler writes a byte to the other end.
  UniqueFd signal_write_;
  UniqueFd stop_;          // eventfd: Stop wakes the thread.
  std::thread thread_;
};

}  // namespace replfs

#endif  // REPLFS_DAEMON_CONFIG_RELOADER_H_
