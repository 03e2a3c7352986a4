#include "storage/apply_intents.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/support/raw_store.h"

namespace replfs {
namespace {

ApplyIntent Intent(const std::string& path, uint64_t placed_ino) {
  ApplyIntent intent;
  intent.mutable_result()->set_path(path);
  intent.mutable_result()->mutable_content()->set_kind(KIND_FILE);
  intent.mutable_result()->mutable_content()->mutable_version()->set_hlc(9);
  intent.set_placed_ino(placed_ino);
  return intent;
}

class ApplyIntentsTest : public testing::RawStoreTest {
 protected:
  std::vector<ApplyIntent> Scanned() {
    std::vector<ApplyIntent> intents;
    const absl::Status s = ApplyIntents(*store_).Scan([&](const ApplyIntent& intent) {
      intents.push_back(intent);
      return true;
    });
    EXPECT_TRUE(s.ok()) << s;
    return intents;
  }
};

TEST_F(ApplyIntentsTest, PutThenScanReturnsTheIntent) {
  const ApplyIntent intent = Intent("dir/f", 1234);
  Transact([&](StoreTransaction& txn) { ApplyIntents::Put(txn, intent); });
  const std::vector<ApplyIntent> scanned = Scanned();
  ASSERT_EQ(scanned.size(), 1u);
  EXPECT_EQ(scanned[0].SerializeAsString(), intent.SerializeAsString());
  Transact([](StoreTransaction& txn) { ApplyIntents::Delete(txn, "dir/f"); });
  EXPECT_TRUE(Scanned().empty());
}

TEST_F(ApplyIntentsTest, ScanVisitsInPathOrderAndStops) {
  for (const char* path : {"c", "a/b", "b", "a"}) {
    Transact([&](StoreTransaction& txn) { ApplyIntents::Put(txn, Intent(path, 1)); });
  }
  std::vector<std::string> paths;
  for (const ApplyIntent& intent : Scanned()) paths.push_back(intent.result().path());
  EXPECT_EQ(paths, (std::vector<std::string>{"a", "a/b", "b", "c"}));
  int visited = 0;
  ASSERT_TRUE(ApplyIntents(*store_).Scan([&](const ApplyIntent&) { return ++visited < 3; }).ok());
  EXPECT_EQ(visited, 3);
}

// The write-ahead use: persisted ahead of the batch, removed by its commit.
TEST_F(ApplyIntentsTest, PersistedAheadAndRemovedByTheCommit) {
  const absl::Status s = store_->Transact([&](StoreTransaction& txn) {
    ApplyIntents::Put(txn, Intent("f", 1));
    if (absl::Status persisted = txn.PersistQueuedRecords(); !persisted.ok()) return persisted;
    EXPECT_EQ(Scanned().size(), 1u);  // In the store before the disk is touched.
    txn.Put(Intent("f", 1).result());
    ApplyIntents::Delete(txn, "f");
    return absl::OkStatus();
  });
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_TRUE(Scanned().empty());
}

TEST_F(ApplyIntentsTest, KeysAndValuesKeepTheirFormat) {
  const ApplyIntent intent = Intent("dir/f", 77);
  Transact([&](StoreTransaction& txn) { ApplyIntents::Put(txn, intent); });
  EXPECT_EQ(RawKeys("A/"),
            (std::map<std::string, std::string>{{"A/dir/f", intent.SerializeAsString()}}));
}

TEST_F(ApplyIntentsTest, CorruptValueIsDataLoss) {
  PutRawKey("A/f", "\xff\xff not an intent");
  EXPECT_TRUE(absl::IsDataLoss(ApplyIntents(*store_).Scan([](const ApplyIntent&) { return true; })));
}

}  // namespace
}  // namespace replfs
