#ifndef REPLFS_TOOLS_PAGED_CURSOR_H_
#define REPLFS_TOOLS_PAGED_CURSOR_H_

#include <cstddef>
#include <functional>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace replfs {

// The items of a paged call, pulled one at a time: the next page is
// fetched when the one before is used up, so memory holds one page
// whatever the total. Two cursors over lists in the same order can be
// walked side by side (a merge), which visiting callbacks cannot do.
template <typename Item>
class PagedCursor {
 public:
  // Appends the next page's items to `items`; sets `more` false after the
  // last page.
  using Fetch = std::function<absl::Status(std::vector<Item>* items, bool* more)>;

  explicit PagedCursor(Fetch fetch) : fetch_(std::move(fetch)) {}

  // The next item, or null at the end.
  absl::StatusOr<const Item*> Peek() {
    while (next_ == items_.size() && more_) {
      items_.clear();
      next_ = 0;
      if (absl::Status s = fetch_(&items_, &more_); !s.ok()) return s;
    }
    return next_ < items_.size() ? &items_[next_] : nullptr;
  }
  // Moves past the item Peek returned.
  void Pop() { ++next_; }

 private:
  Fetch fetch_;
  std::vector<Item> items_;
  size_t next_ = 0;
  bool more_ = true;
};

}  // namespace replfs

#endif  // REPLFS_TOOLS_PAGED_CURSOR_H_
