#include "storage/deferred_entries.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/support/raw_store.h"

namespace replfs {
namespace {

Entry RemoteEntry(const std::string& path, uint64_t hlc) {
  Entry e;
  e.set_path(path);
  e.mutable_content()->set_kind(KIND_FILE);
  e.mutable_content()->mutable_version()->set_hlc(hlc);
  e.mutable_content()->mutable_version()->set_node(7);
  e.mutable_content()->set_is_inline(true);
  e.mutable_content()->set_inline_data("remote");
  return e;
}

class DeferredEntriesTest : public testing::RawStoreTest {
 protected:
  std::vector<std::string> ScannedPaths() {
    std::vector<std::string> paths;
    const absl::Status s = DeferredEntries(*store_).Scan([&](const Entry& e) {
      paths.push_back(e.path());
      return true;
    });
    EXPECT_TRUE(s.ok()) << s;
    return paths;
  }
};

TEST_F(DeferredEntriesTest, PutThenGetReturnsTheEntry) {
  const Entry entry = RemoteEntry("dir/f", 42);
  Transact([&](StoreTransaction& txn) { DeferredEntries::Put(txn, entry); });
  const DeferredEntries deferred(*store_);
  absl::StatusOr<std::optional<Entry>> got = deferred.Get("dir/f");
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ((*got)->SerializeAsString(), entry.SerializeAsString());
  EXPECT_TRUE(*deferred.Contains("dir/f"));
  EXPECT_FALSE(*deferred.Contains("dir"));
  absl::StatusOr<std::optional<Entry>> absent = deferred.Get("dir");
  ASSERT_TRUE(absent.ok()) << absent.status();
  EXPECT_FALSE(absent->has_value());
}

TEST_F(DeferredEntriesTest, PutReplacesAndDeleteRemoves) {
  Transact([](StoreTransaction& txn) { DeferredEntries::Put(txn, RemoteEntry("f", 1)); });
  Transact([](StoreTransaction& txn) { DeferredEntries::Put(txn, RemoteEntry("f", 2)); });
  absl::StatusOr<std::optional<Entry>> got = DeferredEntries(*store_).Get("f");
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->content().version().hlc(), 2u);
  EXPECT_EQ(*DeferredEntries(*store_).Count(), 1u);
  Transact([](StoreTransaction& txn) { DeferredEntries::Delete(txn, "f"); });
  EXPECT_FALSE(*DeferredEntries(*store_).Contains("f"));
  EXPECT_EQ(*DeferredEntries(*store_).Count(), 0u);
}

TEST_F(DeferredEntriesTest, ScanVisitsInPathOrderAndStops) {
  for (const char* path : {"b", "a/z", "a", "c"}) {
    Transact([&](StoreTransaction& txn) { DeferredEntries::Put(txn, RemoteEntry(path, 1)); });
  }
  EXPECT_EQ(ScannedPaths(), (std::vector<std::string>{"a", "a/z", "b", "c"}));
  int visited = 0;
  ASSERT_TRUE(DeferredEntries(*store_).Scan([&](const Entry&) { return ++visited < 2; }).ok());
  EXPECT_EQ(visited, 2);
}

TEST_F(DeferredEntriesTest, CommitsAtomicallyWithTheEntry) {
  Transact([](StoreTransaction& txn) {
    txn.Put(RemoteEntry("f", 5));
    DeferredEntries::Put(txn, RemoteEntry("g", 6));
  });
  absl::StatusOr<std::optional<Entry>> committed = store_->Get("f");
  ASSERT_TRUE(committed.ok() && committed->has_value());
  EXPECT_TRUE(*DeferredEntries(*store_).Contains("g"));
  // A transaction that fails writes neither.
  const absl::Status failed = store_->Transact([](StoreTransaction& txn) {
    DeferredEntries::Delete(txn, "g");
    return absl::AbortedError("changed its mind");
  });
  EXPECT_TRUE(absl::IsAborted(failed));
  EXPECT_TRUE(*DeferredEntries(*store_).Contains("g"));
}

// The format on disk is the one before the accessor existed.
TEST_F(DeferredEntriesTest, KeysAndValuesKeepTheirFormat) {
  const Entry entry = RemoteEntry("dir/f", 3);
  Transact([&](StoreTransaction& txn) { DeferredEntries::Put(txn, entry); });
  EXPECT_EQ(RawKeys("D/"),
            (std::map<std::string, std::string>{{"D/dir/f", entry.SerializeAsString()}}));
}

TEST_F(DeferredEntriesTest, CorruptValueIsDataLoss) {
  Transact([](StoreTransaction& txn) { DeferredEntries::Put(txn, RemoteEntry("a", 1)); });
  PutRawKey("D/b", "\xff\xff not an entry");
  const DeferredEntries deferred(*store_);
  EXPECT_TRUE(absl::IsDataLoss(deferred.Get("b").status())) << deferred.Get("b").status();
  EXPECT_TRUE(absl::IsDataLoss(deferred.Scan([](const Entry&) { return true; })));
  // Presence and counts do not read values.
  EXPECT_TRUE(*deferred.Contains("b"));
  EXPECT_EQ(*deferred.Count(), 2u);
}

}  // namespace
}  // namespace replfs
