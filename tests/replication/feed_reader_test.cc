// The puller's side of a Changes stream, against an in-process feed that
// sends more than the reader queues: reading pauses at the queue's bound,
// goes on when the puller takes, and the call still ends on Finish.
#include "replication/feed_reader.h"

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "replfs.grpc.pb.h"

namespace replfs {
namespace {

constexpr int kBatches = 96;
constexpr size_t kBatchBytes = 1 << 20;

// Sends kBatches batches of kBatchBytes each (96 MiB: far more than the
// reader queues plus what HTTP/2 windows and socket buffers hold), counting
// those gRPC took.
class FloodingFeed final : public Replication::Service {
 public:
  grpc::Status Changes(grpc::ServerContext*, const ChangesRequest*,
                       grpc::ServerWriter<ChangeBatch>* writer) override {
    for (int i = 1; i <= kBatches; ++i) {
      ChangeBatch batch;
      Entry* entry = batch.add_entries();
      entry->set_path("f");
      entry->set_seq(static_cast<uint64_t>(i));
      entry->mutable_content()->set_inline_data(std::string(kBatchBytes, 'x'));
      batch.set_through_seq(static_cast<uint64_t>(i));
      batch.set_head_seq(kBatches);
      if (!writer->Write(batch)) break;
      ++written;
    }
    return grpc::Status::OK;
  }
  std::atomic<int> written{0};
};

class FeedReaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(&feed_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(-1);
    stub_ = std::make_unique<grpc::GenericStub>(grpc::CreateCustomChannel(
        absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials(), args));
  }
  void TearDown() override {
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  }

  // Waits until the feed has written no more for a while: the reader paused.
  void AwaitStall() {
    int before = -1;
    while (feed_.written != before) {
      before = feed_.written;
      absl::SleepFor(absl::Milliseconds(300));
    }
  }

  FloodingFeed feed_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<grpc::GenericStub> stub_;
};

TEST_F(FeedReaderTest, ReadingPausesAtTheQueueBoundAndGoesOnWhenTaken) {
  grpc::ClientContext context;
  FeedReader reader(stub_.get(), &context, ChangesRequest());
  AwaitStall();
  EXPECT_LT(feed_.written, kBatches);
  uint64_t next_seq = 1;
  bool first = true;
  for (;;) {
    absl::StatusOr<std::vector<ReceivedBatch>> taken = reader.Take();
    ASSERT_TRUE(taken.ok()) << taken.status();
    if (taken->empty()) break;
    if (first) {
      // At most the bound, plus the batch that crossed it.
      EXPECT_LE(taken->size() * kBatchBytes, FeedReader::kQueuedBytes + kBatchBytes + 4096);
      first = false;
    }
    for (const ReceivedBatch& received : *taken) {
      EXPECT_EQ(received.batch.through_seq(), next_seq++);
    }
  }
  EXPECT_EQ(next_seq, uint64_t{kBatches} + 1);
  EXPECT_TRUE(reader.Finish().ok());
}

// No read is outstanding while the queue is full: Finish must still end
// the call (it releases the hold that kept the call's end back).
TEST_F(FeedReaderTest, FinishWhilePausedCancelsTheCall) {
  grpc::ClientContext context;
  FeedReader reader(stub_.get(), &context, ChangesRequest());
  AwaitStall();
  const absl::Time start = absl::Now();
  EXPECT_EQ(reader.Finish().error_code(), grpc::StatusCode::CANCELLED);
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
}

}  // namespace
}  // namespace replfs
