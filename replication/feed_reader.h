#ifndef REPLFS_REPLICATION_FEED_READER_H_
#define REPLFS_REPLICATION_FEED_READER_H_

#include <cstdint>
#include <deque>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/support/sync_stream.h"
#include "replfs.pb.h"

namespace replfs {

// Reads a peer's Changes stream on a thread of its own, so that while one
// take of batches is applied the next ones arrive, and the puller applies
// all that arrived meanwhile as one: a feed tailing a burst sends a batch
// per commit, and applying them one by one cost one block fetch round trip
// each (over an 80 ms WAN link, about 12 files a second).
//
// Each message is checked for shape and parsed here; what no honest peer
// sends ends the feed with the reason (RejectedBatch). At most
// kQueuedBytes of parsed batches wait (at least one): past that, reading
// pauses and gRPC's flow control holds the peer.
class FeedReader {
 public:
  static constexpr uint64_t kQueuedBytes = 16 << 20;

  // `reader` and `context` outlive this object; the thread starts now.
  FeedReader(grpc::ClientReader<grpc::ByteBuffer>* reader, grpc::ClientContext* context);
  ~FeedReader();  // Cancels the call and joins the thread.
  FeedReader(const FeedReader&) = delete;
  FeedReader& operator=(const FeedReader&) = delete;

  // Waits for at least one batch and returns every batch queued, in order.
  // An empty vector: the stream ended (cleanly or not: Finish says); a
  // status: the peer sent what no honest peer sends (the call is cancelled).
  absl::StatusOr<std::vector<ChangeBatch>> Take();

 private:
  void Run();

  grpc::ClientReader<grpc::ByteBuffer>* reader_;
  grpc::ClientContext* context_;
  absl::Mutex mu_;
  std::deque<ChangeBatch> queued_ ABSL_GUARDED_BY(mu_);
  uint64_t queued_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status rejected_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace replfs

#endif  // REPLFS_REPLICATION_FEED_READER_H_
