#ifndef REPLFS_REPLICATION_REPLICATOR_H_
#define REPLFS_REPLICATION_REPLICATOR_H_

#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/grpcpp.h"
#include "replication/fallback_supervisor.h"
#include "replication/fetch_cancellation.h"
#include "replication/puller.h"
#include "replication/remote_applier.h"
#include "replication/replication_service.h"

namespace replfs {

struct ReplicatorConfig {
  std::string cluster = "replfs";
  uint64_t node_id = 0;
  std::string listen;                 // HOST:PORT; empty: do not serve.
  std::vector<std::string> peers;     // HOST:PORT each.
  // Pulled from only while none of `peers` answers (FallbackPolicy), in
  // this order of preference, after `fallback_after` of silence.
  std::vector<std::string> fallback_peers;
  absl::Duration fallback_after = absl::Seconds(10);
  std::string admin_socket;           // Unix socket path for replfs-status.
  std::string backing;
  std::string mountpoint;
  ApplierOptions applier;
  std::shared_ptr<grpc::ServerCredentials> server_credentials;
  std::shared_ptr<grpc::ChannelCredentials> channel_credentials;
  // Tombstones older than this, applied by every known peer, are purged.
  absl::Duration tombstone_grace = absl::Hours(24);
  absl::Duration purge_interval = absl::Minutes(1);
  // Bytes a second taken from each peer at most (-o max_rate); 0: no limit.
  uint64_t max_rate = 0;
  // How peers are asked to send (-o compression).
  Compression compression = COMPRESSION_NONE;
  // Times each pulled take from received to applied (-o metrics).
  LatencyHistograms* latency = nullptr;
};

// Everything replication runs in one replica: the server for peers, one
// puller per peer, the remote applier, the local admin endpoint, and the
// worker that applies entries deferred while a file was open for writing.
class Replicator {
 public:
  Replicator(ReplicatorConfig config, int root_fd, MetadataStore* store, HybridLogicalClock* clock,
             FilesystemHooks* hooks);
  ~Replicator();
  Replicator(const Replicator&) = delete;
  Replicator& operator=(const Replicator&) = delete;

  // Binds the listen address and admin socket and starts the pullers.
  absl::Status Start();
  // Stops pullers and servers; the store is consistent afterwards (every
  // applied batch was committed with its checkpoint advanced after it).
  void Stop();

  // Called (from a FUSE thread) when the last writer of `path` closed:
  // entries that waited for it are applied soon, off that thread.
  void OnWriteClosed(const std::string& path);

  // Replaces the peers pulled from (a reload): pullers of peers no longer
  // listed stop (their checkpoints stay in the store), pullers of new ones
  // start, those of peers that stay keep their sessions; the fallback
  // supervisor starts afresh over the new lists. After Stop, nothing.
  void SetPeers(const std::vector<std::string>& peers,
                const std::vector<std::string>& fallback_peers, absl::Duration fallback_after)
      ABSL_LOCKS_EXCLUDED(peers_mu_);

  ReplicaStatus Status() const;
  RemoteApplier& applier() { return applier_; }
  void set_commit_failures_source(std::function<uint64_t()> source) {
    commit_failures_ = std::move(source);
  }
  // How many local changes wait for their commit (files written and still
  // open), for status.
  void set_pending_commits_source(std::function<uint64_t()> source) {
    pending_commits_ = std::move(source);
  }
  // Fills the status's data path (FUSE's side knows it), for status.
  void set_data_path_source(std::function<void(ReplicaStatus*)> source) {
    data_path_ = std::move(source);
  }

 private:
  // Entries set aside, by the peer they came from: how many, and the first
  // few.
  using SetAsideByPeer =
      absl::flat_hash_map<uint64_t, std::pair<uint64_t, std::vector<SetAsideProblem>>>;
  // The parts of Status: the store's counts, the set-aside entries (their
  // total set), each configured peer (taking its set-aside entries out of
  // `set_aside`), and the nodes that pull from us.
  void AddStoreCounts(ReplicaStatus* status) const;
  SetAsideByPeer CollectSetAside(ReplicaStatus* status) const;
  void AddPeers(ReplicaStatus* status, SetAsideByPeer* set_aside) const;
  void AddPullers(ReplicaStatus* status) const;
  // The patterns of -o ignore= as given (none without an applier's set).
  std::vector<std::string> IgnorePatternSources() const;
  std::shared_ptr<Puller> MakePuller(const std::string& address, bool fallback);
  void StartPullers() ABSL_LOCKS_EXCLUDED(peers_mu_);
  void StartFallbackSupervisor() ABSL_EXCLUSIVE_LOCKS_REQUIRED(peers_mu_);
  // The pullers now (a reload may replace them meanwhile).
  std::vector<std::shared_ptr<Puller>> Pullers() const ABSL_LOCKS_EXCLUDED(peers_mu_);
  void RunDeferredWorker();
  void PurgeTombstones();

  ReplicatorConfig config_;
  int root_fd_;
  MetadataStore* store_;
  HybridLogicalClock* clock_;
  RemoteApplier applier_;
  std::unique_ptr<ReplicationService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<grpc::Service> admin_service_;
  std::unique_ptr<grpc::Server> admin_server_;
  // Configured peers first, then fallback peers. config_.peers,
  // fallback_peers and fallback_after change with them, under peers_mu_.
  mutable absl::Mutex peers_mu_;
  std::vector<std::shared_ptr<Puller>> pullers_ ABSL_GUARDED_BY(peers_mu_);
  std::unique_ptr<FallbackSupervisor> fallback_supervisor_ ABSL_GUARDED_BY(peers_mu_);
  bool stopping_peers_ ABSL_GUARDED_BY(peers_mu_) = false;
  int64_t started_unix_ms_ = 0;
  std::function<uint64_t()> commit_failures_;
  std::function<uint64_t()> pending_commits_;
  std::function<void(ReplicaStatus*)> data_path_;

  mutable absl::Mutex mu_;
  absl::flat_hash_set<std::string> deferred_paths_ ABSL_GUARDED_BY(mu_);
  std::deque<std::string> closed_queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread deferred_worker_;
  // The deferred worker's block fetches (deferred and set-aside entries),
  // cancelled by Stop.
  FetchCancellation retry_fetches_;
  absl::Time last_purge_ = absl::Now();
};

}  // namespace replfs

#endif  // REPLFS_REPLICATION_REPLICATOR_H_
