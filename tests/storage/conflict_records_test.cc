#include "storage/conflict_records.h"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/support/raw_store.h"

namespace replfs {
namespace {

Version V(uint64_t hlc, uint64_t node) {
  Version v;
  v.set_hlc(hlc);
  v.set_node(node);
  return v;
}

ConflictRecord Record(const std::string& path, const Version& loser) {
  ConflictRecord record;
  record.set_path(path);
  record.set_copy_path("conflicts/" + path);
  *record.mutable_loser()->mutable_version() = loser;
  *record.mutable_winner_version() = V(loser.hlc() + 1, 2);
  record.set_saved_unix_ms(1000);
  return record;
}

class ConflictRecordsTest : public testing::RawStoreTest {
 protected:
  std::vector<std::string> ScannedPaths() {
    std::vector<std::string> paths;
    const absl::Status s = ConflictRecords(*store_).Scan([&](const ConflictRecord& r) {
      paths.push_back(r.path());
      return true;
    });
    EXPECT_TRUE(s.ok()) << s;
    return paths;
  }
};

TEST_F(ConflictRecordsTest, PutThenGetByPathAndLoserVersion) {
  const ConflictRecord record = Record("dir/f", V(5, 1));
  Transact([&](StoreTransaction& txn) { ConflictRecords::Put(txn, record); });
  const ConflictRecords records(*store_);
  absl::StatusOr<std::optional<ConflictRecord>> got = records.Get("dir/f", V(5, 1));
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ((*got)->SerializeAsString(), record.SerializeAsString());
  absl::StatusOr<std::optional<ConflictRecord>> other = records.Get("dir/f", V(5, 2));
  ASSERT_TRUE(other.ok()) << other.status();
  EXPECT_FALSE(other->has_value());
  EXPECT_EQ(*records.Count(), 1u);
  Transact([&](StoreTransaction& txn) { ConflictRecords::Delete(txn, record); });
  EXPECT_FALSE(records.Get("dir/f", V(5, 1))->has_value());
  EXPECT_EQ(*records.Count(), 0u);
}

// A path's records sort before a longer path's ("a" before "a/b" and "a0"):
// the version follows a NUL.
TEST_F(ConflictRecordsTest, ScanVisitsInPathOrderAndStops) {
  for (const char* path : {"a0", "a/b", "a"}) {
    Transact([&](StoreTransaction& txn) { ConflictRecords::Put(txn, Record(path, V(3, 1))); });
  }
  Transact([](StoreTransaction& txn) { ConflictRecords::Put(txn, Record("a", V(4, 1))); });
  EXPECT_EQ(ScannedPaths(), (std::vector<std::string>{"a", "a", "a/b", "a0"}));
  int visited = 0;
  ASSERT_TRUE(ConflictRecords(*store_).Scan([&](const ConflictRecord&) { return ++visited < 2; }).ok());
  EXPECT_EQ(visited, 2);
}

// A page of records resumes after the last one it listed, whether that
// record is still kept or not.
TEST_F(ConflictRecordsTest, ScanAfterResumesPastTheGivenRecord) {
  for (const char* path : {"a0", "a/b", "a"}) {
    Transact([&](StoreTransaction& txn) { ConflictRecords::Put(txn, Record(path, V(3, 1))); });
  }
  Transact([](StoreTransaction& txn) { ConflictRecords::Put(txn, Record("a", V(4, 1))); });
  auto paths_after = [&](const std::string& path, const Version& loser) {
    std::vector<std::string> paths;
    const absl::Status s =
        ConflictRecords(*store_).ScanAfter(path, loser, [&](const ConflictRecord& r) {
          paths.push_back(r.path() + "@" + std::to_string(r.loser().version().hlc()));
          return true;
        });
    EXPECT_TRUE(s.ok()) << s;
    return paths;
  };
  EXPECT_EQ(paths_after("a", V(3, 1)), (std::vector<std::string>{"a@4", "a/b@3", "a0@3"}));
  EXPECT_EQ(paths_after("a", V(4, 1)), (std::vector<std::string>{"a/b@3", "a0@3"}));
  Transact([](StoreTransaction& txn) { ConflictRecords::Delete(txn, Record("a/b", V(3, 1))); });
  EXPECT_EQ(paths_after("a/b", V(3, 1)), (std::vector<std::string>{"a0@3"}));
  EXPECT_EQ(paths_after("a0", V(3, 1)), std::vector<std::string>{});
}

TEST_F(ConflictRecordsTest, KeysAndValuesKeepTheirFormat) {
  const ConflictRecord record = Record("dir/f", V(5, 1));
  Transact([&](StoreTransaction& txn) { ConflictRecords::Put(txn, record); });
  const std::string key = std::string("X/dir/f") + '\0' + "0.5@0000000000000001";
  EXPECT_EQ(RawKeys("X/"), (std::map<std::string, std::string>{{key, record.SerializeAsString()}}));
}

TEST_F(ConflictRecordsTest, CorruptValueIsDataLoss) {
  const std::string key = std::string("X/f") + '\0' + "0.5@0000000000000001";
  PutRawKey(key, "\xff\xff not a record");
  const ConflictRecords records(*store_);
  EXPECT_TRUE(absl::IsDataLoss(records.Get("f", V(5, 1)).status()));
  EXPECT_TRUE(absl::IsDataLoss(records.Scan([](const ConflictRecord&) { return true; })));
  EXPECT_EQ(*records.Count(), 1u);  // Counting does not read values.
}

}  // namespace
}  // namespace replfs
