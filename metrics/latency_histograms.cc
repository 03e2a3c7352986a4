#include "metrics/latency_histograms.h"

#include <vector>

namespace replfs {
namespace {

// From well below one FUSE round trip (about 10 us) to stalls worth an alert.
prometheus::Histogram::BucketBoundaries FuseBuckets() {
  return {1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3,
          1e-2, 2.5e-2, 5e-2, 0.1,  0.25,   0.5,  1.0,  2.5};
}

// A commit or an apply: an fsync'd store write at best, a large file's
// hashing or transfer at worst.
prometheus::Histogram::BucketBoundaries ChangeBuckets() {
  return {1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2,
          0.1,  0.25,   0.5,  1.0,  2.5,    5.0,  10.0, 30.0,   60.0};
}

}  // namespace

LatencyHistograms::LatencyHistograms(prometheus::Registry* registry)
    : commit_(&prometheus::BuildHistogram()
                   .Name("replfs_commit_latency_seconds")
                   .Help("Local changes: queued (at the writer's close or the operation) to "
                         "recorded in the change log")
                   .Register(*registry)
                   .Add({}, ChangeBuckets())),
      apply_(&prometheus::BuildHistogram()
                  .Name("replfs_apply_latency_seconds")
                  .Help("Peers' entries: received to applied in the backing directory")
                  .Register(*registry)
                  .Add({}, ChangeBuckets())),
      fuse_requests_(&prometheus::BuildHistogram()
                          .Name("replfs_fuse_request_latency_seconds")
                          .Help("FUSE requests: read from the kernel to answered, by operation")
                          .Register(*registry)) {}

void LatencyHistograms::ObserveApply(absl::Duration latency, uint64_t entries) {
  const double seconds = absl::ToDoubleSeconds(latency);
  for (uint64_t i = 0; i < entries; ++i) apply_->Observe(seconds);
}

prometheus::Histogram* LatencyHistograms::FuseRequest(const std::string& operation) {
  return &fuse_requests_->Add({{"operation", operation}}, FuseBuckets());
}

}  // namespace replfs
