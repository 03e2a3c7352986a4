#include "daemon/reload_plan.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace replfs {
namespace {

// One setting that only a restart can change, as the operator names it.
struct FixedSetting {
  const char* name;
  std::string running;
  std::string reread;
};

std::string OnOff(bool value) { return value ? "on" : "off"; }

std::vector<FixedSetting> FixedSettings(const Options& running, const Options& reread) {
  const MountOptions& a = running.mount;
  const MountOptions& b = reread.mount;
  const ReplicationOptions& x = running.replication;
  const ReplicationOptions& y = reread.replication;
  return {
      {"state_dir", running.state_dir, reread.state_dir},
      {"cache_timeout", absl::StrCat(a.cache_timeout), absl::StrCat(b.cache_timeout)},
      {"writeback", OnOff(a.writeback_cache), OnOff(b.writeback_cache)},
      {"passthrough", OnOff(a.passthrough), OnOff(b.passthrough)},
      {"inode_fds", absl::StrCat(a.inode_fds), absl::StrCat(b.inode_fds)},
      {"mount options", a.fuse_mount_options, b.fuse_mount_options},
      {"listen", x.listen, y.listen},
      {"metrics", x.metrics, y.metrics},
      {"cluster", x.cluster, y.cluster},
      {"insecure", OnOff(x.insecure), OnOff(y.insecure)},
      {"allow_setuid", OnOff(x.allow_setuid), OnOff(y.allow_setuid)},
      {"tls_ca", x.tls_ca, y.tls_ca},
      {"tls_cert", x.tls_cert, y.tls_cert},
      {"tls_key", x.tls_key, y.tls_key},
      {"tombstone_grace", absl::StrCat(x.tombstone_grace), absl::StrCat(y.tombstone_grace)},
      {"max_rate", absl::StrCat(x.max_rate), absl::StrCat(y.max_rate)},
      {"compression", x.compression, y.compression},
  };
}

}  // namespace

ReloadPlan PlanReload(const Options& running, const Options& reread) {
  ReloadPlan plan;
  if (reread.log_level != running.log_level) plan.log_level = reread.log_level;
  const ReplicationOptions& x = running.replication;
  const ReplicationOptions& y = reread.replication;
  plan.peers_changed = x.peers != y.peers || x.fallback_peers != y.fallback_peers ||
                       x.fallback_after != y.fallback_after;
  if (x.ignore_patterns != y.ignore_patterns) plan.ignore_patterns = y.ignore_patterns;
  plan.version_retention_changed = x.keep_versions_days != y.keep_versions_days ||
                                   x.versions_max_bytes != y.versions_max_bytes ||
                                   x.versions_max_percent != y.versions_max_percent;
  for (const FixedSetting& setting : FixedSettings(running, reread)) {
    if (setting.running == setting.reread) continue;
    plan.refused.push_back(absl::StrCat(setting.name, " cannot change while mounted (the file now "
                                        "says '", setting.reread, "'); keeping '",
                                        setting.running, "' until the next restart"));
  }
  return plan;
}

}  // namespace replfs
