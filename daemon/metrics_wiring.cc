#include "daemon/metrics_wiring.h"

#include <optional>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "storage/log.h"

namespace replfs {

std::unique_ptr<ReplicaMetrics> ReplicaMetrics::Create(const ReplicationOptions& options) {
  if (options.metrics.empty()) return nullptr;
  std::optional<MutualTlsFiles> tls;
  // The same trust as replication: scrapers need a certificate of the cluster CA.
  if (!options.tls_ca.empty()) {
    tls = MutualTlsFiles{options.tls_ca, options.tls_cert, options.tls_key};
  }
  return std::unique_ptr<ReplicaMetrics>(new ReplicaMetrics(options.metrics, std::move(tls)));
}

absl::StatusOr<std::unique_ptr<MetricsServer>> ReplicaMetrics::Serve(
    std::function<ReplicaStatus()> status) {
  absl::StatusOr<std::unique_ptr<MetricsServer>> server =
      MetricsServer::Start(address_, registry_, std::move(status), tls_,
                           [](const std::string& warning) { LogWarning(warning); });
  if (!server.ok()) return server.status();
  LogInfo(absl::StrCat("metrics at ", tls_.has_value() ? "https://" : "http://", address_,
                       "/metrics (port ", (*server)->port(), ")",
                       tls_.has_value() ? ", mutual TLS: scrapers need a cluster certificate"
                                        : ""));
  return server;
}

}  // namespace replfs
