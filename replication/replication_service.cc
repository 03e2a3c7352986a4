#include "replication/replication_service.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "replication/batch_compression.h"
#include "replication/batch_shape.h"
#include "replication/entry_validation.h"
#include "replication/feed_entry.h"
#include "replication/gzip_codec.h"
#include "replication/local_blocks.h"
#include "storage/content_hasher.h"
#include "storage/knowledge.h"
#include "storage/log.h"
#include "storage/puller_records.h"

namespace replfs {
namespace {

// Whether every register of `entry` holds a version `node` made: an entry
// may carry another node's chmod beside its own content (a tombstone keeps
// one made concurrently with its delete), which `node` has not seen.
bool OnlyChangedBy(const Entry& entry, uint64_t node) {
  if (entry.content().version().node() != node || entry.attributes().version().node() != node) {
    return false;
  }
  for (const Attributes& kept : entry.other_kinds()) {
    if (kept.version().node() != node) return false;
  }
  return true;
}

}  // namespace

ReplicationService::ReplicationService(Config config, MetadataStore* store,
                                       HybridLogicalClock* clock, int root_fd)
    : config_(std::move(config)), store_(store), clock_(clock), root_fd_(root_fd) {}

grpc::Status ReplicationService::Hello(grpc::ServerContext*, const HelloRequest* request,
                                       HelloReply* reply) {
  reply->set_protocol_version(PROTOCOL_VERSION_CURRENT);
  reply->set_cluster(config_.cluster);
  reply->set_node(config_.node_id);
  reply->set_head_seq(store_->LastSeq());
  reply->set_hlc(clock_->Now());
  reply->set_purged_through_seq(store_->PurgedThrough());
  if (config_.ignore != nullptr) {
    for (const std::string& pattern : config_.ignore->Sources()) {
      reply->add_ignore_patterns(pattern);
    }
  }
  if (request->protocol_version() != PROTOCOL_VERSION_CURRENT) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                        absl::StrCat("protocol version ", request->protocol_version(),
                                     " is not supported (this replica speaks ",
                                     static_cast<int>(PROTOCOL_VERSION_CURRENT), ")"));
  }
  if (request->cluster() != config_.cluster) {
    return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                        absl::StrCat("cluster '", ForLog(request->cluster()),
                                     "' is not this replica's cluster '", config_.cluster, "'"));
  }
  if (request->node() == config_.node_id) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                        "a replica cannot peer with itself (same node id)");
  }
  return grpc::Status::OK;
}

grpc::Status ReplicationService::Tree(grpc::ServerContext*, const TreeRequest* request,
                                      TreePage* page) {
  if (request->after_path().empty()) {
    // Before the paths: knowledge only grows, and a caller comparing the
    // paths read later with older knowledge only keeps more.
    absl::StatusOr<KnowledgeVector> knowledge = Knowledge();
    if (!knowledge.ok()) {
      return grpc::Status(grpc::StatusCode::INTERNAL, std::string(knowledge.status().message()));
    }
    *page->mutable_knowledge() = std::move(*knowledge->mutable_vector());
  }
  const uint32_t limit = std::clamp<uint32_t>(request->page_size(), 1, kMaxTreePage);
  size_t bytes = 0;
  absl::Status scanned = store_->ScanEntries(
      "",
      [&](const Entry& entry) {
        if (static_cast<uint32_t>(page->paths_size()) == limit || bytes >= kMaxTreePageBytes) {
          page->set_next_after_path(page->paths(page->paths_size() - 1));
          return false;
        }
        bytes += entry.path().size();
        page->add_paths(entry.path());
        return true;
      },
      request->after_path());
  if (!scanned.ok()) {
    return grpc::Status(grpc::StatusCode::INTERNAL, std::string(scanned.message()));
  }
  return grpc::Status::OK;
}

absl::StatusOr<KnowledgeVector> ReplicationService::Knowledge() {
  absl::MutexLock lock(&knowledge_mu_);
  const absl::Time now = absl::Now();
  if (!knowledge_.has_value() || now - knowledge_computed_ >= kKnowledgeReuse) {
    absl::StatusOr<KnowledgeVector> computed = ComputeKnowledge(*store_);
    if (!computed.ok()) return computed.status();
    knowledge_ = *std::move(computed);
    knowledge_computed_ = now;
  }
  return *knowledge_;
}

grpc::Status ReplicationService::Ack(grpc::ServerContext*, const AckRequest* request,
                                     AckReply*) {
  if (request->node() == 0 || request->node() == config_.node_id) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "bad node id");
  }
  if (request->release()) {
    // A replica that pulled from us as a fallback and went back to its own
    // peers: they hold tombstones for it, we need not.
    absl::MutexLock lock(&progress_mu_);
    absl::StatusOr<bool> forgotten = ForgetPuller(store_, request->node());
    if (!forgotten.ok()) {
      return grpc::Status(grpc::StatusCode::INTERNAL, std::string(forgotten.status().message()));
    }
    return grpc::Status::OK;
  }
  if (absl::Status s = RecordPullerProgress(request->node(), request->applied_seq()); !s.ok()) {
    return grpc::Status(grpc::StatusCode::INTERNAL, std::string(s.message()));
  }
  return grpc::Status::OK;
}

absl::Status ReplicationService::RecordPullerProgress(uint64_t node, uint64_t applied) {
  // A peer cannot have applied more than we have logged.
  applied = std::min(applied, store_->LastSeq());
  absl::MutexLock lock(&progress_mu_);
  absl::StatusOr<std::optional<uint64_t>> previous = PullerRecords(*store_).Get(node);
  if (!previous.ok()) return previous.status();
  if (previous->has_value()) {
    if (applied <= **previous) return absl::OkStatus();
  } else {
    LogInfo(absl::StrFormat(
        "node %016x pulls from this replica: tombstones are kept until it has them", node));
  }
  return store_->Transact([&](StoreTransaction& txn) {
    PullerRecords::Put(txn, node, applied);
    return absl::OkStatus();
  });
}

absl::StatusOr<bool> ReplicationService::ForgetPuller(MetadataStore* store, uint64_t node) {
  // Found without being read: a record that does not parse (it stops every
  // purge) must still be removable.
  absl::StatusOr<bool> known = PullerRecords(*store).Contains(node);
  if (!known.ok()) return known.status();
  if (!*known) return false;
  absl::Status removed = store->Transact([&](StoreTransaction& txn) {
    PullerRecords::Delete(txn, node);
    return absl::OkStatus();
  });
  if (!removed.ok()) return removed;
  LogInfo(absl::StrFormat("forgot puller node %016x: its tombstones are no longer held", node));
  return true;
}

absl::StatusOr<absl::flat_hash_map<uint64_t, uint64_t>> ReplicationService::AckedBy(
    const MetadataStore& store) {
  absl::flat_hash_map<uint64_t, uint64_t> acked;
  absl::Status scanned = PullerRecords(store).Scan([&](uint64_t node, uint64_t applied_seq) {
    acked[node] = applied_seq;
    return true;
  });
  if (!scanned.ok()) return scanned;
  return acked;
}

grpc::ServerWriteReactor<ChangeBatch>* ReplicationService::Changes(grpc::CallbackServerContext*,
                                                                  const ChangesRequest* request) {
  if (request->node() == 0 || request->node() == config_.node_id) {
    return ChangeFeeds::Refuse(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "bad node id"));
  }
  // ScanChanges starts at since + 1: a since of 2^64-1 would wrap to 0 and
  // replay the whole log. No seq follows 2^64-2 either: this only stops the
  // wrap.
  return feeds_.Open(request->node(),
                     std::min(request->since(), std::numeric_limits<uint64_t>::max() - 1),
                     request->compression());
}

absl::Status ReplicationService::BeginFeed(uint64_t node, uint64_t since) {
  // Its checkpoint is what it has applied: from now on it holds tombstones.
  if (absl::Status s = RecordPullerProgress(node, since); !s.ok()) return s;
  absl::MutexLock lock(&mu_);
  pulled_by_[node] = since;
  return absl::OkStatus();
}

absl::StatusOr<std::optional<ChangeBatch>> ReplicationService::BatchAfter(uint64_t node,
                                                                          uint64_t since,
                                                                          Compression compression,
                                                                          bool heartbeat_due) {
  absl::StatusOr<FeedBatch> next = NextBatch(since, node);
  if (!next.ok()) return next.status();
  if (next->batch.entries_size() == 0 && next->through_seq <= since && !heartbeat_due) {
    return std::nullopt;
  }
  ChangeBatch& batch = next->batch;
  batch.set_through_seq(next->through_seq);
  // Empty batches are heartbeats: they carry our head for lag figures.
  batch.set_head_seq(store_->LastSeq());
  batch.set_hlc(clock_->Now());
  if (compression == COMPRESSION_GZIP) GzipEntries(&batch);
  bytes_served_ += batch.ByteSizeLong();
  return std::move(batch);
}

void ReplicationService::Sent(uint64_t node, uint64_t through) {
  absl::MutexLock lock(&mu_);
  pulled_by_[node] = through;
}

absl::StatusOr<ReplicationService::FeedBatch> ReplicationService::NextBatch(uint64_t since,
                                                                            uint64_t puller) {
  FeedBatch next;
  next.through_seq = since;
  size_t bytes = 0;
  Version group_version;  // Entries of one commit share a version.
  absl::Status feed_error;
  absl::Status s = store_->ScanChanges(since, [&](const Entry& entry) {
    // Its own changes coming back would be ignored by the puller anyway
    // (equal versions); skip them, but let it checkpoint past.
    if (OnlyChangedBy(entry, puller)) {
      next.through_seq = entry.seq();
      return true;
    }
    // Keep one commit (e.g. a rename's tombstones and new names) in one
    // batch when possible, so the receiver builds the new names from the
    // old ones before removing them. Checked before the entry's wire form
    // is built (which may read a small file back).
    const size_t entries = static_cast<size_t>(next.batch.entries_size());
    const bool same_group = entries > 0 &&
                            entry.content().version().hlc() == group_version.hlc() &&
                            entry.content().version().node() == group_version.node();
    if ((bytes >= config_.max_batch_bytes || entries >= config_.max_batch_entries) &&
        !same_group) {
      return false;
    }
    absl::StatusOr<Entry> sent = FeedEntry(entry, *store_, root_fd_);
    if (!sent.ok()) {
      feed_error = sent.status();
      return false;
    }
    size_t entry_bytes = sent->ByteSizeLong();
    // A commit kept whole sends its small files inline up to the usual
    // batch bytes, the rest by their hashes: the receiver of a rename holds
    // those blocks already (and fetches them otherwise), and the room left
    // keeps the commit whole (cut in two, it is applied entry by entry
    // instead of as one move).
    if (same_group && sent->content().is_inline() &&
        bytes + entry_bytes > config_.max_batch_bytes) {
      *sent = entry;
      sent->clear_local_stat();
      entry_bytes = sent->ByteSizeLong();
    }
    // Even one commit stops at what a receiver accepts (BatchLimits): 4x
    // the usual bytes, its entry bound; an entry that would cross them
    // starts the next batch (one alone is always sent).
    if (entries > 0 && (bytes + entry_bytes > 4 * config_.max_batch_bytes ||
                        entries >= BatchLimits().max_entries)) {
      return false;
    }
    // An entry every peer would refuse (a file above the largest size
    // that replicates, a path deeper than a peer accepts) would stop
    // their feeds at it: it is skipped, like their own, and said so.
    if (absl::Status valid = ValidateRemoteEntry(*sent, "", EntryLimits()); !valid.ok()) {
      LogWarning(absl::StrCat("change feed: not sending ", ForLog(entry.path(), 200),
                              " to peers, they would refuse it: ", valid.message()));
      next.through_seq = entry.seq();
      return true;
    }
    *next.batch.add_entries() = std::move(*sent);
    bytes += entry_bytes;
    group_version = entry.content().version();
    next.through_seq = entry.seq();
    return true;
  });
  if (s.ok()) s = feed_error;
  if (!s.ok()) return s;
  return next;
}

grpc::Status ReplicationService::FetchBlocks(grpc::ServerContext* context,
                                             const FetchBlocksRequest* request,
                                             grpc::ServerWriter<Block>* writer) {
  if (request->hashes_size() > 16) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "at most 16 blocks per request");
  }
  for (const std::string& hash : request->hashes()) {
    if (context->IsCancelled()) break;
    Block block;
    block.set_hash(hash);
    if (hash.size() == kSha256Size) {
      absl::StatusOr<std::optional<std::string>> data = ReadLocalBlock(*store_, root_fd_, hash);
      if (data.ok() && data->has_value()) {
        block.set_found(true);
        std::optional<std::string> gzipped;
        if (request->compression() == COMPRESSION_GZIP) gzipped = GzipIfSmaller(**data);
        block.set_gzipped(gzipped.has_value());
        block.set_data(gzipped.has_value() ? *std::move(gzipped) : std::move(**data));
      }
    }
    bytes_served_ += block.ByteSizeLong();
    if (!writer->Write(block)) break;
  }
  return grpc::Status::OK;
}

absl::flat_hash_map<uint64_t, uint64_t> ReplicationService::PulledBy() const {
  absl::MutexLock lock(&mu_);
  return pulled_by_;
}

}  // namespace replfs
