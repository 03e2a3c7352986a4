#ifndef REPLFS_DAEMON_RELOAD_PLAN_H_
#define REPLFS_DAEMON_RELOAD_PLAN_H_

#include <optional>
#include <string>
#include <vector>

#include "daemon/options.h"
#include "storage/log.h"

namespace replfs {

// What a reload (SIGHUP) does with the settings read again: those that can
// change while mounted and did, and one sentence for each that changed but
// cannot (the replica keeps its running value).
struct ReloadPlan {
  std::optional<LogLevel> log_level;
  // peers, fallback_peers or fallback_after.
  bool peers_changed = false;
  // The new -o ignore= lines (the file's included), when they changed.
  std::optional<std::vector<std::string>> ignore_patterns;
  // keep_versions or versions_max.
  bool version_retention_changed = false;
  std::vector<std::string> refused;

  bool empty() const {
    return !log_level && !peers_changed && !ignore_patterns && !version_retention_changed &&
           refused.empty();
  }
};

// Compares the options the replica runs with against the options parsed
// again from the same command line and the config file as it is now (both
// as ParseOptions returns them, before ValidateOptions).
ReloadPlan PlanReload(const Options& running, const Options& reread);

}  // namespace replfs

#endif  // REPLFS_DAEMON_RELOAD_PLAN_H_
