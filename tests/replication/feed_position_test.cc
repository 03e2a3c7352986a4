#include "replication/feed_position.h"

#include <limits>

#include "gtest/gtest.h"

namespace replfs {
namespace {

constexpr uint64_t kEndOfTime = std::numeric_limits<uint64_t>::max();

ChangeBatch Batch(std::initializer_list<uint64_t> seqs, uint64_t head, uint64_t through = 0) {
  ChangeBatch batch;
  for (uint64_t seq : seqs) {
    Entry* e = batch.add_entries();
    e->set_path("p");
    e->set_seq(seq);
  }
  batch.set_head_seq(head);
  batch.set_through_seq(through);
  return batch;
}

TEST(FeedPosition, MovesToTheLastEntryOrTheVouchedThroughSeq) {
  const absl::Time hello = absl::Now();
  FeedPosition position(10, 100, hello);
  EXPECT_EQ(*position.Check(Batch({11, 15}, 100, 15), hello), 15u);
  EXPECT_EQ(*position.Check(Batch({11, 15}, 100, 30), hello), 30u);  // Skipped ours up to 30.
  EXPECT_EQ(*position.Check(Batch({}, 100, 10), hello), 10u);         // A heartbeat.
  position.Advance(30);
  EXPECT_EQ(position.checkpoint(), 30u);
  position.Advance(20);  // Never backwards.
  EXPECT_EQ(position.checkpoint(), 30u);
}

TEST(FeedPosition, RefusesSeqsThePeerCannotHaveReached) {
  const absl::Time hello = absl::Now();
  const FeedPosition position(10, 100, hello);
  EXPECT_FALSE(position.Check(Batch({kEndOfTime}, kEndOfTime), hello).ok());
  EXPECT_FALSE(position.Check(Batch({}, kEndOfTime, kEndOfTime), hello).ok());
  // Its head may grow while we pull, by what it can commit in the meantime.
  EXPECT_TRUE(position.Check(Batch({1'000'000}, 1'000'000), hello).ok());
  const uint64_t later = 100 + FeedPosition::kSeqSlack + 10 * FeedPosition::kMaxSeqsPerSecond;
  EXPECT_FALSE(position.Check(Batch({later}, later), hello + absl::Seconds(5)).ok());
  EXPECT_TRUE(position.Check(Batch({later}, later), hello + absl::Seconds(11)).ok());
}

TEST(FeedPosition, RefusesSeqsOutOfOrderBehindTheCheckpointOrPastTheHead) {
  const absl::Time hello = absl::Now();
  const FeedPosition position(10, 100, hello);
  EXPECT_FALSE(position.Check(Batch({20, 15}, 100), hello).ok());
  EXPECT_FALSE(position.Check(Batch({20, 20}, 100), hello).ok());
  EXPECT_FALSE(position.Check(Batch({9}, 100), hello).ok());
  EXPECT_FALSE(position.Check(Batch({10}, 100), hello).ok());
  EXPECT_FALSE(position.Check(Batch({101}, 100), hello).ok());
  EXPECT_FALSE(position.Check(Batch({}, 100, 101), hello).ok());
}

TEST(FeedPosition, ACheckpointPastTheAnnouncedHeadStartsOver) {
  EXPECT_EQ(FeedPosition::ResumeFrom(50, 100), 50u);
  EXPECT_EQ(FeedPosition::ResumeFrom(100, 100), 100u);
  EXPECT_EQ(FeedPosition::ResumeFrom(kEndOfTime, 100), 0u);
}

}  // namespace
}  // namespace replfs
