#include "daemon/metrics_wiring.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "storage/log.h"

namespace replfs {

std::unique_ptr<ReplicaMetrics> ReplicaMetrics::Create(const ReplicationOptions& options) {
  if (options.metrics.empty()) return nullptr;
  return std::unique_ptr<ReplicaMetrics>(new ReplicaMetrics(options.metrics));
}

absl::StatusOr<std::unique_ptr<MetricsServer>> ReplicaMetrics::Serve(
    std::function<ReplicaStatus()> status) {
  absl::StatusOr<std::unique_ptr<MetricsServer>> server =
      MetricsServer::Start(address_, registry_, std::move(status));
  if (!server.ok()) return server.status();
  LogInfo(absl::StrCat("metrics at http://", address_, "/metrics (port ", (*server)->port(),
                       ")"));
  return server;
}

}  // namespace replfs
