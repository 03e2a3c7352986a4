#include "replication/tombstone_purger.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>

#include "storage/hlc.h"
#include "storage/version.h"
#include "tests/support/scratch_dir.h"

namespace replfs {
namespace {

class TombstonePurgerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = std::move(MetadataStore::Open(dir_.path() + "/store")).value();
  }
  void Put(const std::string& path, Kind kind, uint64_t wall_ms) {
    Entry e;
    e.set_path(path);
    e.mutable_content()->set_kind(kind);
    *e.mutable_content()->mutable_version() = MakeVersion(HybridLogicalClock::Pack(wall_ms, 0), 7);
    std::vector<Entry> batch{e};
    ASSERT_TRUE(store_->Commit(&batch).ok());
  }
  bool Has(const std::string& path) { return store_->Get(path)->has_value(); }

  testing::ScratchDir dir_{"purger-test"};
  std::unique_ptr<MetadataStore> store_;
};

constexpr uint64_t kOld = 1'000'000;  // 1970: far past any grace period.

TEST_F(TombstonePurgerTest, PurgesOldTombstonesEveryPeerApplied) {
  Put("dead", KIND_TOMBSTONE, kOld);  // seq 1
  Put("live", KIND_FILE, kOld);       // seq 2
  TombstonePurger purger(store_.get(), absl::Hours(1));
  absl::StatusOr<uint64_t> purged = purger.PurgeOnce({1, 5}, absl::Now());
  ASSERT_TRUE(purged.ok());
  EXPECT_EQ(*purged, 1u);
  EXPECT_FALSE(Has("dead"));
  EXPECT_TRUE(Has("live"));
  EXPECT_EQ(store_->Tombstones(), 0u);
}

TEST_F(TombstonePurgerTest, KeepsTombstonesAPeerHasNotApplied) {
  Put("dead", KIND_TOMBSTONE, kOld);  // seq 1
  TombstonePurger purger(store_.get(), absl::Hours(1));
  EXPECT_EQ(*purger.PurgeOnce({5, 0}, absl::Now()), 0u);
  EXPECT_TRUE(Has("dead"));
}

TEST_F(TombstonePurgerTest, AnUnknownPeerBlocksPurging) {
  Put("dead", KIND_TOMBSTONE, kOld);
  TombstonePurger purger(store_.get(), absl::Hours(1));
  EXPECT_EQ(*purger.PurgeOnce({5, std::nullopt}, absl::Now()), 0u);
  EXPECT_TRUE(Has("dead"));
}

TEST_F(TombstonePurgerTest, KeepsTombstonesInsideTheGracePeriod) {
  const uint64_t now_ms = static_cast<uint64_t>(absl::ToUnixMillis(absl::Now()));
  Put("recent", KIND_TOMBSTONE, now_ms);
  TombstonePurger purger(store_.get(), absl::Hours(1));
  EXPECT_EQ(*purger.PurgeOnce({}, absl::Now()), 0u);
  EXPECT_TRUE(Has("recent"));
  EXPECT_EQ(*purger.PurgeOnce({}, absl::Now() + absl::Hours(2)), 1u);
}

TEST_F(TombstonePurgerTest, SeqsAreNeverReusedAfterPurgingTheNewest) {
  Put("a", KIND_FILE, kOld);
  Put("dead", KIND_TOMBSTONE, kOld);
  const uint64_t last = store_->LastSeq();
  TombstonePurger purger(store_.get(), absl::Hours(1));
  ASSERT_EQ(*purger.PurgeOnce({}, absl::Now()), 1u);
  store_.reset();
  store_ = std::move(MetadataStore::Open(dir_.path() + "/store")).value();
  EXPECT_EQ(store_->LastSeq(), last);
  Put("b", KIND_FILE, kOld);
  EXPECT_EQ(store_->Get("b")->value().seq(), last + 1);
}

}  // namespace
}  // namespace replfs
