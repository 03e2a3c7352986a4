#ifndef REPLFS_REPLICATION_REPLICATION_SERVICE_H_
#define REPLFS_REPLICATION_REPLICATION_SERVICE_H_

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "replfs.grpc.pb.h"
#include "replication/change_feeds.h"
#include "storage/hlc.h"
#include "storage/ignore_set.h"
#include "storage/metadata_store.h"

namespace replfs {

// Serves this replica's change log and blocks to peers (DESIGN.md,
// Replication). Changes is one long-lived stream per peer: it replays the
// log from the peer's checkpoint, then tails it; one write in flight per
// stream, so a slow peer slows only its own stream (ChangeFeeds).
class ReplicationService final
    : public Replication::WithCallbackMethod_Changes<Replication::Service>,
      private FeedSource {
 public:
  using Replication::WithCallbackMethod_Changes<Replication::Service>::Changes;

  struct Config {
    std::string cluster;
    uint64_t node_id = 0;
    std::string listen;
    const IgnoreSet* ignore = nullptr;  // Its patterns are told to callers in the hello.
    size_t max_batch_bytes = 4 << 20;
    size_t max_batch_entries = 2000;
  };

  ReplicationService(Config config, MetadataStore* store, HybridLogicalClock* clock, int root_fd);

  grpc::Status Hello(grpc::ServerContext* context, const HelloRequest* request,
                     HelloReply* reply) override;
  grpc::Status Ack(grpc::ServerContext* context, const AckRequest* request,
                   AckReply* reply) override;
  // Pages of at most kMaxTreePage paths or about kMaxTreePageBytes.
  grpc::Status Tree(grpc::ServerContext* context, const TreeRequest* request,
                    TreePage* page) override;
  static constexpr uint32_t kMaxTreePage = 4096;
  static constexpr size_t kMaxTreePageBytes = 1 << 20;
  grpc::ServerWriteReactor<ChangeBatch>* Changes(grpc::CallbackServerContext* context,
                                                 const ChangesRequest* request) override;
  grpc::Status FetchBlocks(grpc::ServerContext* context, const FetchBlocksRequest* request,
                           grpc::ServerWriter<Block>* writer) override;

  // Ends every open stream, and those opened later (for shutdown).
  void Shutdown() { feeds_.Shutdown(); }

  uint64_t bytes_served() const { return bytes_served_; }
  // How far each node that pulls from this replica has applied our log, as
  // it last told us (persisted in the store: PullerRecords): every one of
  // them, configured peer or not, holds our tombstones until it has them.
  // DataLossError when a record does not parse.
  static absl::StatusOr<absl::flat_hash_map<uint64_t, uint64_t>> AckedBy(
      const MetadataStore& store);
  // Removes `node`'s record; false if it had none.
  static absl::StatusOr<bool> ForgetPuller(MetadataStore* store, uint64_t node);
  // How far each peer (by node id) has pulled our log.
  absl::flat_hash_map<uint64_t, uint64_t> PulledBy() const;

 private:
  // The entries after `since` that fit one batch, as sent to `puller`, and
  // the seq the puller may checkpoint at once they are applied.
  struct FeedBatch {
    ChangeBatch batch;
    uint64_t through_seq = 0;
  };
  absl::StatusOr<FeedBatch> NextBatch(uint64_t since, uint64_t puller);

  // FeedSource, for feeds_.
  absl::Status BeginFeed(uint64_t node, uint64_t since) override;
  absl::StatusOr<std::optional<ChangeBatch>> BatchAfter(uint64_t node, uint64_t since,
                                                        Compression compression,
                                                        bool heartbeat_due) override;
  void Sent(uint64_t node, uint64_t through) override;
  // This replica's knowledge (ComputeKnowledge), computed at most once per
  // kKnowledgeReuse: it scans the whole store, and a peer may ask often.
  // Reusing an older answer is safe: knowledge only grows, so it underclaims.
  absl::StatusOr<KnowledgeVector> Knowledge() ABSL_LOCKS_EXCLUDED(knowledge_mu_);
  static constexpr absl::Duration kKnowledgeReuse = absl::Seconds(1);

  Config config_;
  MetadataStore* store_;
  HybridLogicalClock* clock_;
  int root_fd_;
  std::atomic<uint64_t> bytes_served_{0};
  // Records that `node` has applied our log through `applied` (never moving
  // it back). Called at its acknowledgements and when it starts a feed
  // (its checkpoint), so that a node that pulls from us but not we from it
  // (a receive-only spoke) is known before its first acknowledgement.
  absl::Status RecordPullerProgress(uint64_t node, uint64_t applied)
      ABSL_LOCKS_EXCLUDED(progress_mu_);

  mutable absl::Mutex mu_;
  absl::flat_hash_map<uint64_t, uint64_t> pulled_by_ ABSL_GUARDED_BY(mu_);
  // Serializes the read-modify-write of P/ records.
  absl::Mutex progress_mu_;
  absl::Mutex knowledge_mu_;
  std::optional<KnowledgeVector> knowledge_ ABSL_GUARDED_BY(knowledge_mu_);
  absl::Time knowledge_computed_ ABSL_GUARDED_BY(knowledge_mu_);
  // Last: its thread calls the members above, and stops first.
  ChangeFeeds feeds_{store_, this};
};

}  // namespace replfs

#endif  // REPLFS_REPLICATION_REPLICATION_SERVICE_H_
