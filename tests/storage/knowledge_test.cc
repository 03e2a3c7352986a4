#include "storage/knowledge.h"

#include <cstdint>
#include <initializer_list>
#include <map>
#include <string>
#include <utility>

#include "gtest/gtest.h"
#include "storage/deferred_entries.h"
#include "tests/support/raw_store.h"

namespace replfs {
namespace {

Entry WithVector(const std::string& path, Kind kind,
                 std::initializer_list<std::pair<uint64_t, uint64_t>> vector) {
  Entry e;
  e.set_path(path);
  e.mutable_content()->set_kind(kind);
  e.mutable_content()->mutable_version()->set_hlc(1);
  e.mutable_content()->mutable_version()->set_node(vector.begin()->first);
  for (const auto& [node, counter] : vector) {
    VersionVectorItem* item = e.mutable_content()->add_vector();
    item->set_node(node);
    item->set_counter(counter);
  }
  return e;
}

std::map<uint64_t, uint64_t> AsMap(const KnowledgeVector& knowledge) {
  std::map<uint64_t, uint64_t> out;
  for (const VersionVectorItem& item : knowledge.vector()) out[item.node()] = item.counter();
  return out;
}

class KnowledgeTest : public testing::RawStoreTest {
 protected:
  std::map<uint64_t, uint64_t> Knowledge() {
    absl::StatusOr<KnowledgeVector> knowledge = ComputeKnowledge(*store_);
    EXPECT_TRUE(knowledge.ok()) << knowledge.status();
    return knowledge.ok() ? AsMap(*knowledge) : std::map<uint64_t, uint64_t>{};
  }
};

TEST_F(KnowledgeTest, IsTheHighestCounterPerNodeOverEntriesAndTombstones) {
  Transact([](StoreTransaction& txn) {
    txn.Put(WithVector("a", KIND_FILE, {{1, 100}, {2, 50}}));
    txn.Put(WithVector("b", KIND_FILE, {{1, 120}}));
    txn.Put(WithVector("c", KIND_TOMBSTONE, {{2, 70}, {3, 5}}));
  });
  EXPECT_EQ(Knowledge(), (std::map<uint64_t, uint64_t>{{1, 120}, {2, 70}, {3, 5}}));
}

TEST_F(KnowledgeTest, KeepsWhatPurgedTombstonesHadSeenAcrossReopen) {
  Transact([](StoreTransaction& txn) {
    txn.Put(WithVector("live", KIND_FILE, {{1, 10}}));
    txn.Put(WithVector("gone", KIND_TOMBSTONE, {{1, 40}, {4, 9}}));
  });
  absl::StatusOr<std::optional<Entry>> gone = store_->Get("gone");
  ASSERT_TRUE(gone.ok() && gone->has_value());
  absl::StatusOr<bool> purged = store_->PurgeTombstone("gone", (*gone)->seq());
  ASSERT_TRUE(purged.ok() && *purged);
  Reopen();
  EXPECT_EQ(Knowledge(), (std::map<uint64_t, uint64_t>{{1, 40}, {4, 9}}));
}

// node 2's change 90 is held back (deferred): holding node 2's change 95
// elsewhere must not make the replica claim it saw 90.
TEST_F(KnowledgeTest, AHeldBackEntryCapsTheNodesItBringsNewsOf) {
  Transact([](StoreTransaction& txn) {
    txn.Put(WithVector("open.log", KIND_FILE, {{1, 30}, {2, 60}}));
    txn.Put(WithVector("later", KIND_FILE, {{2, 95}, {3, 7}}));
    DeferredEntries::Put(txn, WithVector("open.log", KIND_FILE, {{1, 30}, {2, 90}}));
  });
  EXPECT_EQ(Knowledge(), (std::map<uint64_t, uint64_t>{{1, 30}, {2, 89}, {3, 7}}));
}

TEST_F(KnowledgeTest, AnEntrySetAsideCapsLikeADeferredOne) {
  Transact([](StoreTransaction& txn) {
    txn.Put(WithVector("x", KIND_FILE, {{5, 200}}));
    SetAsideRecord record;
    *record.mutable_entry() = WithVector("y", KIND_FILE, {{5, 150}});
    record.set_reason("test");
    txn.PutSetAside(record);
  });
  EXPECT_EQ(Knowledge(), (std::map<uint64_t, uint64_t>{{5, 149}}));
}

// An outdated entry held back (the store already has what it brings)
// caps nothing.
TEST_F(KnowledgeTest, AHeldBackEntryTheStoreAlreadyHasCapsNothing) {
  Transact([](StoreTransaction& txn) {
    txn.Put(WithVector("f", KIND_FILE, {{2, 80}}));
    DeferredEntries::Put(txn, WithVector("f", KIND_FILE, {{2, 70}}));
  });
  EXPECT_EQ(Knowledge(), (std::map<uint64_t, uint64_t>{{2, 80}}));
}

}  // namespace
}  // namespace replfs
