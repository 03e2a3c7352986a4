#ifndef REPLFS_TOOLS_STATUS_FORMAT_H_
#define REPLFS_TOOLS_STATUS_FORMAT_H_

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tools/status_health.h"

namespace replfs {

struct FormatOptions {
  bool conflicts = false;  // List conflict copies with how to restore each.
  bool pretty = true;      // JSON: indented (false: one line, for --watch).
  int64_t now_unix_ms = 0;
  HealthThresholds thresholds;
};

// The human table: one block per replica, one row per peer.
void PrintHumanReport(const std::vector<ReplicaReport>& reports, Health overall,
                      const FormatOptions& options, std::ostream& out);

// One JSON document: {"health", "exit_code", "thresholds", "replicas": [
//   {"target", "mountpoint", "state_dir", "node" (hex), "reachable", "health", "problems",
//    "error", "peers": [{"address", "node", "down", "behind", "incoming_lag_entries",
//    "incoming_lag_seconds", "outgoing_lag_entries" (null: unknown), "silent_seconds",
//    "problems"}], "status": <ReplicaStatus as proto3 JSON>,
//    "conflicts": [<ConflictCopy> + name, copy_file, restore_command]}]}.
// Proto fields keep their proto names; 64-bit integers inside "status" and
// "conflicts" are strings, as proto3 JSON prescribes.
absl::StatusOr<std::string> JsonReport(const std::vector<ReplicaReport>& reports, Health overall,
                                       const FormatOptions& options);

}  // namespace replfs

#endif  // REPLFS_TOOLS_STATUS_FORMAT_H_
