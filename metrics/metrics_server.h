#ifndef REPLFS_METRICS_METRICS_SERVER_H_
#define REPLFS_METRICS_METRICS_SERVER_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "metrics/status_metrics.h"
#include "prometheus/exposer.h"
#include "prometheus/registry.h"
#include "replfs.pb.h"

namespace replfs {

// Serves /metrics in the Prometheus text format (prometheus-cpp's exposer,
// an embedded civetweb): what `registry` holds (the latency histograms) and
// the replica's status, read from `status` at each scrape. Plain HTTP
// only: Debian 12's civetweb 1.15 calls a null OpenSSL 3 function on the
// first TLS connection and takes the daemon down, so metrics stay on
// loopback (or a trusted network with -o insecure) and are scraped across
// the network through a TLS-terminating proxy. Destroy it before what
// `status` reads: its threads stop with it.
class MetricsServer {
 public:
  // Listens on `host_port` (an IP literal, [v6] or localhost; port 0 picks
  // a free one). Fails with the reason, never throws.
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(
      const std::string& host_port, std::shared_ptr<prometheus::Registry> registry,
      std::function<ReplicaStatus()> status);
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  // The port it listens on.
  int port() const { return port_; }

 private:
  MetricsServer() = default;

  std::shared_ptr<prometheus::Registry> registry_;
  std::shared_ptr<StatusMetrics> status_metrics_;
  int port_ = 0;
  // Last: its threads scrape everything above; it stops first.
  std::unique_ptr<prometheus::Exposer> exposer_;
};

}  // namespace replfs

#endif  // REPLFS_METRICS_METRICS_SERVER_H_
