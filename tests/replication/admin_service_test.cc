// The admin endpoint's paged reads of the store (what `replfs-status --log`
// and --conflicts print): every item once, in order, pages capped by the
// server whatever the client asks, errors as gRPC status codes.
#include "replication/admin_service.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "gtest/gtest.h"
#include "storage/conflict_records.h"
#include "tests/support/raw_store.h"

namespace replfs {
namespace {

Entry Directory(const std::string& path, uint64_t hlc) {
  Entry e;
  e.set_path(path);
  e.mutable_content()->set_kind(KIND_DIR);
  e.mutable_content()->mutable_version()->set_hlc(hlc);
  e.mutable_content()->mutable_version()->set_node(1);
  e.mutable_attributes()->mutable_version()->set_hlc(hlc);
  e.mutable_attributes()->mutable_version()->set_node(1);
  e.mutable_attributes()->set_mode(0755);
  return e;
}

class AdminServiceTest : public testing::RawStoreTest {
 protected:
  // Made after the store is (re)opened: PutRawKey reopens it.
  std::unique_ptr<AdminService> Service() {
    return std::make_unique<AdminService>(store_.get(), nullptr, [] { return ReplicaStatus(); });
  }

  void CommitDirectories(int count, const std::string& prefix = "d") {
    std::vector<Entry> entries;
    entries.reserve(static_cast<size_t>(count));
    for (int i = 0; i < count; ++i) {
      entries.push_back(Directory(absl::StrFormat("%s%05d", prefix, i), 100 + static_cast<uint64_t>(i)));
    }
    const absl::Status s = store_->Commit(&entries);
    ASSERT_TRUE(s.ok()) << s;
  }

  // Every page of Entries asking `page_size` at a time; the page sizes seen.
  std::vector<std::string> AllPaths(uint32_t page_size, std::vector<int>* page_sizes) {
    std::unique_ptr<AdminService> service = Service();
    std::vector<std::string> paths;
    EntriesRequest request;
    request.set_page_size(page_size);
    for (int pages = 0; pages < 100; ++pages) {
      EntriesPage page;
      const grpc::Status status = service->Entries(nullptr, &request, &page);
      EXPECT_TRUE(status.ok()) << status.error_message();
      page_sizes->push_back(page.entries_size());
      for (const Entry& e : page.entries()) paths.push_back(e.path());
      if (page.next_after_path().empty()) break;
      request.set_after_path(page.next_after_path());
    }
    return paths;
  }
};

TEST_F(AdminServiceTest, EntriesComeInPathOrderPageByPage) {
  CommitDirectories(25);
  std::vector<int> page_sizes;
  const std::vector<std::string> paths = AllPaths(10, &page_sizes);
  ASSERT_EQ(paths.size(), 25u);
  for (size_t i = 0; i < paths.size(); ++i) EXPECT_EQ(paths[i], absl::StrFormat("d%05d", i));
  EXPECT_EQ(page_sizes, (std::vector<int>{10, 10, 5}));
}

TEST_F(AdminServiceTest, ThePageSizeIsCappedWhateverTheClientAsks) {
  CommitDirectories(2500);
  for (const uint32_t asked : {0u, 5000u}) {
    std::vector<int> page_sizes;
    EXPECT_EQ(AllPaths(asked, &page_sizes).size(), 2500u);
    EXPECT_EQ(page_sizes, (std::vector<int>{1000, 1000, 500})) << "asked " << asked;
  }
}

// An entry can be large (a hash per block of a huge file): a page stops near
// 1 MiB, and still holds one entry larger than that.
TEST_F(AdminServiceTest, APageStopsNearOneMebibyteAndHoldsAtLeastOneEntry) {
  std::vector<Entry> entries;
  for (int i = 0; i < 4; ++i) {
    Entry e = Directory(absl::StrFormat("big%d", i), 100 + static_cast<uint64_t>(i));
    e.mutable_content()->set_kind(KIND_SYMLINK);
    e.mutable_content()->set_symlink_target(std::string(i == 0 ? (3 << 20) : (400 << 10), 'x'));
    entries.push_back(e);
  }
  ASSERT_TRUE(store_->Commit(&entries).ok());
  std::vector<int> page_sizes;
  EXPECT_EQ(AllPaths(0, &page_sizes).size(), 4u);
  EXPECT_EQ(page_sizes, (std::vector<int>{1, 3}));
}

TEST_F(AdminServiceTest, TheChangeLogComesInSeqOrderFromTheGivenSeq) {
  CommitDirectories(5);
  CommitDirectories(1);  // d00000 again: it moves to the end of the log.
  std::unique_ptr<AdminService> service = Service();
  ChangeLogRequest request;
  request.set_page_size(2);
  std::vector<std::string> seen;
  for (int pages = 0; pages < 10; ++pages) {
    ChangeLogPage page;
    ASSERT_TRUE(service->ChangeLog(nullptr, &request, &page).ok());
    EXPECT_LE(page.records_size(), 2);
    for (const ChangeLogRecord& r : page.records()) {
      seen.push_back(absl::StrFormat("%d:%s", r.seq(), r.path()));
    }
    if (page.next_after_seq() == 0) break;
    EXPECT_EQ(page.next_after_seq(), page.records().rbegin()->seq());
    request.set_after_seq(page.next_after_seq());
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"2:d00001", "3:d00002", "4:d00003", "5:d00004",
                                            "6:d00000"}));
  request.set_after_seq(4);
  ChangeLogPage tail;
  ASSERT_TRUE(service->ChangeLog(nullptr, &request, &tail).ok());
  ASSERT_EQ(tail.records_size(), 2);
  EXPECT_EQ(tail.records(0).seq(), 5u);
  EXPECT_EQ(tail.next_after_seq(), 0u);
}

ConflictRecord Conflict(const std::string& path, uint64_t hlc) {
  ConflictRecord record;
  record.set_path(path);
  record.set_copy_path("conflicts/" + path);
  record.mutable_loser()->mutable_version()->set_hlc(hlc);
  record.mutable_loser()->mutable_version()->set_node(2);
  record.mutable_winner_version()->set_hlc(hlc + 1);
  record.mutable_winner_version()->set_node(1);
  return record;
}

TEST_F(AdminServiceTest, ConflictsComePageByPage) {
  Transact([](StoreTransaction& txn) {
    for (const char* path : {"c", "a", "b"}) ConflictRecords::Put(txn, Conflict(path, 7));
    ConflictRecords::Put(txn, Conflict("a", 9));
  });
  std::unique_ptr<AdminService> service = Service();
  ConflictsRequest request;
  request.set_page_size(3);
  ConflictsReply first;
  ASSERT_TRUE(service->Conflicts(nullptr, &request, &first).ok());
  ASSERT_EQ(first.conflicts_size(), 3);
  EXPECT_EQ(first.conflicts(1).path(), "a");
  EXPECT_EQ(first.conflicts(1).loser_version().hlc(), 9u);
  EXPECT_EQ(first.conflicts(1).origin(), 2u);
  ASSERT_TRUE(first.has_next_after());
  EXPECT_EQ(first.next_after().path(), "b");
  *request.mutable_after() = first.next_after();
  ConflictsReply second;
  ASSERT_TRUE(service->Conflicts(nullptr, &request, &second).ok());
  ASSERT_EQ(second.conflicts_size(), 1);
  EXPECT_EQ(second.conflicts(0).path(), "c");
  EXPECT_FALSE(second.has_next_after());
}

// A record that does not parse is data loss, on the wire as DATA_LOSS (not
// a vague INTERNAL), and no partial page is sent with it.
TEST_F(AdminServiceTest, AnUnreadableRecordIsDataLossOnTheWire) {
  Transact([](StoreTransaction& txn) { ConflictRecords::Put(txn, Conflict("a", 7)); });
  PutRawKey(std::string("X/b") + '\0' + "0.7@0000000000000002", "not a record");
  std::unique_ptr<AdminService> service = Service();
  ConflictsRequest request;
  ConflictsReply reply;
  const grpc::Status status = service->Conflicts(nullptr, &request, &reply);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DATA_LOSS) << status.error_message();
  EXPECT_EQ(reply.conflicts_size(), 0);
}

}  // namespace
}  // namespace replfs
