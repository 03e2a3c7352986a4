#ifndef REPLFS_FUSE_REQUEST_LATENCY_H_
#define REPLFS_FUSE_REQUEST_LATENCY_H_

#include <array>
#include <chrono>
#include <cstdint>

#include "metrics/latency_histograms.h"
#include "prometheus/histogram.h"

namespace replfs {

// FUSE request latency by operation, for the kernel channel: one histogram
// per opcode the daemon answers, looked up by opcode (no string, no map on
// the request path). Opcodes it does not know count as "other".
class RequestLatency {
 public:
  explicit RequestLatency(LatencyHistograms* histograms);

  void Observe(uint32_t opcode, std::chrono::steady_clock::duration latency) const {
    prometheus::Histogram* histogram = opcode < by_opcode_.size() ? by_opcode_[opcode] : other_;
    histogram->Observe(std::chrono::duration<double>(latency).count());
  }

 private:
  static constexpr size_t kOpcodes = 64;
  std::array<prometheus::Histogram*, kOpcodes> by_opcode_{};
  prometheus::Histogram* other_;
};

}  // namespace replfs

#endif  // REPLFS_FUSE_REQUEST_LATENCY_H_
