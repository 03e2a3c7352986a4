#ifndef REPLFS_METRICS_STATUS_METRICS_H_
#define REPLFS_METRICS_STATUS_METRICS_H_

#include <cstdint>
#include <functional>
#include <utility>
#include <vector>

#include "prometheus/collectable.h"
#include "prometheus/metric_family.h"
#include "replfs.pb.h"

namespace replfs {

// The replica's status (what `replfs-status` shows) as Prometheus metrics,
// taken afresh at each scrape: the replica's counts, one series per peer
// (labels `peer`, its HOST:PORT, and `role`, "peer" or "fallback") and per
// node that pulls from this replica. Counters count since the daemon
// started, as Prometheus expects of a process's counters.
class StatusMetrics final : public prometheus::Collectable {
 public:
  explicit StatusMetrics(std::function<ReplicaStatus()> status) : status_(std::move(status)) {}
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  std::function<ReplicaStatus()> status_;
};

// The families of `status`, taken at `now_unix_ms` (Collect's work).
std::vector<prometheus::MetricFamily> StatusFamilies(const ReplicaStatus& status,
                                                     int64_t now_unix_ms);

}  // namespace replfs

#endif  // REPLFS_METRICS_STATUS_METRICS_H_
