#ifndef REPLFS_TESTS_CHAOS_PROXIED_CLUSTER_H_
#define REPLFS_TESTS_CHAOS_PROXIED_CLUSTER_H_

#include <signal.h>

#include <cstddef>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "replfs.pb.h"
#include "tests/chaos/chaos_common.h"
#include "tests/cluster.h"
#include "tests/support/replica_process.h"
#include "tests/tcp_proxy.h"

namespace replfs::testing::chaos {

// Replicas whose peers are proxies: replica i pulls from j through
// link(i, j), so every directed link can be cut on its own.
class ProxiedCluster {
 public:
  ProxiedCluster() = default;
  ~ProxiedCluster();
  ProxiedCluster(const ProxiedCluster&) = delete;
  ProxiedCluster& operator=(const ProxiedCluster&) = delete;

  absl::Status Init();

  ReplicaProcess& replica(int i) { return *replicas_[static_cast<size_t>(i)]; }
  const ReplicaProcess& replica(int i) const { return *replicas_[static_cast<size_t>(i)]; }
  TcpProxy& link(int from, int to) {
    return *proxies_[static_cast<size_t>(from * kReplicas + to)];
  }
  bool running(int i) const { return replica(i).pid() > 0; }

  absl::Status Start(int i) { return replica(i).Start(); }
  void Kill(int i) {
    Resume(i);
    replica(i).Kill();
  }
  void Pause(int i) {
    if (!running(i)) return;
    ::kill(replica(i).pid(), SIGSTOP);
    paused_[static_cast<size_t>(i)] = true;
  }
  void Resume(int i) {
    if (running(i)) ::kill(replica(i).pid(), SIGCONT);
    paused_[static_cast<size_t>(i)] = false;
  }
  void HealAll() {
    for (auto& proxy : proxies_) proxy->Heal();
  }

  absl::StatusOr<ReplicaStatus> Status(int i) const { return AdminStatus(replica(i)); }
  absl::StatusOr<ConflictsReply> Conflicts(int i) const { return AdminConflicts(replica(i)); }

  // Polls the mounts' digests (cheap ones first) until all agree.
  absl::Status WaitForConvergence(absl::Duration timeout);

  // Status and log tail of every replica, and every log line that names one
  // of `paths`.
  std::string Diagnostics(const std::set<std::string>& paths = {}) const;

 private:
  TempDir dir_{"replfs-chaos"};
  std::vector<int> ports_;
  std::vector<std::unique_ptr<TcpProxy>> proxies_;  // [from * kReplicas + to]
  std::vector<std::unique_ptr<ReplicaProcess>> replicas_;
  std::vector<bool> paused_;
};

}  // namespace replfs::testing::chaos

#endif  // REPLFS_TESTS_CHAOS_PROXIED_CLUSTER_H_
