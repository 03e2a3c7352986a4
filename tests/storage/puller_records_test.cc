#include "storage/puller_records.h"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "tests/support/raw_store.h"

namespace replfs {
namespace {

class PullerRecordsTest : public testing::RawStoreTest {
 protected:
  std::vector<std::pair<uint64_t, uint64_t>> Scanned() {
    std::vector<std::pair<uint64_t, uint64_t>> records;
    const absl::Status s = PullerRecords(*store_).Scan([&](uint64_t node, uint64_t seq) {
      records.emplace_back(node, seq);
      return true;
    });
    EXPECT_TRUE(s.ok()) << s;
    return records;
  }
};

TEST_F(PullerRecordsTest, PutThenGetReplaceAndDelete) {
  const PullerRecords pullers(*store_);
  EXPECT_FALSE(pullers.Get(2)->has_value());
  EXPECT_FALSE(*pullers.Contains(2));
  Transact([](StoreTransaction& txn) { PullerRecords::Put(txn, 2, 10); });
  EXPECT_TRUE(*pullers.Contains(2));
  absl::StatusOr<std::optional<uint64_t>> got = pullers.Get(2);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, std::optional<uint64_t>(10));
  Transact([](StoreTransaction& txn) { PullerRecords::Put(txn, 2, 12); });
  EXPECT_EQ(*pullers.Get(2), std::optional<uint64_t>(12));
  Transact([](StoreTransaction& txn) { PullerRecords::Delete(txn, 2); });
  EXPECT_FALSE(pullers.Get(2)->has_value());
}

// Node ids are fixed-width hex: the scan is in numeric order.
TEST_F(PullerRecordsTest, ScanVisitsInNodeOrderAndStops) {
  Transact([](StoreTransaction& txn) {
    PullerRecords::Put(txn, 0xffffffffffffffff, 3);
    PullerRecords::Put(txn, 0x10, 2);
    PullerRecords::Put(txn, 0x9, 1);
  });
  EXPECT_EQ(Scanned(), (std::vector<std::pair<uint64_t, uint64_t>>{
                           {0x9, 1}, {0x10, 2}, {0xffffffffffffffff, 3}}));
  int visited = 0;
  ASSERT_TRUE(PullerRecords(*store_).Scan([&](uint64_t, uint64_t) { return ++visited < 1; }).ok());
  EXPECT_EQ(visited, 1);
}

TEST_F(PullerRecordsTest, KeysAndValuesKeepTheirFormat) {
  Transact([](StoreTransaction& txn) { PullerRecords::Put(txn, 0xab, 12345); });
  EXPECT_EQ(RawKeys("P/"),
            (std::map<std::string, std::string>{{"P/00000000000000ab", "12345"}}));
}

TEST_F(PullerRecordsTest, CorruptValueIsDataLoss) {
  PutRawKey("P/0000000000000002", "not a seq");
  const PullerRecords pullers(*store_);
  EXPECT_TRUE(absl::IsDataLoss(pullers.Get(2).status())) << pullers.Get(2).status();
  EXPECT_TRUE(absl::IsDataLoss(pullers.Scan([](uint64_t, uint64_t) { return true; })));
  // Found without being read, so that it can be removed.
  EXPECT_TRUE(*pullers.Contains(2));
  Transact([](StoreTransaction& txn) { PullerRecords::Delete(txn, 2); });
  EXPECT_FALSE(*PullerRecords(*store_).Contains(2));
  EXPECT_TRUE(PullerRecords(*store_).Scan([](uint64_t, uint64_t) { return true; }).ok());
}

TEST_F(PullerRecordsTest, CorruptKeyIsDataLoss) {
  PutRawKey("P/not-a-node-id", "5");
  EXPECT_TRUE(
      absl::IsDataLoss(PullerRecords(*store_).Scan([](uint64_t, uint64_t) { return true; })));
}

}  // namespace
}  // namespace replfs
