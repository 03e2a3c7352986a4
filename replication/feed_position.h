#ifndef REPLFS_REPLICATION_FEED_POSITION_H_
#define REPLFS_REPLICATION_FEED_POSITION_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "replfs.pb.h"

namespace replfs {

// Where one session of a peer's Changes feed stands, and what the feed may
// claim about the peer's log. Seqs are the peer's; the checkpoint keys our
// whole future view of its log, so a batch is checked before anything of
// it is applied (issue 10: one entry at seq 2^64-1 used to move the
// checkpoint to the end of time, and the peer's real log was never pulled
// again):
// - entries come in strictly increasing seq order, all past the checkpoint
//   (the feed replays seq > since);
// - no seq exceeds the head the batch announces, and no head exceeds what
//   the peer can have reached: the head it announced at Hello plus what it
//   can have committed since (no replica commits 2^24 changes a second);
// - the checkpoint moves only to a seq the batch covered: its last entry,
//   or the through_seq the feed vouches for (entries of ours it skipped),
//   never past its head.
class FeedPosition {
 public:
  // Most changes a replica can commit per second, and the slack on top.
  static constexpr uint64_t kMaxSeqsPerSecond = uint64_t{1} << 24;
  static constexpr uint64_t kSeqSlack = uint64_t{1} << 32;

  FeedPosition(uint64_t checkpoint, uint64_t announced_head, absl::Time hello_time)
      : checkpoint_(checkpoint), announced_head_(announced_head), hello_time_(hello_time) {}

  // Checks `batch`: returns the seq the checkpoint moves to once all of it
  // is applied (or set aside), or why the feed cannot be believed.
  absl::StatusOr<uint64_t> Check(const ChangeBatch& batch, absl::Time now) const;

  // The batch checked with `covered` was applied.
  void Advance(uint64_t covered) {
    if (covered > checkpoint_) checkpoint_ = covered;
  }
  uint64_t checkpoint() const { return checkpoint_; }

  // The checkpoint to resume a peer's feed from, given the head it
  // announces at Hello. A checkpoint past that head cannot be right (an
  // honest peer's head only grows, and we only checkpoint what it sent):
  // its log is pulled again from the start, which LWW makes harmless.
  static uint64_t ResumeFrom(uint64_t checkpoint, uint64_t announced_head) {
    return checkpoint > announced_head ? 0 : checkpoint;
  }

 private:
  uint64_t checkpoint_;
  uint64_t announced_head_;
  absl::Time hello_time_;
};

}  // namespace replfs

#endif  // REPLFS_REPLICATION_FEED_POSITION_H_
