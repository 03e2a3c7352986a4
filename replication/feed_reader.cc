#include "replication/feed_reader.h"

#include <utility>

#include "grpcpp/support/proto_buffer_reader.h"
#include "replfs.grpc.pb.h"
#include "replication/batch_shape.h"

namespace replfs {

FeedReader::FeedReader(grpc::ClientReader<grpc::ByteBuffer>* reader, grpc::ClientContext* context)
    : reader_(reader), context_(context) {
  thread_ = std::thread([this] { Run(); });
}

FeedReader::~FeedReader() {
  bool reading = false;
  {
    absl::MutexLock lock(&mu_);
    closing_ = true;
    reading = !ended_;
  }
  // A Read in progress returns only when the call ends.
  if (reading) context_->TryCancel();
  thread_.join();
}

void FeedReader::Run() {
  grpc::ByteBuffer raw;
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      auto room = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return closing_ || queued_bytes_ < kQueuedBytes;
      };
      mu_.Await(absl::Condition(&room));
      if (closing_) break;
    }
    if (!reader_->Read(&raw)) break;
    // One batch at a time, freed before the next is read. What cannot be
    // legal is refused before parsing allocates for it.
    absl::Status refused;
    ChangeBatch batch;
    {
      grpc::ProtoBufferReader wire(&raw);
      refused = CheckBatchShape(&wire, BatchLimits());
    }
    if (refused.ok() && !grpc::SerializationTraits<ChangeBatch>::Deserialize(&raw, &batch).ok()) {
      refused = absl::InvalidArgumentError(
          "peer sent a message that does not parse as a ChangeBatch (garbage or truncated)");
    }
    absl::MutexLock lock(&mu_);
    if (!refused.ok()) {
      rejected_ = refused;
      context_->TryCancel();
      break;
    }
    queued_bytes_ += batch.ByteSizeLong();
    queued_.push_back(std::move(batch));
  }
  absl::MutexLock lock(&mu_);
  ended_ = true;
}

absl::StatusOr<std::vector<ChangeBatch>> FeedReader::Take() {
  absl::MutexLock lock(&mu_);
  auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return ended_ || !queued_.empty(); };
  mu_.Await(absl::Condition(&ready));
  // What arrived before a bad message is still the peer's honest feed.
  if (queued_.empty() && !rejected_.ok()) return rejected_;
  std::vector<ChangeBatch> taken;
  taken.reserve(queued_.size());
  while (!queued_.empty()) {
    taken.push_back(std::move(queued_.front()));
    queued_.pop_front();
  }
  queued_bytes_ = 0;
  return taken;
}

}  // namespace replfs
