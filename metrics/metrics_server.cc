#include "metrics/metrics_server.h"

#include <exception>
#include <iterator>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "prometheus/metric_family.h"
#include "prometheus/text_serializer.h"

namespace replfs {
namespace {

// civetweb takes IP literals, not names.
std::string ListeningPort(const std::string& host_port) {
  const size_t colon = host_port.rfind(':');
  std::string host = host_port.substr(0, colon);
  if (host == "localhost") host = "127.0.0.1";
  return absl::StrCat(host, ":", host_port.substr(colon + 1));
}

}  // namespace

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(
    const std::string& host_port, std::shared_ptr<prometheus::Registry> registry,
    std::function<ReplicaStatus()> status, std::optional<MutualTlsFiles> tls,
    std::function<void(const std::string&)> warn) {
  std::unique_ptr<MetricsServer> server(new MetricsServer());
  server->registry_ = std::move(registry);
  server->status_metrics_ = std::make_shared<StatusMetrics>(std::move(status));
  if (tls.has_value()) {
    absl::StatusOr<std::unique_ptr<TlsHttpListener>> listener = TlsHttpListener::Start(
        host_port, *tls, [raw = server.get()] { return raw->Exposition(); }, std::move(warn));
    if (!listener.ok()) {
      return absl::Status(listener.status().code(),
                          absl::StrCat("cannot serve metrics on ", host_port, ": ",
                                       listener.status().message()));
    }
    server->tls_listener_ = *std::move(listener);
    server->port_ = server->tls_listener_->port();
    return server;
  }
  const std::vector<std::string> options = {"listening_ports", ListeningPort(host_port),
                                            "num_threads", "2"};
  // prometheus-cpp reports a port it cannot bind by throwing from
  // civetweb; here it becomes the start-up error.
  try {
    server->exposer_ = std::make_unique<prometheus::Exposer>(options);
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("cannot serve metrics on ", host_port, ": ", e.what()));
  }
  const std::vector<int> ports = server->exposer_->GetListeningPorts();
  if (ports.empty()) {
    return absl::UnavailableError(absl::StrCat("cannot serve metrics on ", host_port));
  }
  server->port_ = ports.front();
  server->exposer_->RegisterCollectable(server->registry_);
  server->exposer_->RegisterCollectable(server->status_metrics_);
  return server;
}

std::string MetricsServer::Exposition() const {
  std::vector<prometheus::MetricFamily> families = registry_->Collect();
  std::vector<prometheus::MetricFamily> status = status_metrics_->Collect();
  families.insert(families.end(), std::make_move_iterator(status.begin()),
                  std::make_move_iterator(status.end()));
  return prometheus::TextSerializer().Serialize(families);
}

}  // namespace replfs
