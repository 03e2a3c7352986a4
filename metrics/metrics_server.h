#ifndef REPLFS_METRICS_METRICS_SERVER_H_
#define REPLFS_METRICS_METRICS_SERVER_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "metrics/status_metrics.h"
#include "metrics/tls_http_listener.h"
#include "prometheus/exposer.h"
#include "prometheus/registry.h"
#include "replfs.pb.h"

namespace replfs {

// Serves /metrics in the Prometheus text format (prometheus-cpp's
// collectables and text serializer): what `registry` holds (the latency
// histograms) and the replica's status, read from `status` at each scrape.
// Without TLS files, plain HTTP through prometheus-cpp's exposer (an
// embedded civetweb), for loopback or a trusted network. With them, HTTPS
// with mutual TLS through TlsHttpListener: Debian 12's civetweb 1.15 calls
// a null OpenSSL 3 function on its first TLS connection and would take the
// daemon down, so civetweb never sees TLS. Destroy it before what `status`
// reads: its threads stop with it.
class MetricsServer {
 public:
  // Listens on `host_port` (an IP literal, [v6] or localhost; port 0 picks
  // a free one); over mutual TLS when `tls` is given, `warn` then hearing
  // of refused clients now and then. Fails with the reason, never throws.
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(
      const std::string& host_port, std::shared_ptr<prometheus::Registry> registry,
      std::function<ReplicaStatus()> status, std::optional<MutualTlsFiles> tls = std::nullopt,
      std::function<void(const std::string&)> warn = nullptr);
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  // The port it listens on.
  int port() const { return port_; }

 private:
  MetricsServer() = default;

  // What a scrape over TLS returns: the families of both collectables.
  std::string Exposition() const;

  std::shared_ptr<prometheus::Registry> registry_;
  std::shared_ptr<StatusMetrics> status_metrics_;
  int port_ = 0;
  // Last: whichever serves, its threads scrape everything above; it stops first.
  std::unique_ptr<prometheus::Exposer> exposer_;
  std::unique_ptr<TlsHttpListener> tls_listener_;
};

}  // namespace replfs

#endif  // REPLFS_METRICS_METRICS_SERVER_H_
