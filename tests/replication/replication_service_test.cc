// The change feed a replica serves, read by an in-process client over
// loopback: what it sends and how it cuts batches.
#include "replication/replication_service.h"

#include <fcntl.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/unique_fd.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "leveldb/db.h"
#include "replication/batch_shape.h"
#include "replication/entry_validation.h"
#include "storage/content_hasher.h"
#include "storage/file_blocks.h"
#include "storage/version.h"
#include "tests/support/scratch_dir.h"

namespace replfs {
namespace {

Entry InlineFile(const std::string& path, uint64_t hlc) {
  Entry e;
  e.set_path(path);
  e.mutable_content()->set_kind(KIND_FILE);
  e.mutable_content()->mutable_version()->set_hlc(hlc);
  e.mutable_content()->mutable_version()->set_node(1);
  e.mutable_content()->set_is_inline(true);
  e.mutable_content()->set_inline_data("x");
  e.mutable_content()->set_size(1);
  e.mutable_attributes()->mutable_version()->set_hlc(hlc);
  e.mutable_attributes()->mutable_version()->set_node(1);
  e.mutable_attributes()->set_mode(0644);
  return e;
}

class ReplicationServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<MetadataStore>> store =
        MetadataStore::Open(dir_.Path("store"));
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    root_.Reset(::open(dir_.path().c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    service_ = std::make_unique<ReplicationService>(config_, store_.get(), &clock_, root_.get());
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.SetMaxSendMessageSize(-1);
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(-1);
    stub_ = Replication::NewStub(grpc::CreateCustomChannel(
        absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials(), args));
  }
  void TearDown() override {
    service_->Shutdown();
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  }

  void Commit(std::vector<Entry> entries) {
    const absl::Status s = store_->Commit(&entries);
    ASSERT_TRUE(s.ok()) << s;
  }

  // The batches a peer (node 2) pulling from seq 0 gets until the feed has
  // sent everything up to `head`.
  std::vector<ChangeBatch> Pull(uint64_t head) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    ChangesRequest request;
    request.set_node(2);
    std::unique_ptr<grpc::ClientReader<ChangeBatch>> reader = stub_->Changes(&context, request);
    std::vector<ChangeBatch> batches;
    ChangeBatch batch;
    while (reader->Read(&batch)) {
      batches.push_back(batch);
      if (batch.through_seq() >= head) break;
    }
    context.TryCancel();
    (void)reader->Finish();
    return batches;
  }

  ReplicationService::Config config_{"replfs", 1, "127.0.0.1:0", {}};
  testing::ScratchDir dir_{"replication-service-test"};
  std::unique_ptr<MetadataStore> store_;
  HybridLogicalClock clock_;
  UniqueFd root_;
  std::unique_ptr<ReplicationService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<Replication::Stub> stub_;
};

// A feed that has sent everything sends a new commit as soon as it is
// logged, not at its next heartbeat; in between it sends heartbeats, empty
// batches carrying the head.
TEST_F(ReplicationServiceTest, CaughtUpFeedSendsACommitAtOnceAndHeartbeatsMeanwhile) {
  Commit({InlineFile("first", clock_.Now())});
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  ChangesRequest request;
  request.set_node(2);
  request.set_since(1);
  std::unique_ptr<grpc::ClientReader<ChangeBatch>> reader = stub_->Changes(&context, request);
  ChangeBatch batch;
  ASSERT_TRUE(reader->Read(&batch));
  EXPECT_EQ(batch.entries_size(), 0);
  EXPECT_EQ(batch.through_seq(), 1u);
  EXPECT_EQ(batch.head_seq(), 1u);
  const absl::Time committed = absl::Now();
  Commit({InlineFile("second", clock_.Now())});
  ASSERT_TRUE(reader->Read(&batch));
  EXPECT_LT(absl::Now() - committed, ChangeFeeds::kHeartbeat);
  ASSERT_EQ(batch.entries_size(), 1);
  EXPECT_EQ(batch.entries(0).path(), "second");
  EXPECT_EQ(batch.through_seq(), 2u);
  ASSERT_TRUE(reader->Read(&batch));
  EXPECT_EQ(batch.entries_size(), 0);
  EXPECT_EQ(batch.head_seq(), 2u);
  context.TryCancel();
  (void)reader->Finish();
}

// Shutdown ends the open feeds (the server then stops without waiting for
// its deadline), and a feed opened after it ends at once.
TEST_F(ReplicationServiceTest, ShutdownEndsOpenFeeds) {
  auto open = [&](grpc::ClientContext* context) {
    context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    ChangesRequest request;
    request.set_node(2);
    return stub_->Changes(context, request);
  };
  grpc::ClientContext context;
  std::unique_ptr<grpc::ClientReader<ChangeBatch>> reader = open(&context);
  ChangeBatch batch;
  ASSERT_TRUE(reader->Read(&batch));  // A heartbeat: the feed is open.
  const absl::Time shutdown = absl::Now();
  service_->Shutdown();
  while (reader->Read(&batch)) {
  }
  EXPECT_TRUE(reader->Finish().ok());
  EXPECT_LT(absl::Now() - shutdown, absl::Seconds(1));
  grpc::ClientContext later;
  reader = open(&later);
  EXPECT_FALSE(reader->Read(&batch));
  EXPECT_TRUE(reader->Finish().ok());
}

TEST_F(ReplicationServiceTest, FeedOfABadNodeIdIsRefused) {
  for (uint64_t node : {uint64_t{0}, uint64_t{1}}) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    ChangesRequest request;
    request.set_node(node);
    std::unique_ptr<grpc::ClientReader<ChangeBatch>> reader = stub_->Changes(&context, request);
    ChangeBatch batch;
    EXPECT_FALSE(reader->Read(&batch));
    EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  }
}

// A file above the largest size that replicates is in this replica's log,
// but every peer would refuse it, and refusing it stopped their feeds at
// it: it is not sent, and the feed covers its seq all the same.
TEST_F(ReplicationServiceTest, EntriesPeersWouldRefuseAreNotSentButCovered) {
  Entry too_large = InlineFile("too-large", clock_.Now());
  too_large.mutable_content()->set_is_inline(false);
  too_large.mutable_content()->clear_inline_data();
  too_large.mutable_content()->set_size(EntryLimits().max_file_bytes + 1);
  too_large.mutable_content()->set_block_size(kBlockSize);
  Commit({InlineFile("before", clock_.Now())});
  Commit({too_large});
  Commit({InlineFile("after", clock_.Now())});
  std::vector<std::string> sent;
  uint64_t through = 0;
  for (const ChangeBatch& batch : Pull(3)) {
    for (const Entry& e : batch.entries()) sent.push_back(e.path());
    through = std::max(through, batch.through_seq());
  }
  EXPECT_EQ(sent, (std::vector<std::string>{"before", "after"}));
  EXPECT_EQ(through, 3u);
}

// The caller's own changes are left out of its feed, but not an entry of
// its that keeps a register made elsewhere (a chmod concurrent with its
// delete): it has not seen that one.
TEST_F(ReplicationServiceTest, OwnChangesAreLeftOutUnlessTheyKeepAnotherNodesRegister) {
  auto tombstone_of_node_2 = [&](const std::string& path, uint64_t attributes_node) {
    Entry e;
    e.set_path(path);
    e.mutable_content()->set_kind(KIND_TOMBSTONE);
    *e.mutable_content()->mutable_version() = MakeVersion(clock_.Now(), 2);
    *e.mutable_attributes()->mutable_version() = MakeVersion(clock_.Now(), attributes_node);
    e.mutable_attributes()->set_kind(KIND_FILE);
    return e;
  };
  Entry kept_elsewhere = tombstone_of_node_2("kept-elsewhere", 2);
  Attributes* dir_register = kept_elsewhere.add_other_kinds();
  *dir_register->mutable_version() = MakeVersion(clock_.Now(), 3);
  dir_register->set_kind(KIND_DIR);
  Commit({tombstone_of_node_2("own", 2)});
  Commit({tombstone_of_node_2("chmod-elsewhere", 3)});
  Commit({kept_elsewhere});
  std::vector<std::string> sent;
  for (const ChangeBatch& batch : Pull(3)) {
    for (const Entry& e : batch.entries()) sent.push_back(e.path());
  }
  EXPECT_EQ(sent, (std::vector<std::string>{"chmod-elsewhere", "kept-elsewhere"}));
}

// The store holds a small file as one block; the feed sends its bytes
// inline, read from the backing file (or any verified copy), so receivers
// need no FetchBlocks round trip. Bytes that changed since the commit go as
// the block they were.
TEST_F(ReplicationServiceTest, SmallFilesTravelInlineFromTheirBackingFiles) {
  auto file = [&](const std::string& path, const std::string& data) {
    std::ofstream(dir_.Path(path)) << data;
    Entry e = InlineFile(path, clock_.Now());
    e.mutable_content()->set_inline_data(data);
    e.mutable_content()->set_size(data.size());
    return e;
  };
  Commit({file("page.html", "hello")});
  Commit({file("edited.html", "committed")});
  std::ofstream(dir_.Path("edited.html")) << "edited since";
  Commit({file("copy-a.html", "same bytes")});
  Commit({file("copy-b.html", "same bytes")});
  ASSERT_EQ(::unlink(dir_.Path("copy-b.html").c_str()), 0);
  std::map<std::string, Content> sent;
  for (const ChangeBatch& batch : Pull(4)) {
    for (const Entry& e : batch.entries()) {
      EXPECT_TRUE(ValidateRemoteEntry(e, "", EntryLimits()).ok()) << e.path();
      sent[e.path()] = e.content();
    }
  }
  ASSERT_EQ(sent.size(), 4u);
  EXPECT_TRUE(sent["page.html"].is_inline());
  EXPECT_EQ(sent["page.html"].inline_data(), "hello");
  EXPECT_EQ(sent["page.html"].block_hashes_size(), 0);
  EXPECT_FALSE(sent["edited.html"].is_inline());
  EXPECT_TRUE(sent["edited.html"].inline_data().empty());
  EXPECT_EQ(FileBlockHashes(sent["edited.html"]), std::vector<std::string>{Sha256("committed")});
  EXPECT_TRUE(sent["copy-b.html"].is_inline());
  EXPECT_EQ(sent["copy-b.html"].inline_data(), "same bytes");
}

// One commit (a directory rename) is kept in one batch as far as a
// receiver accepts one: never past BatchLimits' entries.
TEST_F(ReplicationServiceTest, OneLargeCommitIsCutWhereReceiversStopAccepting) {
  const uint64_t hlc = clock_.Now();
  std::vector<Entry> group;
  const uint64_t kEntries = BatchLimits().max_entries + 500;
  for (uint64_t i = 0; i < kEntries; ++i) group.push_back(InlineFile(absl::StrCat("d/", i), hlc));
  Commit(group);
  uint64_t total = 0;
  size_t batches = 0;
  for (const ChangeBatch& batch : Pull(kEntries)) {
    EXPECT_LE(static_cast<size_t>(batch.entries_size()), BatchLimits().max_entries);
    total += static_cast<uint64_t>(batch.entries_size());
    if (batch.entries_size() > 0) ++batches;
  }
  EXPECT_EQ(total, kEntries);
  EXPECT_GE(batches, 2u);
}

// Past the bytes one batch holds, a commit kept whole sends its small
// files by their hashes rather than inline: a rename's receiver holds those
// blocks, and needs the commit whole to apply it as one move.
class SmallBatchServiceTest : public ReplicationServiceTest {
 protected:
  SmallBatchServiceTest() { config_.max_batch_bytes = 16 << 10; }
};

TEST_F(SmallBatchServiceTest, ALargeCommitSendsWhatDoesNotFitInlineByHash) {
  const uint64_t hlc = clock_.Now();
  constexpr int kFiles = 40;  // 160 KiB of data: more than 4 x 16 KiB.
  std::vector<Entry> group;
  for (int i = 0; i < kFiles; ++i) {
    const std::string path = absl::StrCat("f", i);
    const std::string data(4096, static_cast<char>('a' + i % 26));
    std::ofstream(dir_.Path(path)) << data;
    Entry e = InlineFile(path, hlc);
    e.mutable_content()->set_inline_data(data);
    e.mutable_content()->set_size(data.size());
    group.push_back(e);
  }
  Commit(group);
  int batches = 0, inline_files = 0, by_hash = 0;
  for (const ChangeBatch& batch : Pull(kFiles)) {
    if (batch.entries_size() > 0) ++batches;
    for (const Entry& e : batch.entries()) {
      if (e.content().is_inline()) {
        ++inline_files;
      } else {
        EXPECT_EQ(e.content().block_hashes_size(), 1) << e.path();
        ++by_hash;
      }
    }
    EXPECT_LE(batch.ByteSizeLong(), size_t{4} * config_.max_batch_bytes + 4096);
  }
  EXPECT_EQ(batches, 1);
  EXPECT_EQ(inline_files + by_hash, kFiles);
  EXPECT_GT(inline_files, 0);
  EXPECT_GT(by_hash, 0);
}

// A node that pulls from this replica is known from its first feed, before
// it acknowledges anything (a receive-only spoke this replica never pulls
// from), so the tombstones it has not seen are kept for it; its
// acknowledgements move its record forward, never back.
TEST_F(ReplicationServiceTest, EveryNodeThatPullsIsRecordedForTombstonePurging) {
  Commit({InlineFile("a", 1), InlineFile("b", 2), InlineFile("c", 3)});
  absl::StatusOr<absl::flat_hash_map<uint64_t, uint64_t>> acked =
      ReplicationService::AckedBy(*store_);
  ASSERT_TRUE(acked.ok()) << acked.status();
  EXPECT_TRUE(acked->empty());

  ASSERT_FALSE(Pull(3).empty());  // Node 2, from seq 0.
  acked = ReplicationService::AckedBy(*store_);
  ASSERT_TRUE(acked.ok()) << acked.status();
  ASSERT_EQ(acked->size(), 1u);
  EXPECT_EQ(acked->at(2), 0u);

  auto ack = [&](uint64_t node, uint64_t seq) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    AckRequest request;
    request.set_node(node);
    request.set_applied_seq(seq);
    AckReply reply;
    return stub_->Ack(&context, request, &reply);
  };
  EXPECT_TRUE(ack(2, 2).ok());
  EXPECT_TRUE(ack(2, 1).ok());    // Late and lower: ignored.
  EXPECT_TRUE(ack(2, 999).ok());  // Past our log: capped at its head.
  EXPECT_FALSE(ack(1, 3).ok());   // Our own node id.
  EXPECT_FALSE(ack(0, 3).ok());
  acked = ReplicationService::AckedBy(*store_);
  ASSERT_TRUE(acked.ok()) << acked.status();
  EXPECT_EQ(acked->size(), 1u);
  EXPECT_EQ(acked->at(2), 3u);
}

TEST_F(ReplicationServiceTest, ReleaseFromAFallbackPullerStopsHoldingTombstonesForIt) {
  Commit({InlineFile("a", 1), InlineFile("b", 2)});
  ASSERT_FALSE(Pull(2).empty());  // Node 2 pulls (as a fallback).
  auto release = [&](uint64_t node) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    AckRequest request;
    request.set_node(node);
    request.set_release(true);
    AckReply reply;
    return stub_->Ack(&context, request, &reply);
  };
  EXPECT_FALSE(release(1).ok());  // Our own node id.
  absl::StatusOr<absl::flat_hash_map<uint64_t, uint64_t>> acked =
      ReplicationService::AckedBy(*store_);
  ASSERT_TRUE(acked.ok()) << acked.status();
  ASSERT_TRUE(acked->contains(2));
  EXPECT_TRUE(release(2).ok());
  acked = ReplicationService::AckedBy(*store_);
  ASSERT_TRUE(acked.ok()) << acked.status();
  EXPECT_FALSE(acked->contains(2));
  EXPECT_TRUE(release(2).ok());  // Released twice (a retry): nothing to do.
}

// A record that does not parse is data loss, not a node that acknowledged
// nothing (which would quietly stop or start purging).
// It can still be forgotten: it would hold every tombstone back otherwise.
TEST_F(ReplicationServiceTest, UnreadableAcknowledgementRecordIsDataLoss) {
  // A damaged store of its own: the record is planted in its LevelDB
  // before the store opens (the key is the P/ format, docs/store-format.md).
  const std::string damaged = dir_.Path("damaged");
  {
    leveldb::Options options;
    options.create_if_missing = true;
    leveldb::DB* raw = nullptr;
    ASSERT_TRUE(leveldb::DB::Open(options, damaged, &raw).ok());
    const std::unique_ptr<leveldb::DB> db(raw);
    ASSERT_TRUE(db->Put(leveldb::WriteOptions(), "P/0000000000000002", "not a seq").ok());
  }
  absl::StatusOr<std::unique_ptr<MetadataStore>> store = MetadataStore::Open(damaged);
  ASSERT_TRUE(store.ok()) << store.status();
  absl::StatusOr<absl::flat_hash_map<uint64_t, uint64_t>> acked =
      ReplicationService::AckedBy(**store);
  EXPECT_TRUE(absl::IsDataLoss(acked.status())) << acked.status();
  absl::StatusOr<bool> forgotten = ReplicationService::ForgetPuller(store->get(), 2);
  ASSERT_TRUE(forgotten.ok()) << forgotten.status();
  EXPECT_TRUE(*forgotten);
  acked = ReplicationService::AckedBy(**store);
  ASSERT_TRUE(acked.ok()) << acked.status();
  EXPECT_TRUE(acked->empty());
}

}  // namespace
}  // namespace replfs
