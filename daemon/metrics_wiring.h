#ifndef REPLFS_DAEMON_METRICS_WIRING_H_
#define REPLFS_DAEMON_METRICS_WIRING_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "daemon/replication_options.h"
#include "fuse/request_latency.h"
#include "metrics/latency_histograms.h"
#include "metrics/metrics_server.h"
#include "metrics/tls_http_listener.h"
#include "prometheus/registry.h"
#include "replfs.pb.h"

namespace replfs {

// A replica's metrics (-o metrics): the histograms that the FUSE and
// replication paths observe, made before either starts and kept until
// both are gone, and the endpoint that serves them with the status.
class ReplicaMetrics {
 public:
  // Null when -o metrics is not given: nothing is timed.
  static std::unique_ptr<ReplicaMetrics> Create(const ReplicationOptions& options);
  ReplicaMetrics(const ReplicaMetrics&) = delete;
  ReplicaMetrics& operator=(const ReplicaMetrics&) = delete;

  LatencyHistograms* latency() { return &latency_; }
  const RequestLatency* requests() const { return &requests_; }

  // Starts serving /metrics at -o metrics, over mutual TLS with the
  // replication's certificates when it has them; `status` is read at each
  // scrape (destroy the server before what it reads).
  absl::StatusOr<std::unique_ptr<MetricsServer>> Serve(std::function<ReplicaStatus()> status);

 private:
  ReplicaMetrics(std::string address, std::optional<MutualTlsFiles> tls)
      : address_(std::move(address)),
        tls_(std::move(tls)),
        registry_(std::make_shared<prometheus::Registry>()),
        latency_(registry_.get()),
        requests_(&latency_) {}

  std::string address_;  // -o metrics.
  std::optional<MutualTlsFiles> tls_;  // -o tls_ca, tls_cert, tls_key; none: plain HTTP.
  std::shared_ptr<prometheus::Registry> registry_;
  LatencyHistograms latency_;
  RequestLatency requests_;
};

}  // namespace replfs

#endif  // REPLFS_DAEMON_METRICS_WIRING_H_
