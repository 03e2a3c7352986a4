#ifndef REPLFS_FUSE_FD_BUDGET_H_
#define REPLFS_FUSE_FD_BUDGET_H_

#include <atomic>
#include <cstdint>

namespace replfs {

// A share of the process's file descriptors that some cache may keep open
// (see InodeTable). Thread-safe.
class FdBudget {
 public:
  explicit FdBudget(int64_t fds) : left_(fds) {}
  FdBudget(const FdBudget&) = delete;
  FdBudget& operator=(const FdBudget&) = delete;

  // Takes one fd's share if any is left.
  bool TryTake() {
    if (left_.fetch_sub(1, std::memory_order_relaxed) > 0) return true;
    left_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  void Give() { left_.fetch_add(1, std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> left_;
};

}  // namespace replfs

#endif  // REPLFS_FUSE_FD_BUDGET_H_
