#include "replication/feed_reader.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "grpcpp/support/proto_buffer_reader.h"
#include "replfs.grpc.pb.h"
#include "replication/batch_compression.h"
#include "replication/batch_shape.h"
#include "replication/puller.h"

namespace replfs {
namespace {

// What no honest peer sends is refused before parsing allocates for it.
absl::StatusOr<ReceivedBatch> ParseBatch(grpc::ByteBuffer* raw) {
  ReceivedBatch received;
  received.wire_bytes = raw->Length();
  {
    grpc::ProtoBufferReader wire(raw);
    if (absl::Status refused = CheckBatchShape(&wire, BatchLimits()); !refused.ok()) {
      return refused;
    }
  }
  if (!grpc::SerializationTraits<ChangeBatch>::Deserialize(raw, &received.batch).ok()) {
    return absl::InvalidArgumentError(
        "peer sent a message that does not parse as a ChangeBatch (garbage or truncated)");
  }
  if (absl::Status refused =
          GunzipEntries(&received.batch, BatchLimits(), kMaxBatchMessageBytes);
      !refused.ok()) {
    return refused;
  }
  return received;
}

}  // namespace

FeedReader::FeedReader(grpc::GenericStub* stub, grpc::ClientContext* context,
                       const ChangesRequest& request)
    : context_(context) {
  static const std::string method = absl::StrCat("/", Replication::service_full_name(), "/Changes");
  bool own_buffer = false;
  (void)grpc::SerializationTraits<ChangesRequest>::Serialize(request, &request_, &own_buffer);
  stub->PrepareBidiStreamingCall(context, method, grpc::StubOptions(), this);
  {
    absl::MutexLock lock(&mu_);
    reading_ = true;
    held_ = true;
  }
  AddHold();
  StartWriteLast(&request_, grpc::WriteOptions());
  StartRead(&raw_);
  StartCall();
}

FeedReader::~FeedReader() { (void)Finish(); }

void FeedReader::OnReadDone(bool ok) {
  absl::Status refused;
  ReceivedBatch batch;
  if (ok) {
    absl::StatusOr<ReceivedBatch> parsed = ParseBatch(&raw_);
    raw_.Clear();
    if (parsed.ok()) {
      batch = *std::move(parsed);
    } else {
      refused = parsed.status();
    }
  }
  bool read_more = false;
  bool release = false;
  {
    absl::MutexLock lock(&mu_);
    reading_ = false;
    if (!ok || !refused.ok()) {
      ended_ = true;
      rejected_ = refused;
    } else {
      queued_bytes_ += batch.batch.ByteSizeLong();
      if (queued_.empty()) first_queued_at_ = absl::Now();
      queued_.push_back(std::move(batch));
    }
    if (ended_ || closing_) {
      release = held_;
      held_ = false;
    } else if (queued_bytes_ < kQueuedBytes) {
      reading_ = read_more = true;
    }
  }
  if (!refused.ok()) context_->TryCancel();
  if (read_more) StartRead(&raw_);
  if (release) RemoveHold();
}

void FeedReader::OnDone(const grpc::Status& status) {
  absl::MutexLock lock(&mu_);
  status_ = status;
  done_ = true;
}

absl::StatusOr<std::vector<ReceivedBatch>> FeedReader::Take(absl::Time* first_received) {
  std::vector<ReceivedBatch> taken;
  {
    absl::MutexLock lock(&mu_);
    auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return ended_ || !queued_.empty();
    };
    mu_.Await(absl::Condition(&ready));
    // What arrived before a bad message is still the peer's honest feed.
    if (queued_.empty() && !rejected_.ok()) return rejected_;
    taken.reserve(queued_.size());
    if (first_received != nullptr) *first_received = first_queued_at_;
    while (!queued_.empty()) {
      taken.push_back(std::move(queued_.front()));
      queued_.pop_front();
    }
    queued_bytes_ = 0;
    // Reading paused on a full queue: it goes on (our hold is still in).
    if (ended_ || reading_ || closing_) return taken;
    reading_ = true;
  }
  StartRead(&raw_);
  return taken;
}

grpc::Status FeedReader::Finish() {
  bool cancel = false;
  bool release = false;
  {
    absl::MutexLock lock(&mu_);
    if (!closing_) {
      closing_ = true;
      cancel = !ended_;
      // A read outstanding releases the hold when it returns.
      release = held_ && !reading_;
      if (release) held_ = false;
    }
  }
  if (cancel) context_->TryCancel();
  if (release) RemoveHold();
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(&done_));
  return status_;
}

}  // namespace replfs
