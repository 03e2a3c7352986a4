#ifndef REPLFS_REPLICATION_FEED_READER_H_
#define REPLFS_REPLICATION_FEED_READER_H_

#include <cstdint>
#include <deque>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "replfs.pb.h"

namespace replfs {

// A batch of the feed as parsed (its entries inflated when they came
// gzipped), and the bytes it took on the wire.
struct ReceivedBatch {
  ChangeBatch batch;
  uint64_t wire_bytes = 0;
};

// Reads a peer's Changes stream with gRPC's callback API, so that while one
// take of batches is applied the next ones arrive, and the puller applies
// all that arrived meanwhile as one: a feed tailing a burst sends a batch
// per commit, and applying them one by one cost one block fetch round trip
// each (over an 80 ms WAN link, about 12 files a second).
//
// The messages are read as raw bytes and parsed here, not by gRPC: a typed
// reader that fails to parse a message only stops reading, the call stays
// open and its end is never reported, so a hostile peer could send one
// garbage message and hold the puller (tests/malicious_peer_test,
// TruncatedBatchIsDropped). Each message is checked for shape and parsed
// in OnReadDone (work bounded by the largest message the channel accepts,
// that never waits); what no honest peer sends ends the feed with the
// reason (RejectedBatch). Entries that came gzipped are inflated there too,
// within the bounds of a plain batch. At most kQueuedBytes of parsed
// batches (counted inflated) wait (at
// least one): past that, no read is started until the puller takes them,
// and gRPC's flow control holds the peer.
class FeedReader final : public grpc::ClientBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  static constexpr uint64_t kQueuedBytes = 16 << 20;

  // Starts the Changes call on `stub` with `context` (which outlives this
  // object). The request is written once and the client's side closed:
  // the peer's method streams from a single request.
  FeedReader(grpc::GenericStub* stub, grpc::ClientContext* context, const ChangesRequest& request);
  ~FeedReader();  // Finish().
  FeedReader(const FeedReader&) = delete;
  FeedReader& operator=(const FeedReader&) = delete;

  // Waits for at least one batch and returns every batch queued, in order,
  // and in `first_received` (when given) when the first of them arrived.
  // An empty vector: the stream ended (cleanly or not: Finish says); a
  // status: the peer sent what no honest peer sends (the call is cancelled).
  absl::StatusOr<std::vector<ReceivedBatch>> Take(absl::Time* first_received = nullptr)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Cancels the call unless the stream already ended, waits for its end
  // and returns how it ended.
  grpc::Status Finish() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void OnReadDone(bool ok) override ABSL_LOCKS_EXCLUDED(mu_);
  void OnDone(const grpc::Status& status) override ABSL_LOCKS_EXCLUDED(mu_);

  grpc::ClientContext* context_;
  grpc::ByteBuffer request_;
  // Written by gRPC while a read is outstanding, then read by OnReadDone.
  grpc::ByteBuffer raw_;
  absl::Mutex mu_;
  std::deque<ReceivedBatch> queued_ ABSL_GUARDED_BY(mu_);
  uint64_t queued_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  // When the batch at the front of `queued_` arrived.
  absl::Time first_queued_at_ ABSL_GUARDED_BY(mu_);
  // A read is outstanding.
  bool reading_ ABSL_GUARDED_BY(mu_) = false;
  // Our hold keeps OnDone back while reading pauses, so that Take may
  // start the next read: released once no read will be started again.
  bool held_ ABSL_GUARDED_BY(mu_) = false;
  // No batch will be queued any more (the stream ended, or was refused).
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status rejected_ ABSL_GUARDED_BY(mu_);
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status status_ ABSL_GUARDED_BY(mu_);
};

}  // namespace replfs

#endif  // REPLFS_REPLICATION_FEED_READER_H_
