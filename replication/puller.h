#ifndef REPLFS_REPLICATION_PULLER_H_
#define REPLFS_REPLICATION_PULLER_H_

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "grpcpp/grpcpp.h"
#include "metrics/latency_histograms.h"
#include "replfs.grpc.pb.h"
#include "replication/rate_limiter.h"
#include "storage/ignore_set.h"
#include "replication/feed_reader.h"
#include "replication/fetch_cancellation.h"
#include "replication/peer_state.h"
#include "replication/remote_applier.h"

namespace replfs {

struct PullerConfig {
  std::string peer_address;
  std::string cluster;
  uint64_t node_id = 0;
  std::string listen;  // Our own address, for the peer's status.
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  absl::Duration min_backoff = absl::Milliseconds(200);
  absl::Duration max_backoff = absl::Seconds(10);
  // A fallback peer: starts in standby and is pulled from only while
  // SetInUse(true); when dropped, it is told to stop holding tombstones
  // for us.
  bool fallback = false;
  // Times each take of the feed from received to applied (-o metrics).
  LatencyHistograms* latency = nullptr;
  // This replica's ignore patterns, compared with the peer's in its hello
  // (none when null).
  const IgnoreSet* ignore = nullptr;
  // Bytes a second this replica takes from the peer at most (feed and
  // blocks, -o max_rate); 0: no limit.
  uint64_t max_rate = 0;
  // How the peer is asked to send its feed and blocks (-o compression).
  Compression compression = COMPRESSION_NONE;
};

// Pulls one peer's change log into this replica (CouchDB-style, DESIGN.md):
// Hello, then one long-lived Changes stream from our checkpoint for that
// peer; each batch is applied (blocks fetched from the same peer), and only
// then is the checkpoint advanced. Reconnects with exponential backoff; a
// peer that is down costs a timer.
class Puller {
 public:
  Puller(PullerConfig config, MetadataStore* store, RemoteApplier* applier);
  ~Puller();
  Puller(const Puller&) = delete;
  Puller& operator=(const Puller&) = delete;

  void Start();
  void Stop();  // Cancels the stream and joins the thread.
  // For a fallback peer: connect and pull (true), or drop the stream and
  // wait in standby (false). A configured peer is always in use.
  void SetInUse(bool in_use);

  PeerState& state() { return state_; }
  const std::string& address() const { return config_.peer_address; }
  bool fallback() const { return config_.fallback; }
  // What the peer sends is held to -o max_rate by this.
  RateLimiter* limiter() { return &limiter_; }
  Compression compression() const { return config_.compression; }
  // A stub to fetch blocks from this peer while connected (nullptr if not),
  // on the blocks connection.
  std::shared_ptr<Replication::Stub> stub();

 private:
  void Run();
  // One connection's life: returns why it ended.
  absl::Status Session();
  // Introduces us to the peer (a 5 s deadline).
  absl::StatusOr<HelloReply> SayHello(Replication::Stub* stub);
  // Checks the peer's answer and marks the peer connected. Returns the seq
  // to pull its feed from.
  absl::StatusOr<uint64_t> AcceptHello(const HelloReply& reply);
  // Finds out, from the peer's purge horizon and our checkpoint of its log,
  // whether deletions made there can no longer reach this replica; records
  // it for good, says it in the log and in status.
  absl::Status NoteMissedPurges(const HelloReply& reply, uint64_t checkpoint);
  // Keeps the peer's ignore patterns for status; warns when they differ.
  void NoteIgnorePatterns(const HelloReply& reply);
  // Removes what the peer deleted and purged while this replica was away
  // (see StaleReconciler), then records that it is stale no more.
  absl::Status Reconcile(Replication::Stub* stub, BlockFetcher* fetcher, uint64_t peer,
                         uint64_t missed);
  static constexpr uint32_t kTreePageSize = 4096;
  static constexpr size_t kReconcileBatch = 256;
  // Waits while this fallback is not in use; meanwhile asks the peer, until
  // it answers, to stop holding tombstones for us. False when stopping.
  bool AwaitInUse();
  absl::Status SendRelease();
  struct FeedSession;
  // Streams the peer's feed from feed->applied and applies it, until the
  // stream ends or fails (returned); `context` is the one Stop cancels.
  absl::Status PullFeed(const std::shared_ptr<grpc::Channel>& channel,
                        grpc::ClientContext* context, FeedSession* feed);
  // Applies the batches that arrived while the previous take applied, as
  // one (ApplyChecked), after checking their seqs.
  absl::Status ApplyTake(std::vector<ReceivedBatch> batches, FeedSession* feed);
  // The batches of a take as they came, and parsed (inflated).
  struct ReceivedBytes {
    uint64_t wire = 0;
    uint64_t plain = 0;
  };
  // Applies checked entries, moves the checkpoint to `covered`, acks.
  absl::Status ApplyChecked(const google::protobuf::RepeatedPtrField<Entry>& entries,
                            uint64_t covered, uint64_t head_seq, ReceivedBytes bytes,
                            FeedSession* feed);
  // Counts and logs something the peer sent that no honest replica sends.
  void Reject(absl::string_view why);

  PullerConfig config_;
  MetadataStore* store_;
  RemoteApplier* applier_;
  PeerState state_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  absl::Mutex mu_;
  grpc::ClientContext* active_context_ ABSL_GUARDED_BY(mu_) = nullptr;
  bool in_use_ ABSL_GUARDED_BY(mu_);
  // Whether the peer still holds tombstones for us though we dropped it.
  bool release_owed_ ABSL_GUARDED_BY(mu_) = false;
  std::shared_ptr<Replication::Stub> stub_ ABSL_GUARDED_BY(mu_);
  absl::CondVar wake_;
  // This puller's block fetches and release calls, cancelled by Stop.
  FetchCancellation fetches_;
  RateLimiter limiter_;
};

// Fetches blocks from one peer over FetchBlocks, each request within
// kFetchDeadline; its calls are cancelled by `cancellation` (when not null).
class GrpcBlockFetcher final : public BlockFetcher {
 public:
  // A request of 8 blocks (8 MiB) that takes longer is a peer that hangs.
  static constexpr absl::Duration kFetchDeadline = absl::Seconds(30);

  // `limiter`, when not null, holds the blocks received to its rate;
  // blocks are asked for in `compression`.
  GrpcBlockFetcher(std::shared_ptr<Replication::Stub> stub, FetchCancellation* cancellation,
                   RateLimiter* limiter = nullptr, Compression compression = COMPRESSION_NONE)
      : stub_(std::move(stub)),
        cancellation_(cancellation),
        limiter_(limiter),
        compression_(compression) {}
  absl::StatusOr<std::vector<std::string>> Fetch(const std::vector<std::string>& hashes) override;
  // As the blocks came over the wire (gzipped or not).
  uint64_t bytes_received() const override { return bytes_; }
  // What gzip spared of the blocks' plain bytes.
  uint64_t bytes_saved() const { return saved_; }

 private:
  absl::StatusOr<std::vector<std::string>> FetchWith(grpc::ClientContext* context,
                                                     const std::vector<std::string>& hashes);

  std::shared_ptr<Replication::Stub> stub_;
  FetchCancellation* cancellation_;
  RateLimiter* limiter_;
  Compression compression_;
  std::atomic<uint64_t> bytes_{0};
  std::atomic<uint64_t> saved_{0};
};

// gRPC channel arguments for a peer's feed (Hello, Changes, Ack) and for
// its blocks (FetchBlocks, a connection of its own): message size bounds,
// a memory quota, keepalive so a hung peer is noticed.
grpc::ChannelArguments FeedChannelArguments();
grpc::ChannelArguments BlockChannelArguments();

// Message size bounds. gRPC refuses a larger message from its length
// prefix, so a peer cannot make a receiver buffer more than this at once.
// A batch: an honest feed cuts at 16 MiB, or sends one legal entry alone
// (at most ~13 MiB: 2^17 hashes and 128 xattrs of 64 KiB).
constexpr int kMaxBatchMessageBytes = 24 << 20;
// A block: at most kBlockSize of data, its hash and framing.
constexpr int kMaxBlockMessageBytes = (1 << 20) + 4096;
// Everything else (Hello, Ack, requests).
constexpr int kMaxSmallMessageBytes = 64 << 10;
// What gRPC may buffer for one peer's feed and blocks connections at most.
// It checks a message's size only once the whole message is in, so without
// a quota one block of 60 MiB (or 400) was buffered whole before it was
// refused; past the quota it cancels the call ("Buffers full"), which
// counts as the peer's fault. Well above what an honest peer's traffic
// needs (one batch of at most kMaxBatchMessageBytes; two requests of 8
// blocks in flight; HTTP/2 read-ahead).
constexpr size_t kFeedBufferBytes = 48 << 20;
constexpr size_t kBlockBufferBytes = 32 << 20;
// The same for this replica's server, all clients together (requests are
// small; what it sends is bounded by kMaxBatchMessageBytes per stream).
constexpr size_t kServerBufferBytes = 32 << 20;

}  // namespace replfs

#endif  // REPLFS_REPLICATION_PULLER_H_
