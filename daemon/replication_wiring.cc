#include "daemon/replication_wiring.h"

#include <algorithm>
#include <string>

#include "replfs.pb.h"
#include "replication/tls_credentials.h"

namespace replfs {

absl::StatusOr<ReplicatorConfig> MakeReplicatorConfig(const Options& options,
                                                      const StateDir& state,
                                                      const std::string& hidden) {
  const ReplicationOptions& given = options.replication;
  ReplicatorConfig config;
  config.cluster = given.cluster;
  config.node_id = state.node_id();
  config.listen = given.listen;
  config.peers = given.peers;
  config.fallback_peers = given.fallback_peers;
  config.fallback_after = absl::Seconds(given.fallback_after);
  config.admin_socket = state.path() + "/admin.sock";
  config.backing = options.mount.backing;
  config.mountpoint = options.mount.mountpoint;
  config.applier.hidden_name = hidden;
  config.applier.allow_setuid = given.allow_setuid;
  config.max_rate = given.max_rate;
  config.compression = given.compression == "gzip" ? COMPRESSION_GZIP : COMPRESSION_NONE;
  config.tombstone_grace = absl::Seconds(given.tombstone_grace);
  // Short graces (tests, small sites) get checked more often.
  config.purge_interval = std::min(absl::Minutes(1), absl::Seconds(given.tombstone_grace));
  config.applier.temp_dir = state.TempPath();
  config.applier.conflicts_dir = state.ConflictsPath();
  absl::StatusOr<ReplicationCredentials> credentials =
      MakeReplicationCredentials(TlsFiles{given.tls_ca, given.tls_cert, given.tls_key});
  if (!credentials.ok()) return credentials.status();
  config.server_credentials = credentials->server;
  config.channel_credentials = credentials->channel;
  return config;
}

void ConnectFilesystemAndReplication(ReplicaFs* fs, Replicator* replicator) {
  replicator->set_commit_failures_source([fs] { return fs->commit_path.failures(); });
  replicator->set_pending_commits_source(
      [fs] { return fs->inodes.CountUncommitted() + fs->commit_path.Pending(); });
  replicator->set_data_path_source([fs](ReplicaStatus* status) {
    if (!fs->DataPathSettled()) {
      status->set_data_path("starting");
      status->set_data_path_reason("the kernel has not connected yet");
      return;
    }
    const bool passthrough = fs->backing_files->active();
    status->set_data_path(passthrough ? "passthrough" : "fuse");
    if (!passthrough) status->set_data_path_reason(fs->fuse_io_reason);
  });
  fs->on_write_closed = [replicator](const std::string& path) {
    replicator->OnWriteClosed(path);
  };
}

}  // namespace replfs
