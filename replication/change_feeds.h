#ifndef REPLFS_REPLICATION_CHANGE_FEEDS_H_
#define REPLFS_REPLICATION_CHANGE_FEEDS_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "replfs.pb.h"
#include "storage/change_signal.h"
#include "storage/metadata_store.h"

namespace replfs {

// What the change feeds ask of the replica whose log they serve
// (ReplicationService). Called on the feeds' thread, never in a reaction.
class FeedSource {
 public:
  virtual ~FeedSource() = default;
  // `node` opens a feed after `since` (its checkpoint).
  virtual absl::Status BeginFeed(uint64_t node, uint64_t since) = 0;
  // The batch to send `node` after `since`, ready to write (in the
  // `compression` it asked for); none when the log has nothing new for it
  // and no heartbeat is due.
  virtual absl::StatusOr<std::optional<ChangeBatch>> BatchAfter(uint64_t node, uint64_t since,
                                                                Compression compression,
                                                                bool heartbeat_due) = 0;
  // `node` was sent the log through `through`.
  virtual void Sent(uint64_t node, uint64_t through) = 0;
};

// The open Changes streams and the thread that fills them.
//
// Each stream is a callback reactor with one batch in flight
// (StartWrite, OnWriteDone, then the next): a slow peer slows only its own
// stream, and a stream holds at most one batch. Building a batch scans
// LevelDB and may read small files back, which can wait on the disk, and
// reactions must not wait: batches are built on this object's own thread,
// one stream at a time (a batch takes milliseconds, a replica has a few
// pullers; the one that waited longest goes first). A caught-up stream
// takes no thread: it waits for the store to log past what it has seen
// (ChangeSignal) or for its heartbeat to fall due.
class ChangeFeeds {
 public:
  // A stream with nothing to send still sends an empty batch this often:
  // it carries our head (the puller's lag figures) and shows we are alive.
  static constexpr absl::Duration kHeartbeat = absl::Seconds(1);

  // Starts the thread. `store` and `source` outlive this object.
  ChangeFeeds(MetadataStore* store, FeedSource* source);
  // Shutdown(). REQUIRES: every stream is done (its server shut down).
  ~ChangeFeeds();
  ChangeFeeds(const ChangeFeeds&) = delete;
  ChangeFeeds& operator=(const ChangeFeeds&) = delete;

  // The reactor of `node`'s new feed after `since`, sent in `compression`.
  grpc::ServerWriteReactor<ChangeBatch>* Open(uint64_t node, uint64_t since,
                                              Compression compression) ABSL_LOCKS_EXCLUDED(mu_);
  // A reactor that ends its stream at once with `status`.
  static grpc::ServerWriteReactor<ChangeBatch>* Refuse(const grpc::Status& status);

  // Ends every stream (one with a write in flight once it completes) and
  // those opened later at once, and stops the thread.
  void Shutdown() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  class Stream;
  enum class Phase { kStarting, kReady, kWaiting, kBuilding, kWriting, kFinishing };
  struct StreamState {
    uint64_t node = 0;
    uint64_t since = 0;
    Compression compression = COMPRESSION_NONE;
    Phase phase = Phase::kStarting;
    // The log's last seq when it was last found with nothing to send.
    uint64_t seen_seq = 0;
    absl::Time last_write;
    // When it last became due: the stream due longest goes first.
    uint64_t turn = 0;
    bool cancelled = false;
  };
  // A stream whose batch the thread builds, with what it builds from.
  struct Turn {
    Stream* stream = nullptr;
    StreamState state;
  };

  // Neither built nor written: whoever ends the stream finishes it now.
  static bool Idle(Phase phase);
  void Run() ABSL_LOCKS_EXCLUDED(mu_);
  // Waits for a stream to serve; none once shutting down.
  std::optional<Turn> NextTurn() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool Due(const StreamState& state, absl::Time now) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Serve(const Turn& turn) ABSL_LOCKS_EXCLUDED(mu_);
  // The reactions of `stream`.
  void WriteDone(Stream* stream, bool ok) ABSL_LOCKS_EXCLUDED(mu_);
  void Cancelled(Stream* stream) ABSL_LOCKS_EXCLUDED(mu_);
  void Done(Stream* stream) ABSL_LOCKS_EXCLUDED(mu_);

  MetadataStore* store_;
  FeedSource* source_;
  // Lock order: ChangeSignal's lock (a commit's wake), then mu_, then the
  // source's own locks (Sent). A stream is finished, and its writes
  // started, outside mu_: gRPC may run OnDone inline, which takes it.
  absl::Mutex mu_;
  absl::CondVar work_;
  absl::flat_hash_map<Stream*, StreamState> streams_ ABSL_GUARDED_BY(mu_);
  uint64_t logged_seq_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t turns_ ABSL_GUARDED_BY(mu_) = 0;
  bool shutting_down_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
  std::unique_ptr<ChangeSignal::Subscription> subscription_;
};

}  // namespace replfs

#endif  // REPLFS_REPLICATION_CHANGE_FEEDS_H_
