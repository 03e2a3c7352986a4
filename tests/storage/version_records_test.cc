#include "storage/version_records.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/support/raw_store.h"

namespace replfs {
namespace {

class VersionRecordsTest : public testing::RawStoreTest {
 protected:
  static VersionRecord Record(const std::string& path, int64_t kept_ms, const std::string& id,
                              uint64_t size) {
    VersionRecord record;
    record.set_path(path);
    record.set_id(id);
    record.set_kept_name(id);
    record.set_kept_unix_ms(kept_ms);
    record.set_size(size);
    return record;
  }
  // The ids Scan visits, and the position after the last one.
  std::vector<std::string> Ids(const std::string& path, bool subtree,
                               const std::string& after = "", size_t limit = 100,
                               std::string* position = nullptr) {
    std::vector<std::string> ids;
    const absl::Status s = VersionRecords(*store_).Scan(
        path, subtree, after, [&](const VersionRecord& record, absl::string_view at) {
          ids.push_back(record.id());
          if (position != nullptr) *position = std::string(at);
          return ids.size() < limit;
        });
    EXPECT_TRUE(s.ok()) << s;
    return ids;
  }
};

TEST_F(VersionRecordsTest, ScanOfAPathLeavesLongerPathsOutAndASubtreeTakesThemIn) {
  Transact([](StoreTransaction& txn) {
    VersionRecords::Put(txn, Record("a", 10, "0000000000010-1", 1));
    VersionRecords::Put(txn, Record("a", 20, "0000000000020-2", 1));
    VersionRecords::Put(txn, Record("a.b", 30, "0000000000030-3", 1));
    VersionRecords::Put(txn, Record("a/x", 40, "0000000000040-4", 1));
    VersionRecords::Put(txn, Record("ab", 50, "0000000000050-5", 1));
  });
  EXPECT_EQ(Ids("a", false), (std::vector<std::string>{"0000000000010-1", "0000000000020-2"}));
  EXPECT_EQ(Ids("a", true), (std::vector<std::string>{"0000000000010-1", "0000000000020-2",
                                                      "0000000000040-4"}));
  EXPECT_EQ(Ids("", true).size(), 5u);
}

TEST_F(VersionRecordsTest, ScanResumesAfterAPositionAcrossTheTwoPrefixes) {
  Transact([](StoreTransaction& txn) {
    VersionRecords::Put(txn, Record("d", 10, "0000000000010-1", 1));
    VersionRecords::Put(txn, Record("d/x", 20, "0000000000020-2", 1));
    VersionRecords::Put(txn, Record("d/y", 30, "0000000000030-3", 1));
  });
  std::string position;
  EXPECT_EQ(Ids("d", true, "", 1, &position), std::vector<std::string>{"0000000000010-1"});
  EXPECT_EQ(Ids("d", true, position, 1, &position), std::vector<std::string>{"0000000000020-2"});
  EXPECT_EQ(Ids("d", true, position), std::vector<std::string>{"0000000000030-3"});
}

TEST_F(VersionRecordsTest, AgeIndexIsOldestFirstAndDeleteRemovesBothKeys) {
  Transact([](StoreTransaction& txn) {
    VersionRecords::Put(txn, Record("new", 5000, "0000000005000-1", 7));
    VersionRecords::Put(txn, Record("old", 100, "0000000000100-2", 9));
  });
  std::vector<VersionRecords::Aged> aged;
  ASSERT_TRUE(VersionRecords(*store_)
                  .ScanOldest([&](const VersionRecords::Aged& a) {
                    aged.push_back(a);
                    return true;
                  })
                  .ok());
  ASSERT_EQ(aged.size(), 2u);
  EXPECT_EQ(aged[0].path, "old");
  EXPECT_EQ(aged[0].kept_unix_ms, 100);
  EXPECT_EQ(aged[0].size, 9u);
  EXPECT_EQ(aged[1].path, "new");
  EXPECT_TRUE(*VersionRecords(*store_).Holds(100, "0000000000100-2"));
  Transact([&](StoreTransaction& txn) { VersionRecords::Delete(txn, aged[0]); });
  EXPECT_FALSE(*VersionRecords(*store_).Holds(100, "0000000000100-2"));
  EXPECT_EQ(Ids("old", false).size(), 0u);
  EXPECT_EQ(RawKeys("V/").size(), 1u);
  EXPECT_EQ(RawKeys("T/").size(), 1u);
}

TEST_F(VersionRecordsTest, ARecordThatDoesNotParseStopsTheScan) {
  PutRawKey(std::string("V/p\0", 4) + "0000000000001-1", "\xff\xff\xff");
  Reopen();
  const absl::Status s = VersionRecords(*store_).Scan(
      "p", false, "", [](const VersionRecord&, absl::string_view) { return true; });
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
}

}  // namespace
}  // namespace replfs
