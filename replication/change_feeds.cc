#include "replication/change_feeds.h"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "storage/log.h"

namespace replfs {

class ChangeFeeds::Stream final : public grpc::ServerWriteReactor<ChangeBatch> {
 public:
  explicit Stream(ChangeFeeds* feeds) : feeds_(feeds) {}

  // The batch in flight: the feeds' thread's until StartWrite, gRPC's until
  // OnWriteDone.
  ChangeBatch batch;

 private:
  void OnWriteDone(bool ok) override { feeds_->WriteDone(this, ok); }
  void OnCancel() override { feeds_->Cancelled(this); }
  void OnDone() override {
    feeds_->Done(this);
    delete this;
  }

  ChangeFeeds* feeds_;
};

namespace {

class RefusedStream final : public grpc::ServerWriteReactor<ChangeBatch> {
 public:
  explicit RefusedStream(const grpc::Status& status) { Finish(status); }

 private:
  void OnDone() override { delete this; }
};

}  // namespace

ChangeFeeds::ChangeFeeds(MetadataStore* store, FeedSource* source)
    : store_(store), source_(source) {
  subscription_ = store_->change_signal().Subscribe([this](uint64_t last_seq) {
    absl::MutexLock lock(&mu_);
    logged_seq_ = std::max(logged_seq_, last_seq);
    work_.Signal();
  });
  {
    // After subscribing: no commit falls between the two.
    absl::MutexLock lock(&mu_);
    logged_seq_ = std::max(logged_seq_, store_->LastSeq());
  }
  thread_ = std::thread([this] { Run(); });
}

ChangeFeeds::~ChangeFeeds() { Shutdown(); }

bool ChangeFeeds::Idle(Phase phase) {
  return phase == Phase::kStarting || phase == Phase::kReady || phase == Phase::kWaiting;
}

grpc::ServerWriteReactor<ChangeBatch>* ChangeFeeds::Open(uint64_t node, uint64_t since,
                                                         Compression compression) {
  auto* stream = new Stream(this);
  {
    absl::MutexLock lock(&mu_);
    if (!shutting_down_) {
      StreamState& state = streams_[stream];
      state.node = node;
      state.since = since;
      state.compression = compression;
      state.last_write = absl::Now();
      state.turn = ++turns_;
      work_.Signal();
      return stream;
    }
  }
  stream->Finish(grpc::Status::OK);
  return stream;
}

grpc::ServerWriteReactor<ChangeBatch>* ChangeFeeds::Refuse(const grpc::Status& status) {
  return new RefusedStream(status);
}

void ChangeFeeds::Shutdown() {
  std::vector<Stream*> idle;
  {
    absl::MutexLock lock(&mu_);
    shutting_down_ = true;
    for (auto& [stream, state] : streams_) {
      if (Idle(state.phase)) {
        state.phase = Phase::kFinishing;
        idle.push_back(stream);
      }
    }
    work_.Signal();
  }
  for (Stream* stream : idle) stream->Finish(grpc::Status::OK);
  if (thread_.joinable()) thread_.join();
}

void ChangeFeeds::Run() {
  for (;;) {
    std::optional<Turn> turn;
    {
      absl::MutexLock lock(&mu_);
      turn = NextTurn();
    }
    if (!turn.has_value()) return;
    Serve(*turn);
  }
}

bool ChangeFeeds::Due(const StreamState& state, absl::Time now) const {
  switch (state.phase) {
    case Phase::kStarting:
    case Phase::kReady:
      return true;
    case Phase::kWaiting:
      return logged_seq_ > state.seen_seq || now >= state.last_write + kHeartbeat;
    case Phase::kBuilding:
    case Phase::kWriting:
    case Phase::kFinishing:
      return false;
  }
  return false;
}

std::optional<ChangeFeeds::Turn> ChangeFeeds::NextTurn() {
  while (!shutting_down_) {
    const absl::Time now = absl::Now();
    Stream* next = nullptr;
    StreamState* next_state = nullptr;
    absl::Time wake_at = absl::InfiniteFuture();
    for (auto& [stream, state] : streams_) {
      if (Due(state, now)) {
        if (next_state == nullptr || state.turn < next_state->turn) {
          next = stream;
          next_state = &state;
        }
      } else if (state.phase == Phase::kWaiting) {
        wake_at = std::min(wake_at, state.last_write + kHeartbeat);
      }
    }
    if (next != nullptr) {
      Turn turn{next, *next_state};
      next_state->phase = Phase::kBuilding;
      return turn;
    }
    work_.WaitWithDeadline(&mu_, wake_at);
  }
  return std::nullopt;
}

void ChangeFeeds::Serve(const Turn& turn) {
  const StreamState& from = turn.state;
  absl::Status failed;
  if (from.phase == Phase::kStarting) failed = source_->BeginFeed(from.node, from.since);
  // Read before the scan: a commit after it wakes the stream again.
  const uint64_t seen = store_->LastSeq();
  absl::StatusOr<std::optional<ChangeBatch>> batch = std::optional<ChangeBatch>();
  if (failed.ok()) {
    batch = source_->BatchAfter(from.node, from.since, from.compression,
                                absl::Now() >= from.last_write + kHeartbeat);
    failed = batch.status();
  }
  bool write = false;
  {
    absl::MutexLock lock(&mu_);
    // Still there: a stream is not finished while its batch is built.
    StreamState& state = streams_[turn.stream];
    if (failed.ok() && !state.cancelled && !shutting_down_) {
      if (!batch->has_value()) {
        state.phase = Phase::kWaiting;
        state.seen_seq = seen;
        state.turn = ++turns_;
        return;
      }
      turn.stream->batch = **std::move(batch);
      state.phase = Phase::kWriting;
      write = true;
    } else {
      state.phase = Phase::kFinishing;
    }
  }
  if (!failed.ok()) {
    LogError(absl::StrCat("change feed: ", failed.ToString()));
    turn.stream->Finish(grpc::Status(grpc::StatusCode::INTERNAL, std::string(failed.message())));
  } else if (write) {
    turn.stream->StartWrite(&turn.stream->batch);
  } else {
    turn.stream->Finish(grpc::Status::OK);
  }
}

void ChangeFeeds::WriteDone(Stream* stream, bool ok) {
  // Freed outside the lock.
  const ChangeBatch sent = std::move(stream->batch);
  stream->batch = ChangeBatch();
  {
    absl::MutexLock lock(&mu_);
    StreamState& state = streams_[stream];
    if (ok && !state.cancelled && !shutting_down_) {
      state.since = sent.through_seq();
      state.last_write = absl::Now();
      state.phase = Phase::kReady;
      state.turn = ++turns_;
      source_->Sent(state.node, state.since);
      work_.Signal();
      return;
    }
    state.phase = Phase::kFinishing;
  }
  stream->Finish(grpc::Status::OK);
}

void ChangeFeeds::Cancelled(Stream* stream) {
  {
    absl::MutexLock lock(&mu_);
    auto it = streams_.find(stream);
    if (it == streams_.end()) return;  // Finished when opened.
    StreamState& state = it->second;
    state.cancelled = true;
    // Building or writing: finished when that is done.
    if (!Idle(state.phase)) return;
    state.phase = Phase::kFinishing;
  }
  stream->Finish(grpc::Status::CANCELLED);
}

void ChangeFeeds::Done(Stream* stream) {
  absl::MutexLock lock(&mu_);
  streams_.erase(stream);
}

}  // namespace replfs
