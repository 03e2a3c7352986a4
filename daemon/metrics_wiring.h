#ifndef REPLFS_DAEMON_METRICS_WIRING_H_
#define REPLFS_DAEMON_METRICS_WIRING_H_

#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "daemon/replication_options.h"
#include "fuse/request_latency.h"
#include "metrics/latency_histograms.h"
#include "metrics/metrics_server.h"
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

  // Starts serving /metrics at -o metrics; `status` is read at each scrape
  // (destroy the server before what it reads).
  absl::StatusOr<std::unique_ptr<MetricsServer>> Serve(std::function<ReplicaStatus()> status);

 private:
  explicit ReplicaMetrics(std::string address)
      : address_(std::move(address)),
        registry_(std::make_shared<prometheus::Registry>()),
        latency_(registry_.get()),
        requests_(&latency_) {}

  std::string address_;  // -o metrics.
  std::shared_ptr<prometheus::Registry> registry_;
  LatencyHistograms latency_;
  RequestLatency requests_;
};

}  // namespace replfs

#endif  // REPLFS_DAEMON_METRICS_WIRING_H_
