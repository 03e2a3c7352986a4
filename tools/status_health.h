#ifndef REPLFS_TOOLS_STATUS_HEALTH_H_
#define REPLFS_TOOLS_STATUS_HEALTH_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "replfs.pb.h"
#include "tools/replica_locator.h"

namespace replfs {

// The exit status replfs-status returns, worst over every replica shown.
enum class Health { kHealthy = 0, kDegraded = 1, kUnreachable = 2 };

const char* HealthName(Health health);
Health Worse(Health a, Health b);

// What "lagging" means; past either limit a peer counts as behind.
struct HealthThresholds {
  double max_lag_seconds = 60;
  uint64_t max_lag_entries = 10000;
};

// One peer as seen from one replica, in both directions.
struct PeerAssessment {
  std::string address;
  uint64_t node = 0;    // 0 until the peer has answered once.
  bool down = false;    // Not connected, or connected but silent too long.
  bool behind = false;  // Lagging past a threshold in either direction.
  // Entries from the peer this replica could not apply (whole or in part),
  // kept and retried: this replica does not hold all of the peer's tree.
  bool set_aside = false;
  // The peer forgot deletions this replica never received (a stale
  // replica: PeerStatus.missed_purge_seq).
  bool stale = false;
  // This replica behind the peer: their log not yet applied here.
  uint64_t incoming_lag_entries = 0;
  double incoming_lag_seconds = 0;
  // The peer behind this replica: our log not yet pulled by them. Unknown
  // until the peer has said who it is.
  std::optional<uint64_t> outgoing_lag_entries;
  double silent_seconds = 0;  // Since the last batch or heartbeat from them.
  std::vector<std::string> problems;
};

// Everything replfs-status knows about one replica.
struct ReplicaReport {
  ReplicaLocation location;
  std::string error;                    // Why it is unreachable.
  std::optional<ReplicaStatus> status;  // Set when reachable.
  std::vector<ConflictCopy> conflicts;  // Filled with --conflicts.
  Health health = Health::kUnreachable;
  std::vector<PeerAssessment> peers;
  std::vector<std::string> problems;  // Why not healthy, one line each.
};

// Fills health, peers and problems from status/error. `now_unix_ms` is
// passed in so that tests and the caller agree on "now".
void AssessReplica(const HealthThresholds& thresholds, int64_t now_unix_ms, ReplicaReport* report);

}  // namespace replfs

#endif  // REPLFS_TOOLS_STATUS_HEALTH_H_
