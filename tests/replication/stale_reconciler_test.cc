#include "replication/stale_reconciler.h"

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "storage/version.h"
#include "tests/support/raw_store.h"

namespace replfs {
namespace {

constexpr uint64_t kPeer = 9;

Entry Made(const std::string& path, Kind kind, uint64_t hlc,
           std::initializer_list<std::pair<uint64_t, uint64_t>> vector) {
  Entry e;
  e.set_path(path);
  e.mutable_content()->set_kind(kind);
  e.mutable_content()->mutable_version()->set_hlc(hlc);
  e.mutable_content()->mutable_version()->set_node(1);
  for (const auto& [node, counter] : vector) {
    VersionVectorItem* item = e.mutable_content()->add_vector();
    item->set_node(node);
    item->set_counter(counter);
  }
  e.mutable_attributes()->mutable_version()->set_hlc(hlc);
  e.mutable_attributes()->mutable_version()->set_node(1);
  e.mutable_attributes()->set_mode(0644);
  return e;
}

KnowledgeVector Knowing(std::initializer_list<std::pair<uint64_t, uint64_t>> vector) {
  KnowledgeVector k;
  for (const auto& [node, counter] : vector) {
    VersionVectorItem* item = k.add_vector();
    item->set_node(node);
    item->set_counter(counter);
  }
  return k;
}

// Serves `paths` (sorted) `page_size` at a time, as a peer's Tree does.
StaleReconciler::PageReader PeerTree(std::vector<std::string> paths, size_t page_size,
                                     KnowledgeVector knowledge) {
  return [paths = std::move(paths), page_size,
          knowledge = std::move(knowledge)](const std::string& after) {
    TreePage page;
    if (after.empty()) *page.mutable_knowledge() = knowledge.vector();
    auto it = after.empty() ? paths.begin() : std::upper_bound(paths.begin(), paths.end(), after);
    for (; it != paths.end() && static_cast<size_t>(page.paths_size()) < page_size; ++it) {
      page.add_paths(*it);
    }
    if (it != paths.end()) page.set_next_after_path(page.paths(page.paths_size() - 1));
    return absl::StatusOr<TreePage>(page);
  };
}

std::vector<std::string> PathsOf(const std::vector<Entry>& entries) {
  std::vector<std::string> out;
  out.reserve(entries.size());
  for (const Entry& e : entries) out.push_back(e.path());
  return out;
}

class StaleReconcilerTest : public testing::RawStoreTest {
 protected:
  void SetUp() override {
    RawStoreTest::SetUp();
    Transact([](StoreTransaction& txn) {
      txn.Put(Made("a", KIND_FILE, 10, {{1, 10}}));          // The peer holds it.
      txn.Put(Made("b", KIND_FILE, 20, {{1, 20}}));          // Seen there, gone there.
      txn.Put(Made("c", KIND_FILE, 40, {{1, 15}, {2, 40}}));  // Changed here since.
      txn.Put(Made("d", KIND_DIR, 5, {{1, 5}}));             // Seen, gone, with ...
      txn.Put(Made("d/x", KIND_FILE, 6, {{1, 6}}));          // ... what was in it.
      txn.Put(Made("t", KIND_TOMBSTONE, 7, {{1, 7}}));       // Already deleted here.
      txn.Put(Made("u", KIND_FILE, 8, {}));                  // No history to compare.
    });
  }

  absl::StatusOr<std::vector<Entry>> Plan(size_t page_size) {
    return StaleReconciler(store_.get(), kPeer)
        .PlanRemovals(PeerTree({"a", "c-other", "e"}, page_size, Knowing({{1, 30}, {2, 3}})));
  }
};

TEST_F(StaleReconcilerTest, RemovesWhatThePeerSawAndNoLongerHoldsDeepestFirst) {
  for (size_t page_size : {1u, 2u, 3u, 100u}) {
    absl::StatusOr<std::vector<Entry>> removals = Plan(page_size);
    ASSERT_TRUE(removals.ok()) << removals.status();
    EXPECT_EQ(PathsOf(*removals), (std::vector<std::string>{"d/x", "d", "b"}))
        << "pages of " << page_size;
  }
}

// The removal stands in for the peer's purged tombstone: just after the
// version it deletes, by the peer, dominating it.
TEST_F(StaleReconcilerTest, EachRemovalIsATombstoneThatDominatesWhatItDeletes) {
  absl::StatusOr<std::vector<Entry>> removals = Plan(100);
  ASSERT_TRUE(removals.ok()) << removals.status();
  ASSERT_EQ(removals->size(), 3u);
  const Entry& b = removals->back();
  EXPECT_EQ(b.content().kind(), KIND_TOMBSTONE);
  EXPECT_EQ(b.content().version().hlc(), 21u);
  EXPECT_EQ(b.content().version().node(), kPeer);
  const Entry local = Made("b", KIND_FILE, 20, {{1, 20}});
  EXPECT_TRUE(VectorDominates(b.content().vector(), local.content().vector()));
  EXPECT_FALSE(VectorDominates(local.content().vector(), b.content().vector()));
  EXPECT_EQ(b.attributes().mode(), 0644u);
}

TEST_F(StaleReconcilerTest, APeerThatKnowsNothingRemovesNothing) {
  absl::StatusOr<std::vector<Entry>> removals =
      StaleReconciler(store_.get(), kPeer).PlanRemovals(PeerTree({}, 10, Knowing({})));
  ASSERT_TRUE(removals.ok()) << removals.status();
  EXPECT_TRUE(removals->empty());
}

TEST_F(StaleReconcilerTest, PagesOutOfOrderOrThatDoNotMoveOnAreRefused) {
  auto plan_with = [&](std::vector<TreePage> pages) {
    size_t served = 0;
    return StaleReconciler(store_.get(), kPeer).PlanRemovals([&](const std::string&) {
      return served < pages.size() ? absl::StatusOr<TreePage>(pages[served++])
                                   : absl::StatusOr<TreePage>(TreePage());
    });
  };
  TreePage unsorted;
  unsorted.add_paths("b");
  unsorted.add_paths("a");
  EXPECT_TRUE(absl::IsInvalidArgument(plan_with({unsorted}).status()));

  TreePage stuck;  // Promises more, holds nothing.
  stuck.set_next_after_path("a");
  EXPECT_TRUE(absl::IsInvalidArgument(plan_with({stuck}).status()));

  TreePage first;
  first.add_paths("a");
  first.set_next_after_path("a");
  TreePage backwards;  // Goes back before the page it follows.
  backwards.add_paths("0");
  EXPECT_TRUE(absl::IsInvalidArgument(plan_with({first, backwards}).status()));

  TreePage wrong_end;
  wrong_end.add_paths("a");
  wrong_end.add_paths("b");
  wrong_end.set_next_after_path("a");
  EXPECT_TRUE(absl::IsInvalidArgument(plan_with({wrong_end}).status()));
}

TEST_F(StaleReconcilerTest, AnErrorReadingAPageStopsThePlan) {
  absl::StatusOr<std::vector<Entry>> removals =
      StaleReconciler(store_.get(), kPeer).PlanRemovals([](const std::string&) {
        return absl::StatusOr<TreePage>(absl::UnavailableError("peer gone"));
      });
  EXPECT_TRUE(absl::IsUnavailable(removals.status()));
}

}  // namespace
}  // namespace replfs
