#include "replication/replicator.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <optional>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "replication/admin_service.h"
#include "replication/tombstone_purger.h"
#include "storage/conflict_records.h"
#include "storage/deferred_entries.h"
#include "storage/log.h"

namespace replfs {
namespace {

// Fetches from whichever connected peer has the blocks (for deferred
// entries, whose origin stream may be gone).
class AnyPeerFetcher final : public BlockFetcher {
 public:
  AnyPeerFetcher(std::vector<std::shared_ptr<Puller>> pullers, FetchCancellation* cancellation)
      : pullers_(std::move(pullers)), cancellation_(cancellation) {}
  absl::StatusOr<std::vector<std::string>> Fetch(const std::vector<std::string>& hashes) override {
    absl::Status last = absl::UnavailableError("no connected peer");
    for (const auto& puller : pullers_) {
      std::shared_ptr<Replication::Stub> stub = puller->stub();
      if (stub == nullptr) continue;
      GrpcBlockFetcher fetcher(stub, cancellation_, puller->limiter(), puller->compression());
      absl::StatusOr<std::vector<std::string>> blocks = fetcher.Fetch(hashes);
      if (blocks.ok()) return blocks;
      last = blocks.status();
    }
    return last;
  }

 private:
  const std::vector<std::shared_ptr<Puller>> pullers_;
  FetchCancellation* cancellation_;
};

// The applier's options, told this replica's node id.
ApplierOptions ApplierOptionsOf(const ReplicatorConfig& config) {
  ApplierOptions options = config.applier;
  options.node_id = config.node_id;
  return options;
}

SetAsideProblem ProblemOf(const SetAsideRecord& record) {
  SetAsideProblem problem;
  problem.set_path(record.entry().path());
  *problem.mutable_version() = record.entry().content().version();
  problem.set_reason(record.reason());
  problem.set_partial(record.partial());
  for (const std::string& item : record.dropped()) problem.add_dropped(item);
  problem.set_attempts(record.attempts());
  problem.set_first_unix_ms(record.first_unix_ms());
  if (record.retryable()) problem.set_next_attempt_unix_ms(record.next_attempt_unix_ms());
  return problem;
}

}  // namespace

Replicator::Replicator(ReplicatorConfig config, int root_fd, MetadataStore* store,
                       HybridLogicalClock* clock, FilesystemHooks* hooks)
    : config_(std::move(config)), root_fd_(root_fd), store_(store), clock_(clock),
      applier_(root_fd, store, clock, hooks, ApplierOptionsOf(config_)) {}

Replicator::~Replicator() { Stop(); }

absl::Status Replicator::Start() {
  started_unix_ms_ = UnixMillisNow();
  if (!config_.listen.empty()) {
    service_ = std::make_unique<ReplicationService>(
        ReplicationService::Config{config_.cluster, config_.node_id, config_.listen,
                                   config_.applier.ignore},
        store_, clock_, root_fd_);
    grpc::ServerBuilder builder;
    int bound_port = 0;
    builder.AddListeningPort(config_.listen, config_.server_credentials, &bound_port);
    // Requests are small; replies are bounded by what a receiver accepts.
    builder.SetMaxReceiveMessageSize(kMaxSmallMessageBytes);
    builder.SetMaxSendMessageSize(kMaxBatchMessageBytes);
    // gRPC checks a request's size only once all of it is in: without a
    // quota a client's 300 MiB request was buffered whole. Past it gRPC
    // cancels the call ("Buffers full").
    grpc::ResourceQuota quota("replfs-server");
    quota.Resize(kServerBufferBytes);
    builder.SetResourceQuota(quota);
    builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
    builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 5000);
    builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 10000);
    builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 5000);
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    if (server_ == nullptr || bound_port == 0) {
      return absl::UnavailableError(absl::StrCat("cannot listen on ", config_.listen,
                                                 " (address in use or not local?)"));
    }
  }
  if (!config_.admin_socket.empty()) {
    ::unlink(config_.admin_socket.c_str());
    admin_service_ = std::make_unique<AdminService>(store_, config_.applier.versions,
                                                    [this] { return Status(); });
    grpc::ServerBuilder builder;
    int bound = 0;
    builder.AddListeningPort(absl::StrCat("unix:", config_.admin_socket),
                             grpc::InsecureServerCredentials(), &bound);
    builder.RegisterService(admin_service_.get());
    admin_server_ = builder.BuildAndStart();
    if (admin_server_ == nullptr) {
      return absl::UnavailableError(absl::StrCat("cannot open admin socket ", config_.admin_socket));
    }
    ::chmod(config_.admin_socket.c_str(), 0600);
  }
  StartPullers();
  deferred_worker_ = std::thread([this] { RunDeferredWorker(); });
  // Entries deferred before a restart: their files are closed now.
  OnWriteClosed("");
  return absl::OkStatus();
}

std::shared_ptr<Puller> Replicator::MakePuller(const std::string& address, bool fallback) {
  PullerConfig pc;
  pc.peer_address = address;
  pc.cluster = config_.cluster;
  pc.node_id = config_.node_id;
  pc.listen = config_.listen;
  pc.credentials = config_.channel_credentials;
  pc.fallback = fallback;
  pc.latency = config_.latency;
  pc.ignore = config_.applier.ignore;
  pc.max_rate = config_.max_rate;
  pc.compression = config_.compression;
  return std::make_shared<Puller>(pc, store_, &applier_);
}

void Replicator::StartPullers() {
  absl::MutexLock lock(&peers_mu_);
  for (const std::string& peer : config_.peers) pullers_.push_back(MakePuller(peer, false));
  for (const std::string& peer : config_.fallback_peers) {
    pullers_.push_back(MakePuller(peer, true));
  }
  for (auto& puller : pullers_) puller->Start();
  StartFallbackSupervisor();
}

void Replicator::StartFallbackSupervisor() {
  std::vector<Puller*> peers;
  std::vector<Puller*> fallbacks;
  for (const auto& puller : pullers_) {
    (puller->fallback() ? fallbacks : peers).push_back(puller.get());
  }
  if (fallbacks.empty()) return;
  fallback_supervisor_ = std::make_unique<FallbackSupervisor>(config_.fallback_after,
                                                              std::move(peers), fallbacks);
  fallback_supervisor_->Start();
}

void Replicator::SetPeers(const std::vector<std::string>& peers,
                          const std::vector<std::string>& fallback_peers,
                          absl::Duration fallback_after) {
  std::vector<std::shared_ptr<Puller>> stopped;
  {
    absl::MutexLock lock(&peers_mu_);
    if (stopping_peers_) return;
    if (fallback_supervisor_ != nullptr) {
      fallback_supervisor_->Stop();
      fallback_supervisor_.reset();
    }
    // A peer that stays (same address, same role) keeps its puller and its
    // session; the others stop, with their checkpoints left in the store.
    std::vector<std::shared_ptr<Puller>> kept;
    auto take = [&](const std::string& address, bool fallback)
                    ABSL_EXCLUSIVE_LOCKS_REQUIRED(peers_mu_) {
      for (auto& puller : pullers_) {
        if (puller != nullptr && puller->address() == address && puller->fallback() == fallback) {
          kept.push_back(std::move(puller));
          return;
        }
      }
      kept.push_back(MakePuller(address, fallback));
      kept.back()->Start();
    };
    for (const std::string& peer : peers) take(peer, false);
    for (const std::string& peer : fallback_peers) take(peer, true);
    for (auto& puller : pullers_) {
      if (puller != nullptr) stopped.push_back(std::move(puller));
    }
    pullers_ = std::move(kept);
    config_.peers = peers;
    config_.fallback_peers = fallback_peers;
    config_.fallback_after = fallback_after;
    // The fresh supervisor starts with no fallback in use: one in use now
    // is dropped, and taken up again after fallback_after while no
    // configured peer answers.
    StartFallbackSupervisor();
  }
  // Outside the lock: a stopping puller waits for its stream to end.
  for (const auto& puller : stopped) puller->Stop();
}

std::vector<std::shared_ptr<Puller>> Replicator::Pullers() const {
  absl::MutexLock lock(&peers_mu_);
  return pullers_;
}

void Replicator::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  if (service_ != nullptr) service_->Shutdown();
  retry_fetches_.CancelAll();
  std::vector<std::shared_ptr<Puller>> pullers;
  {
    absl::MutexLock lock(&peers_mu_);
    stopping_peers_ = true;
    if (fallback_supervisor_ != nullptr) fallback_supervisor_->Stop();
    pullers = pullers_;
  }
  for (auto& puller : pullers) puller->Stop();
  if (deferred_worker_.joinable()) deferred_worker_.join();
  const auto deadline = std::chrono::system_clock::now() + std::chrono::seconds(2);
  if (server_ != nullptr) server_->Shutdown(deadline);
  if (admin_server_ != nullptr) admin_server_->Shutdown(deadline);
  if (!config_.admin_socket.empty()) ::unlink(config_.admin_socket.c_str());
}

void Replicator::OnWriteClosed(const std::string& path) {
  if (!path.empty()) {
    absl::StatusOr<bool> waiting = DeferredEntries(*store_).Contains(path);
    if (!waiting.ok()) {
      // Queued all the same: the worker's retry reads the store again and
      // reports what still fails.
      LogWarning(absl::StrCat("deferred entries of ", path, ": ", waiting.status().message()));
    } else if (!*waiting) {
      return;
    }
  }
  absl::MutexLock lock(&mu_);
  // Bounded: a path queued twice is applied once; an empty path means all.
  if (closed_queue_.size() < 10000) closed_queue_.push_back(path);
}

void Replicator::RunDeferredWorker() {
  absl::Time last_sweep = absl::Now();
  for (;;) {
    std::optional<std::string> path;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stopping_ || !closed_queue_.empty();
      };
      // Set-aside entries are due from 1 s after they failed.
      mu_.AwaitWithTimeout(absl::Condition(&ready), absl::Seconds(1));
      if (stopping_) return;
      if (!closed_queue_.empty()) {
        path = closed_queue_.front();
        closed_queue_.pop_front();
      } else if (absl::Now() - last_sweep >= absl::Seconds(5)) {
        path = "";  // Periodic sweep: retry everything deferred.
      }
    }
    if (absl::Now() - last_purge_ >= config_.purge_interval) {
      last_purge_ = absl::Now();
      PurgeTombstones();
    }
    AnyPeerFetcher fetcher(Pullers(), &retry_fetches_);
    ApplyStats stats;
    if (path.has_value()) {
      if (path->empty()) last_sweep = absl::Now();
      if (absl::Status s = applier_.RetryDeferred(*path, &fetcher, &stats); !s.ok()) {
        LogWarning(absl::StrCat("deferred apply of ", path->empty() ? "(all)" : *path, ": ",
                                s.message()));
      }
    }
    // A bounded share per round: a long list of set-aside entries must not
    // keep the deferred ones waiting.
    if (absl::Status s = applier_.RetrySetAside(&fetcher, absl::ToUnixMillis(absl::Now()),
                                                /*all=*/false, /*limit=*/64, &stats);
        !s.ok()) {
      LogWarning(absl::StrCat("retrying set-aside entries: ", s.message()));
    }
  }
}

void Replicator::PurgeTombstones() {
  // Every configured peer must have told us how far it applied our log,
  // and so must every other node that pulls from us (a receive-only spoke
  // we never pull from: it learns of deletions only through us).
  absl::StatusOr<absl::flat_hash_map<uint64_t, uint64_t>> acked =
      ReplicationService::AckedBy(*store_);
  if (!acked.ok()) {
    LogWarning(absl::StrCat("tombstone purge: ", acked.status().message()));
    return;
  }
  std::vector<std::optional<uint64_t>> peers;
  absl::flat_hash_set<uint64_t> configured;
  // Fallback peers do not count: a replica we pull from only while our
  // own peers are silent does not pull from us.
  for (const auto& puller : Pullers()) {
    if (puller->fallback()) continue;
    const uint64_t node = puller->state().node();
    configured.insert(node);
    auto it = acked->find(node);
    peers.push_back(node != 0 && it != acked->end() ? std::optional<uint64_t>(it->second)
                                                    : std::nullopt);
  }
  for (const auto& [node, seq] : *acked) {
    if (!configured.contains(node)) peers.push_back(seq);
  }
  TombstonePurger purger(store_, config_.tombstone_grace);
  absl::StatusOr<uint64_t> purged = purger.PurgeOnce(peers, absl::Now());
  if (!purged.ok()) {
    LogWarning(absl::StrCat("tombstone purge: ", purged.status().message()));
  } else if (*purged > 0) {
    LogInfo(absl::StrCat("purged ", *purged, " tombstones every peer has applied"));
  }
}

ReplicaStatus Replicator::Status() const {
  ReplicaStatus status;
  status.set_node(config_.node_id);
  status.set_listen(config_.listen);
  status.set_cluster(config_.cluster);
  status.set_backing(config_.backing);
  status.set_mountpoint(config_.mountpoint);
  status.set_started_unix_ms(started_unix_ms_);
  AddStoreCounts(&status);
  if (commit_failures_) status.set_commit_failures(commit_failures_());
  if (pending_commits_) status.set_pending_commits(pending_commits_());
  if (data_path_) data_path_(&status);
  if (service_ != nullptr) status.set_bytes_served(service_->bytes_served());
  SetAsideByPeer set_aside = CollectSetAside(&status);
  for (const std::string& pattern : IgnorePatternSources()) status.add_ignore_patterns(pattern);
  AddPeers(&status, &set_aside);
  AddPullers(&status);
  // What is left came from no peer configured now.
  for (const auto& [node, problems] : set_aside) {
    status.add_warnings(absl::StrFormat(
        "%d entries set aside from %s (not applied here, retried): first %s: %s",
        problems.first, node == 0 ? "no known peer" : absl::StrFormat("node %016x", node),
        problems.second.front().path(), problems.second.front().reason()));
  }
  return status;
}

void Replicator::AddStoreCounts(ReplicaStatus* status) const {
  status->set_entries(store_->LiveEntries());
  status->set_tombstones(store_->Tombstones());
  status->set_head_seq(store_->LastSeq());
  if (absl::StatusOr<uint64_t> deferred = DeferredEntries(*store_).Count(); deferred.ok()) {
    status->set_deferred(*deferred);
  } else {
    status->add_warnings(
        absl::StrCat("cannot count deferred entries: ", deferred.status().message()));
  }
  if (absl::StatusOr<uint64_t> conflicts = ConflictRecords(*store_).Count(); conflicts.ok()) {
    status->set_conflicts(*conflicts);
  } else {
    status->add_warnings(
        absl::StrCat("cannot count conflict copies: ", conflicts.status().message()));
  }
  if (const VersionKeeper* versions = config_.applier.versions; versions != nullptr) {
    const VersionKeeper::Totals totals = versions->totals();
    const VersionPolicy policy = versions->policy();
    status->set_versions_kept(totals.kept);
    status->set_versions_bytes(totals.bytes);
    status->set_versions_not_kept(totals.not_kept);
    status->set_keep_versions_days(policy.keep_days);
    status->set_versions_max_bytes(policy.max_bytes);
  }
}

Replicator::SetAsideByPeer Replicator::CollectSetAside(ReplicaStatus* status) const {
  // A count per peer, and the first few in full (the list is bounded by the
  // tree, but a status is small).
  constexpr int kProblemsShown = 20;
  SetAsideByPeer set_aside;
  uint64_t total = 0;
  if (absl::Status s = store_->ScanSetAside("", [&](const SetAsideRecord& record) {
        ++total;
        auto& [count, problems] = set_aside[record.peer()];
        ++count;
        if (problems.size() < kProblemsShown) problems.push_back(ProblemOf(record));
        return true;
      });
      !s.ok()) {
    status->add_warnings(absl::StrCat("cannot list set-aside entries: ", s.message()));
  }
  status->set_set_aside(total);
  return set_aside;
}

void Replicator::AddPeers(ReplicaStatus* status, SetAsideByPeer* set_aside) const {
  absl::flat_hash_map<uint64_t, uint64_t> pulled_by;
  if (service_ != nullptr) pulled_by = service_->PulledBy();
  // The patterns in force now (Status filled them in): a reload may have
  // changed them since a peer's hello.
  const std::vector<std::string> ours(status->ignore_patterns().begin(),
                                      status->ignore_patterns().end());
  for (const auto& puller : Pullers()) {
    PeerStatus peer = puller->state().Snapshot();
    peer.set_max_rate(puller->limiter()->bytes_per_second());
    if (auto it = pulled_by.find(peer.node()); it != pulled_by.end()) {
      peer.set_their_applied_seq(it->second);
    }
    if (auto it = set_aside->find(peer.node()); peer.node() != 0 && it != set_aside->end()) {
      peer.set_set_aside_entries(it->second.first);
      for (SetAsideProblem& problem : it->second.second) *peer.add_set_aside() = std::move(problem);
      set_aside->erase(it);
    }
    const std::vector<std::string> theirs(peer.ignore_patterns().begin(),
                                          peer.ignore_patterns().end());
    peer.set_ignore_patterns_differ(peer.node() != 0 && theirs != ours);
    if (peer.ignore_patterns_differ()) {
      status->add_warnings(absl::StrCat("peer ", peer.address(), " has other ignore patterns (",
                                        DescribeIgnorePatterns(theirs), "; here ",
                                        DescribeIgnorePatterns(ours),
                                        "): the trees differ there"));
    }
    if (std::abs(peer.clock_skew_ms()) > 5000) {
      status->add_warnings(absl::StrCat("clock of peer ", peer.address(), " is off by ",
                                        peer.clock_skew_ms(), " ms"));
    }
    *status->add_peers() = std::move(peer);
  }
}

void Replicator::AddPullers(ReplicaStatus* status) const {
  absl::StatusOr<absl::flat_hash_map<uint64_t, uint64_t>> acked =
      ReplicationService::AckedBy(*store_);
  if (!acked.ok()) {
    status->add_warnings(absl::StrCat("cannot list pullers: ", acked.status().message()));
    return;
  }
  absl::flat_hash_set<uint64_t> configured;
  for (const PeerStatus& peer : status->peers()) {
    if (!peer.fallback()) configured.insert(peer.node());
  }
  std::vector<std::pair<uint64_t, uint64_t>> sorted(acked->begin(), acked->end());
  std::sort(sorted.begin(), sorted.end());
  for (const auto& [node, seq] : sorted) {
    PullingNode* puller = status->add_pullers();
    puller->set_node(node);
    puller->set_acknowledged_seq(seq);
    puller->set_is_peer(configured.contains(node));
  }
}

std::vector<std::string> Replicator::IgnorePatternSources() const {
  if (config_.applier.ignore == nullptr) return {};
  return config_.applier.ignore->Sources();
}

}  // namespace replfs
