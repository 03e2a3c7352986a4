#ifndef REPLFS_METRICS_LATENCY_HISTOGRAMS_H_
#define REPLFS_METRICS_LATENCY_HISTOGRAMS_H_

#include <string>

#include "absl/time/time.h"
#include "prometheus/family.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace replfs {

// How long the daemon's work takes, as Prometheus histograms in seconds:
//   replfs_commit_latency_seconds        a local change (a writer's close,
//                                        a rename, ...) queued to recorded
//                                        in the store, where peers read it;
//   replfs_apply_latency_seconds         a peer's entry received to applied
//                                        here (readable through the mount);
//   replfs_fuse_request_latency_seconds  a FUSE request read from the kernel
//                                        to answered, by operation.
// Observing takes prometheus-cpp's per-histogram mutex, uncontended but for
// requests of one operation at once: cheap beside a FUSE round trip.
class LatencyHistograms {
 public:
  explicit LatencyHistograms(prometheus::Registry* registry);
  LatencyHistograms(const LatencyHistograms&) = delete;
  LatencyHistograms& operator=(const LatencyHistograms&) = delete;

  void ObserveCommit(absl::Duration latency) { commit_->Observe(absl::ToDoubleSeconds(latency)); }
  // `entries` entries that arrived together and were applied in `latency`.
  void ObserveApply(absl::Duration latency, uint64_t entries);
  // The histogram of FUSE requests of `operation` ("lookup", "getattr", ...),
  // made on first use; hold on to it (the FUSE path looks it up once).
  prometheus::Histogram* FuseRequest(const std::string& operation);

 private:
  prometheus::Histogram* commit_;
  prometheus::Histogram* apply_;
  prometheus::Family<prometheus::Histogram>* fuse_requests_;
};

}  // namespace replfs

#endif  // REPLFS_METRICS_LATENCY_HISTOGRAMS_H_
