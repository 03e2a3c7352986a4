#include "tools/paged_cursor.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace replfs {
namespace {

// Serves `pages` one per fetch, counting the fetches.
PagedCursor<std::string> CursorOver(const std::vector<std::vector<std::string>>& pages,
                                    int* fetches) {
  return PagedCursor<std::string>(
      [pages, fetches](std::vector<std::string>* items, bool* more) {
        const size_t index = static_cast<size_t>((*fetches)++);
        if (index < pages.size()) {
          items->insert(items->end(), pages[index].begin(), pages[index].end());
        }
        *more = index + 1 < pages.size();
        return absl::OkStatus();
      });
}

std::vector<std::string> Drain(PagedCursor<std::string>& cursor) {
  std::vector<std::string> seen;
  for (int guard = 0; guard < 100; ++guard) {
    absl::StatusOr<const std::string*> item = cursor.Peek();
    EXPECT_TRUE(item.ok()) << item.status();
    if (!item.ok() || *item == nullptr) break;
    seen.push_back(**item);
    cursor.Pop();
  }
  return seen;
}

TEST(PagedCursorTest, FetchesAPageOnlyWhenTheOneBeforeIsUsedUp) {
  int fetches = 0;
  PagedCursor<std::string> cursor = CursorOver({{"a", "b"}, {"c"}}, &fetches);
  EXPECT_EQ(fetches, 0) << "nothing is read before the first Peek";
  absl::StatusOr<const std::string*> first = cursor.Peek();
  ASSERT_TRUE(first.ok() && *first != nullptr);
  EXPECT_EQ(**first, "a");
  EXPECT_EQ(fetches, 1);
  // Peeking again does not move or fetch.
  EXPECT_EQ(**cursor.Peek(), "a");
  cursor.Pop();
  EXPECT_EQ(**cursor.Peek(), "b");
  EXPECT_EQ(fetches, 1);
  cursor.Pop();
  EXPECT_EQ(**cursor.Peek(), "c");
  EXPECT_EQ(fetches, 2);
  cursor.Pop();
  absl::StatusOr<const std::string*> end = cursor.Peek();
  ASSERT_TRUE(end.ok());
  EXPECT_EQ(*end, nullptr);
  EXPECT_EQ(fetches, 2) << "no fetch after the last page";
}

TEST(PagedCursorTest, EmptyPagesInTheMiddleAreSkipped) {
  int fetches = 0;
  PagedCursor<std::string> cursor = CursorOver({{"a"}, {}, {}, {"b"}, {}}, &fetches);
  EXPECT_EQ(Drain(cursor), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(fetches, 5);
}

TEST(PagedCursorTest, AFailedFetchIsReported) {
  int fetches = 0;
  PagedCursor<std::string> cursor(
      [&fetches](std::vector<std::string>* items, bool* more) -> absl::Status {
        if (fetches++ > 0) return absl::UnavailableError("replica went away");
        items->push_back("a");
        *more = true;
        return absl::OkStatus();
      });
  ASSERT_EQ(**cursor.Peek(), "a");
  cursor.Pop();
  absl::StatusOr<const std::string*> next = cursor.Peek();
  EXPECT_TRUE(absl::IsUnavailable(next.status())) << next.status();
}

}  // namespace
}  // namespace replfs
