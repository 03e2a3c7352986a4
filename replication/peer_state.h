#ifndef REPLFS_REPLICATION_PEER_STATE_H_
#define REPLFS_REPLICATION_PEER_STATE_H_

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "replfs.pb.h"

namespace replfs {

inline int64_t UnixMillisNow() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// What one take of a peer's feed brought (PeerState::RecordBatch).
struct BatchReceipt {
  uint64_t applied_seq = 0;  // How far their log is applied here now.
  uint64_t head_seq = 0;     // Their last seq when the batch was cut.
  uint64_t wire_bytes = 0;   // Batches and blocks, as they came.
  uint64_t bytes_saved = 0;  // What gzip spared of plain bytes.
  uint64_t entries = 0;
  uint64_t applied = 0;      // Entries that won and changed something.
  uint64_t block_bytes = 0;  // Block data fetched (plain).
  uint64_t blocks_reused = 0;
};

// What one puller knows about its peer, for replfs-status. Thread-safe.
class PeerState {
 public:
  explicit PeerState(std::string address) { status_.set_address(std::move(address)); }

  void SetConnecting() {
    absl::MutexLock lock(&mu_);
    status_.set_state("connecting");
    live_ = false;
  }
  // A fallback peer not pulled from now (FallbackPolicy says why).
  void SetStandby() {
    absl::MutexLock lock(&mu_);
    status_.set_state("standby");
    status_.set_next_attempt_unix_ms(0);
    live_ = false;
  }
  void SetUse(bool fallback, bool in_use, std::string reason) {
    absl::MutexLock lock(&mu_);
    status_.set_fallback(fallback);
    status_.set_in_use(in_use);
    status_.set_use_reason(std::move(reason));
  }
  void SetConnected(uint64_t node, int64_t skew_ms) {
    absl::MutexLock lock(&mu_);
    if (connected_before_) status_.set_reconnects(status_.reconnects() + 1);
    connected_before_ = true;
    status_.set_state("connected");
    status_.set_node(node);
    status_.set_clock_skew_ms(skew_ms);
    status_.set_last_error("");
    status_.set_last_contact_unix_ms(UnixMillisNow());
    live_ = false;  // Until its log is replayed up to its head.
  }
  // See PeerStatus.ignore_patterns.
  void SetIgnorePatterns(const std::vector<std::string>& patterns) {
    absl::MutexLock lock(&mu_);
    status_.clear_ignore_patterns();
    for (const std::string& pattern : patterns) status_.add_ignore_patterns(pattern);
  }
  // See PeerStatus.missed_purge_seq.
  void SetMissedPurge(uint64_t seq) {
    absl::MutexLock lock(&mu_);
    status_.set_missed_purge_seq(seq);
  }
  void SetRetrying(const std::string& error, int64_t next_attempt_unix_ms) {
    absl::MutexLock lock(&mu_);
    status_.set_state("retrying");
    live_ = false;
    status_.set_last_error(error);
    status_.set_next_attempt_unix_ms(next_attempt_unix_ms);
  }
  void SetRejected(const std::string& error) {
    absl::MutexLock lock(&mu_);
    status_.set_rejected_entries(status_.rejected_entries() + 1);
    status_.set_last_error(error);
  }
  // Entries of theirs not applied because no honest replica sends them
  // (a version of ours we never issued), counted with the rejections.
  void RecordRefused(uint64_t entries, const std::string& why) {
    absl::MutexLock lock(&mu_);
    status_.set_rejected_entries(status_.rejected_entries() + entries);
    status_.set_last_error(why);
  }
  // See PeerStatus.compression.
  void SetCompression(std::string compression) {
    absl::MutexLock lock(&mu_);
    status_.set_compression(std::move(compression));
  }
  void RecordBatch(const BatchReceipt& receipt) {
    absl::MutexLock lock(&mu_);
    const int64_t now = UnixMillisNow();
    status_.set_last_contact_unix_ms(now);
    if (receipt.applied_seq > status_.applied_seq()) status_.set_applied_seq(receipt.applied_seq);
    status_.set_head_seq(receipt.head_seq);
    const uint64_t head_seq = receipt.head_seq;
    const uint64_t lag = head_seq > status_.applied_seq() ? head_seq - status_.applied_seq() : 0;
    status_.set_lag_entries(lag);
    if (lag == 0) caught_up_at_ms_ = now;
    if (lag == 0) live_ = true;
    status_.set_lag_seconds(lag == 0 ? 0.0 : static_cast<double>(now - caught_up_at_ms_) / 1000.0);
    status_.set_bytes_received(status_.bytes_received() + receipt.wire_bytes);
    status_.set_bytes_saved_by_compression(status_.bytes_saved_by_compression() +
                                           receipt.bytes_saved);
    status_.set_entries_received(status_.entries_received() + receipt.entries);
    status_.set_entries_applied(status_.entries_applied() + receipt.applied);
    status_.set_block_bytes_fetched(status_.block_bytes_fetched() + receipt.block_bytes);
    status_.set_blocks_reused_locally(status_.blocks_reused_locally() + receipt.blocks_reused);
  }
  void AddBytes(uint64_t bytes) {
    absl::MutexLock lock(&mu_);
    status_.set_bytes_received(status_.bytes_received() + bytes);
  }
  PeerStatus Snapshot() const {
    absl::MutexLock lock(&mu_);
    PeerStatus copy = status_;
    if (copy.state() == "connected" && copy.lag_entries() > 0) {
      copy.set_lag_seconds(static_cast<double>(UnixMillisNow() - caught_up_at_ms_) / 1000.0);
    }
    return copy;
  }
  uint64_t node() const {
    absl::MutexLock lock(&mu_);
    return status_.node();
  }
  bool connected() const {
    absl::MutexLock lock(&mu_);
    return status_.state() == "connected";
  }
  // Connected, and its log was applied up to its head at least once since
  // (a peer replaying a long backlog is not yet live).
  bool live() const {
    absl::MutexLock lock(&mu_);
    return live_;
  }

 private:
  mutable absl::Mutex mu_;
  PeerStatus status_ ABSL_GUARDED_BY(mu_);
  int64_t caught_up_at_ms_ ABSL_GUARDED_BY(mu_) = UnixMillisNow();
  bool live_ ABSL_GUARDED_BY(mu_) = false;
  bool connected_before_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace replfs

#endif  // REPLFS_REPLICATION_PEER_STATE_H_
