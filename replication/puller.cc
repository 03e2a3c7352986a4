#include "replication/puller.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "replication/apply_failure.h"
#include "replication/feed_position.h"
#include "replication/batch_compression.h"
#include "replication/feed_reader.h"
#include "replication/gzip_codec.h"
#include "replication/stale_reconciler.h"
#include "storage/content_hasher.h"
#include "storage/hlc.h"
#include "storage/ignore_patterns.h"
#include "storage/log.h"

namespace replfs {

namespace {

grpc::ChannelArguments CommonChannelArguments(const std::string& quota_name,
                                              size_t quota_bytes) {
  grpc::ChannelArguments args;
  args.SetMaxSendMessageSize(kMaxSmallMessageBytes);
  grpc::ResourceQuota quota(quota_name);
  quota.Resize(quota_bytes);
  args.SetResourceQuota(quota);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 10000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 5000);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  // We run our own backoff; keep gRPC's reconnect short for loopback peers.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 200);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
  return args;
}

}  // namespace

grpc::ChannelArguments FeedChannelArguments() {
  grpc::ChannelArguments args = CommonChannelArguments("replfs-feed", kFeedBufferBytes);
  args.SetMaxReceiveMessageSize(kMaxBatchMessageBytes);
  // A hello reply is small (a peer answering with a 16 MiB cluster name is
  // refused by gRPC, not logged).
  args.SetServiceConfigJSON(absl::StrFormat(
      R"({"methodConfig": [{"name": [{"service": "%s", "method": "Hello"},
                                     {"service": "%s", "method": "Ack"}],
                            "maxResponseMessageBytes": %d}]})",
      Replication::service_full_name(), Replication::service_full_name(),
      kMaxSmallMessageBytes));
  return args;
}

grpc::ChannelArguments BlockChannelArguments() {
  grpc::ChannelArguments args = CommonChannelArguments("replfs-blocks", kBlockBufferBytes);
  args.SetMaxReceiveMessageSize(kMaxBlockMessageBytes);
  return args;
}

absl::StatusOr<std::vector<std::string>> GrpcBlockFetcher::Fetch(
    const std::vector<std::string>& hashes) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + kFetchDeadline));
  if (cancellation_ != nullptr && !cancellation_->Register(&context)) {
    return absl::CancelledError("stopping");
  }
  absl::StatusOr<std::vector<std::string>> blocks = FetchWith(&context, hashes);
  if (cancellation_ != nullptr) cancellation_->Unregister(&context);
  return blocks;
}

absl::StatusOr<std::vector<std::string>> GrpcBlockFetcher::FetchWith(
    grpc::ClientContext* context, const std::vector<std::string>& hashes) {
  FetchBlocksRequest request;
  for (const std::string& h : hashes) request.add_hashes(h);
  request.set_compression(compression_);
  std::unique_ptr<grpc::ClientReader<Block>> reader = stub_->FetchBlocks(context, request);
  // What the peer sent wrong: the call is dropped before the error returns.
  auto refuse = [&](absl::Status why) {
    context->TryCancel();
    (void)reader->Finish();
    return why;
  };
  std::vector<std::string> blocks;
  Block block;
  while (reader->Read(&block)) {
    if (blocks.size() >= hashes.size()) return refuse(absl::DataLossError("peer sent extra blocks"));
    if (block.hash() != hashes[blocks.size()]) {
      return refuse(absl::DataLossError("peer answered with a block that was not asked for"));
    }
    if (!block.found()) {
      return refuse(absl::NotFoundError("peer no longer holds a block (it changed since)"));
    }
    if (block.data().size() > kBlockSize) {
      return refuse(absl::DataLossError("peer sent a block larger than a block can be"));
    }
    const uint64_t wire_bytes = block.ByteSizeLong();
    bytes_ += wire_bytes;
    if (limiter_ != nullptr) limiter_->Account(wire_bytes);
    if (block.gzipped()) {
      absl::StatusOr<std::string> plain = Gunzip(block.data(), kBlockSize);
      if (!plain.ok()) {
        return refuse(absl::DataLossError(
            absl::StrCat("peer sent a gzipped block that does not inflate: ",
                         plain.status().message())));
      }
      block.set_data(*std::move(plain));
      block.set_gzipped(false);
      const uint64_t plain_bytes = block.ByteSizeLong();
      if (plain_bytes > wire_bytes) saved_ += plain_bytes - wire_bytes;
    }
    blocks.push_back(std::move(*block.mutable_data()));
  }
  grpc::Status status = reader->Finish();
  if (status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
    // A message above kMaxBlockMessageBytes, or more than kBlockBufferBytes
    // sent at us ("Buffers full"): no honest replica sends that.
    return absl::DataLossError(
        absl::StrCat("peer sent more than a block can be: ", ForLog(status.error_message(), 512)));
  }
  if (!status.ok()) {
    return absl::UnavailableError(
        absl::StrCat("fetch blocks: ", ForLog(status.error_message(), 512)));
  }
  if (blocks.size() != hashes.size()) return absl::DataLossError("peer sent too few blocks");
  return blocks;
}

// One Changes session's position and acknowledgements.
struct Puller::FeedSession {
  uint64_t peer;
  Replication::Stub* stub;
  GrpcBlockFetcher* fetcher;
  // Through the batches taken so far (checked, maybe not yet applied).
  FeedPosition checked;
  // Through what is applied: the checkpoint.
  FeedPosition applied;
  absl::Time last_ack = absl::InfinitePast();
  uint64_t acked_seq = 0;
};

Puller::Puller(PullerConfig config, MetadataStore* store, RemoteApplier* applier)
    : config_(std::move(config)),
      store_(store),
      applier_(applier),
      state_(config_.peer_address),
      in_use_(!config_.fallback),
      limiter_(config_.max_rate) {
  state_.SetUse(config_.fallback, !config_.fallback,
                config_.fallback ? "standby" : "a configured peer: always pulled from");
  if (config_.fallback) state_.SetStandby();
  state_.SetCompression(std::string(CompressionName(config_.compression)));
}

Puller::~Puller() { Stop(); }

void Puller::Start() { thread_ = std::thread([this] { Run(); }); }

void Puller::Stop() {
  if (stopping_.exchange(true)) {
    if (thread_.joinable()) thread_.join();
    return;
  }
  {
    absl::MutexLock lock(&mu_);
    if (active_context_ != nullptr) active_context_->TryCancel();
    wake_.SignalAll();
  }
  fetches_.CancelAll();
  limiter_.Cancel();
  if (thread_.joinable()) thread_.join();
}

void Puller::SetInUse(bool in_use) {
  absl::MutexLock lock(&mu_);
  if (in_use_ == in_use) return;
  in_use_ = in_use;
  if (!in_use && active_context_ != nullptr) active_context_->TryCancel();
  wake_.SignalAll();
}

bool Puller::AwaitInUse() {
  for (;;) {
    bool release_owed = false;
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return false;
      if (in_use_) return true;
      release_owed = release_owed_;
    }
    state_.SetStandby();
    if (release_owed) {
      absl::Status released = SendRelease();
      if (!released.ok()) {
        LogInfo(absl::StrCat("fallback peer ", config_.peer_address,
                             ": cannot tell it we stopped pulling (retrying): ",
                             released.message()));
      }
      absl::MutexLock lock(&mu_);
      if (released.ok()) release_owed_ = false;
    }
    absl::MutexLock lock(&mu_);
    // Retry an owed release now and then; otherwise wait to be used.
    if (!stopping_ && !in_use_) {
      wake_.WaitWithTimeout(&mu_,
                            release_owed_ ? absl::Seconds(30) : absl::InfiniteDuration());
    }
  }
}

absl::Status Puller::SendRelease() {
  auto stub = Replication::NewStub(grpc::CreateCustomChannel(
      config_.peer_address, config_.credentials, FeedChannelArguments()));
  AckRequest release;
  release.set_node(config_.node_id);
  release.set_release(true);
  AckReply reply;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  if (!fetches_.Register(&context)) return absl::CancelledError("stopping");
  grpc::Status status = stub->Ack(&context, release, &reply);
  fetches_.Unregister(&context);
  if (!status.ok()) return absl::UnavailableError(ForLog(status.error_message(), 512));
  LogInfo(absl::StrCat("fallback peer ", config_.peer_address,
                       ": no longer pulled from; it stops holding tombstones for us"));
  return absl::OkStatus();
}

std::shared_ptr<Replication::Stub> Puller::stub() {
  absl::MutexLock lock(&mu_);
  return stub_;
}

void Puller::Run() {
  absl::Duration backoff = config_.min_backoff;
  while (!stopping_) {
    if (config_.fallback && !AwaitInUse()) break;
    state_.SetConnecting();
    const absl::Time started = absl::Now();
    absl::Status result = Session();
    if (stopping_) break;
    {
      absl::MutexLock lock(&mu_);
      if (!in_use_) {
        // Dropped as a fallback, not failed: no backoff, no error.
        stub_.reset();
        backoff = config_.min_backoff;
        continue;
      }
    }
    // A session that lasted a while was healthy: start the backoff over.
    if (absl::Now() - started > absl::Seconds(10)) backoff = config_.min_backoff;
    const absl::Time next = absl::Now() + backoff;
    state_.SetRetrying(std::string(result.message()), absl::ToUnixMillis(next));
    LogInfo(absl::StrCat("peer ", config_.peer_address, ": ", result.message(), "; retrying in ",
                         absl::FormatDuration(backoff)));
    absl::MutexLock lock(&mu_);
    stub_.reset();
    while (!stopping_ && in_use_ && absl::Now() < next) wake_.WaitWithDeadline(&mu_, next);
    backoff = std::min(backoff * 2, config_.max_backoff);
  }
}

void Puller::Reject(absl::string_view why) {
  state_.SetRejected(std::string(why));
  LogError(absl::StrCat("peer ", config_.peer_address, ": rejected: ", why));
}

absl::StatusOr<HelloReply> Puller::SayHello(Replication::Stub* stub) {
  HelloRequest hello;
  hello.set_protocol_version(PROTOCOL_VERSION_CURRENT);
  hello.set_cluster(config_.cluster);
  hello.set_node(config_.node_id);
  hello.set_listen(config_.listen);
  HelloReply reply;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  const grpc::Status status = stub->Hello(&context, hello, &reply);
  if (status.ok()) return reply;
  std::string message = absl::StrCat("hello failed: ", ForLog(status.error_message(), 512));
  // In TLS 1.3 the server checks our certificate after our side of the
  // handshake is done, so a refused certificate reaches us only as a
  // closed socket. Say what that usually means (tests/tls_test).
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE &&
      absl::StrContains(status.error_message(), "Socket closed")) {
    absl::StrAppend(&message,
                    " (the peer closed the connection in or right after the TLS handshake: "
                    "it may refuse our certificate - expired, or not signed by its CA - "
                    "or expect TLS where we speak plaintext)");
  }
  return absl::UnavailableError(message);
}

absl::StatusOr<uint64_t> Puller::AcceptHello(const HelloReply& reply) {
  // The server checks our Hello; check its reply the same way. Its node id
  // keys our checkpoint for it: a peer answering with ours (or none) would
  // make us skip or replay our own log.
  if (reply.protocol_version() != PROTOCOL_VERSION_CURRENT || reply.cluster() != config_.cluster ||
      reply.node() == 0 || reply.node() == config_.node_id) {
    const std::string why = absl::StrFormat(
        "peer answered hello with protocol %d, cluster '%s', node %016x: not a peer of ours",
        reply.protocol_version(), ForLog(reply.cluster()), reply.node());
    Reject(why);
    return absl::FailedPreconditionError(why);
  }
  const int64_t skew_ms = static_cast<int64_t>(HybridLogicalClock::WallMs(reply.hlc())) -
                          UnixMillisNow();
  if (std::abs(skew_ms) > 5000) {
    LogWarning(absl::StrFormat("peer %s: its clock is %d ms %s ours", config_.peer_address,
                               std::abs(skew_ms), skew_ms > 0 ? "ahead of" : "behind"));
  }
  absl::StatusOr<uint64_t> stored_checkpoint = store_->GetCheckpoint(reply.node());
  if (!stored_checkpoint.ok()) return stored_checkpoint.status();
  const uint64_t resume = FeedPosition::ResumeFrom(*stored_checkpoint, reply.head_seq());
  if (resume != *stored_checkpoint) {
    LogWarning(absl::StrFormat(
        "peer %s (node %016x): our checkpoint %d is past its head %d: pulling its log again "
        "from the start",
        config_.peer_address, reply.node(), *stored_checkpoint, reply.head_seq()));
  }
  if (absl::Status s = NoteMissedPurges(reply, *stored_checkpoint); !s.ok()) return s;
  state_.SetConnected(reply.node(), skew_ms);
  NoteIgnorePatterns(reply);
  LogInfo(absl::StrFormat("peer %s (node %016x): connected, pulling from seq %d of %d",
                          config_.peer_address, reply.node(), resume, reply.head_seq()));
  return resume;
}

void Puller::NoteIgnorePatterns(const HelloReply& reply) {
  const std::vector<std::string> theirs(reply.ignore_patterns().begin(),
                                        reply.ignore_patterns().end());
  const std::vector<std::string> ours =
      config_.ignore != nullptr ? config_.ignore->Sources() : std::vector<std::string>();
  state_.SetIgnorePatterns(theirs);
  if (theirs != ours) {
    LogWarning(absl::StrFormat(
        "peer %s (node %016x): ignores other paths than this replica (theirs: %s; ours: %s): "
        "the trees will differ there",
        config_.peer_address, reply.node(), DescribeIgnorePatterns(theirs),
        DescribeIgnorePatterns(ours)));
  }
}

absl::Status Puller::NoteMissedPurges(const HelloReply& reply, uint64_t checkpoint) {
  absl::StatusOr<uint64_t> reconciled = store_->ReconciledThrough(reply.node());
  if (!reconciled.ok()) return reconciled.status();
  // A checkpoint of 0 is a first pull: everything the peer holds arrives.
  // A fallback peer was told to stop holding tombstones for us whenever we
  // went back to our own peers, which hold them for us. A horizon we
  // already reconciled against hides nothing new.
  if (!config_.fallback && checkpoint > 0 &&
      reply.purged_through_seq() > std::max(checkpoint, *reconciled)) {
    if (absl::Status s = store_->NoteMissedPurge(reply.node(), reply.purged_through_seq());
        !s.ok()) {
      return s;
    }
  }
  absl::StatusOr<uint64_t> missed = store_->MissedPurge(reply.node());
  if (!missed.ok()) return missed.status();
  if (*missed > 0) {
    LogWarning(absl::StrFormat(
        "peer %s (node %016x) had forgotten deletions through its seq %d when this replica "
        "came back (its checkpoint there: %d): files deleted there meanwhile may still be here. "
        "This replica is stale until it has reconciled against the peer's tree",
        config_.peer_address, reply.node(), *missed, checkpoint));
  }
  state_.SetMissedPurge(*missed);
  return absl::OkStatus();
}

absl::Status Puller::Reconcile(Replication::Stub* stub, BlockFetcher* fetcher, uint64_t peer,
                               uint64_t missed) {
  const StaleReconciler reconciler(store_, peer);
  absl::StatusOr<std::vector<Entry>> removals =
      reconciler.PlanRemovals([&](const std::string& after) -> absl::StatusOr<TreePage> {
        TreeRequest request;
        request.set_page_size(kTreePageSize);
        request.set_after_path(after);
        grpc::ClientContext context;
        // The first page waits for the peer to sum up its whole store.
        context.set_deadline(std::chrono::system_clock::now() + std::chrono::minutes(5));
        TreePage page;
        const grpc::Status status = stub->Tree(&context, request, &page);
        if (!status.ok()) {
          return absl::UnavailableError(
              absl::StrCat("tree: ", ForLog(status.error_message(), 512)));
        }
        return page;
      });
  if (!removals.ok()) {
    if (absl::IsInvalidArgument(removals.status())) Reject(removals.status().message());
    return removals.status();
  }
  const size_t planned = removals->size();
  ApplyStats stats;
  for (size_t begin = 0; begin < planned; begin += kReconcileBatch) {
    const size_t end = std::min(planned, begin + kReconcileBatch);
    google::protobuf::RepeatedPtrField<Entry> batch;
    for (size_t i = begin; i < end; ++i) *batch.Add() = std::move((*removals)[i]);
    if (absl::Status s = applier_->ApplyBatch(batch, BatchSource{fetcher, peer}, &stats);
        !s.ok()) {
      if (IsPeerFault(s)) Reject(s.message());
      return s;
    }
  }
  if (absl::Status s = store_->NoteReconciled(peer, missed); !s.ok()) return s;
  state_.SetMissedPurge(0);
  LogInfo(absl::StrFormat(
      "peer %s (node %016x): reconciled against its tree: %d entries here had been deleted "
      "there (%d removed, the rest changed here since), this replica is stale no more",
      config_.peer_address, peer, planned, stats.applied));
  return absl::OkStatus();
}

absl::Status Puller::Session() {
  // Blocks travel on a connection of their own: a peer flooding or hanging
  // FetchBlocks fills that connection's buffers, not the feed's.
  std::shared_ptr<grpc::Channel> channel = grpc::CreateCustomChannel(
      config_.peer_address, config_.credentials, FeedChannelArguments());
  auto stub = std::shared_ptr<Replication::Stub>(Replication::NewStub(channel));
  auto block_stub = std::shared_ptr<Replication::Stub>(Replication::NewStub(
      grpc::CreateCustomChannel(config_.peer_address, config_.credentials,
                                BlockChannelArguments())));
  absl::StatusOr<HelloReply> reply = SayHello(stub.get());
  if (!reply.ok()) return reply.status();
  absl::StatusOr<uint64_t> resume = AcceptHello(*reply);
  if (!resume.ok()) return resume.status();
  absl::StatusOr<uint64_t> missed = store_->MissedPurge(reply->node());
  if (!missed.ok()) return missed.status();
  if (*missed > 0) {
    GrpcBlockFetcher fetcher(block_stub, &fetches_, &limiter_, config_.compression);
    if (absl::Status s = Reconcile(stub.get(), &fetcher, reply->node(), *missed); !s.ok()) {
      return s;
    }
  }

  grpc::ClientContext context;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return absl::CancelledError("stopping");
    if (!in_use_) return absl::CancelledError("no longer in use");
    active_context_ = &context;
    // The peer records us as a puller from here on (and holds tombstones
    // for us): a fallback dropped later tells it to stop.
    if (config_.fallback) release_owed_ = true;
    stub_ = block_stub;
  }
  GrpcBlockFetcher fetcher(block_stub, &fetches_, &limiter_, config_.compression);
  FeedSession feed{reply->node(), stub.get(), &fetcher,
                   FeedPosition(*resume, reply->head_seq(), absl::Now()),
                   FeedPosition(*resume, reply->head_seq(), absl::Now())};
  absl::Status result = PullFeed(channel, &context, &feed);
  {
    absl::MutexLock lock(&mu_);
    active_context_ = nullptr;
  }
  return result;
}

absl::Status Puller::PullFeed(const std::shared_ptr<grpc::Channel>& channel,
                              grpc::ClientContext* context, FeedSession* feed) {
  ChangesRequest request;
  request.set_since(feed->applied.checkpoint());
  request.set_node(config_.node_id);
  request.set_listen(config_.listen);
  request.set_compression(config_.compression);
  grpc::GenericStub stub(channel);
  FeedReader batches(&stub, context, request);
  absl::Status result;
  for (;;) {
    absl::Time received;
    absl::StatusOr<std::vector<ReceivedBatch>> taken = batches.Take(&received);
    if (!taken.ok()) {
      result = taken.status();
      Reject(result.message());
      break;
    }
    if (taken->empty()) break;  // The stream ended; Finish says how.
    uint64_t entries = 0;
    uint64_t bytes = 0;
    for (const ReceivedBatch& one : *taken) {
      entries += static_cast<uint64_t>(one.batch.entries_size());
      bytes += one.wire_bytes;
    }
    result = ApplyTake(*std::move(taken), feed);
    if (!result.ok()) {
      context->TryCancel();
      break;
    }
    limiter_.Account(bytes);
    if (config_.latency != nullptr) config_.latency->ObserveApply(absl::Now() - received, entries);
  }
  const grpc::Status status = batches.Finish();
  if (!result.ok()) return result;
  if (status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
    // Our channel refused a message above its bound (kMaxBatchMessageBytes
    // and the per-method ones): the peer sent what no honest replica sends.
    Reject(ForLog(status.error_message(), 512));
  }
  if (!status.ok()) {
    return absl::UnavailableError(
        absl::StrCat("stream ended: ", ForLog(status.error_message(), 512)));
  }
  return absl::UnavailableError("stream ended");
}

absl::Status Puller::ApplyTake(std::vector<ReceivedBatch> batches, FeedSession* feed) {
  // The feed's seqs are checked before anything of the take applies; the
  // batches before one that fails are the peer's honest feed and apply.
  google::protobuf::RepeatedPtrField<Entry> entries;
  uint64_t covered = feed->applied.checkpoint();
  uint64_t head_seq = 0;
  ReceivedBytes bytes;
  size_t accepted = 0;
  absl::Status refused;
  for (ReceivedBatch& received : batches) {
    ChangeBatch& batch = received.batch;
    absl::StatusOr<uint64_t> through = feed->checked.Check(batch, absl::Now());
    if (!through.ok()) {
      refused = through.status();
      break;
    }
    feed->checked.Advance(*through);
    covered = std::max(covered, *through);
    head_seq = batch.head_seq();
    bytes.wire += received.wire_bytes;
    bytes.plain += batch.ByteSizeLong();
    for (Entry& entry : *batch.mutable_entries()) *entries.Add() = std::move(entry);
    ++accepted;
  }
  if (accepted > 0) {
    if (absl::Status s = ApplyChecked(entries, covered, head_seq, bytes, feed); !s.ok()) return s;
  }
  if (!refused.ok()) Reject(refused.message());
  return refused;
}

absl::Status Puller::ApplyChecked(const google::protobuf::RepeatedPtrField<Entry>& entries,
                                  uint64_t covered, uint64_t head_seq, ReceivedBytes bytes,
                                  FeedSession* feed) {
  const uint64_t fetched_before = feed->fetcher->bytes_received();
  const uint64_t saved_before = feed->fetcher->bytes_saved();
  ApplyStats stats;
  absl::Status applied =
      applier_->ApplyBatch(entries, BatchSource{feed->fetcher, feed->peer}, &stats);
  if (!applied.ok()) {
    // Nothing past the last good checkpoint is trusted: drop the stream;
    // the next session resumes from the checkpoint. (An entry this
    // replica cannot apply is no reason: it was set aside.)
    if (IsPeerFault(applied)) Reject(applied.message());
    return applied;
  }
  if (stats.forged > 0) {
    state_.RecordRefused(stats.forged,
                         absl::StrCat("refused ", stats.forged,
                                      " entries claiming versions of this replica it never "
                                      "issued"));
  }
  // Every entry up to `covered` is applied or set aside (the record keeps
  // it): the checkpoint may move there.
  if (covered > feed->applied.checkpoint()) {
    if (absl::Status s = store_->PutCheckpoint(feed->peer, covered); !s.ok()) return s;
    feed->applied.Advance(covered);
  }
  const uint64_t applied_seq = feed->applied.checkpoint();
  // Tell the peer how far we have applied (for its tombstone purging), at
  // most every few seconds.
  if (applied_seq > feed->acked_seq && absl::Now() - feed->last_ack > absl::Seconds(2)) {
    AckRequest ack;
    ack.set_node(config_.node_id);
    ack.set_applied_seq(applied_seq);
    AckReply ack_reply;
    grpc::ClientContext ack_context;
    ack_context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    if (feed->stub->Ack(&ack_context, ack, &ack_reply).ok()) {
      feed->last_ack = absl::Now();
      feed->acked_seq = applied_seq;
    }
  }
  const uint64_t saved = (bytes.plain > bytes.wire ? bytes.plain - bytes.wire : 0) +
                        feed->fetcher->bytes_saved() - saved_before;
  state_.RecordBatch(BatchReceipt{
      .applied_seq = applied_seq,
      .head_seq = head_seq,
      .wire_bytes = bytes.wire + feed->fetcher->bytes_received() - fetched_before,
      .bytes_saved = saved,
      .entries = static_cast<uint64_t>(entries.size()),
      .applied = stats.applied,
      .block_bytes = stats.block_bytes_fetched,
      .blocks_reused = stats.blocks_reused,
  });
  return absl::OkStatus();
}

}  // namespace replfs
