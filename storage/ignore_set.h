#ifndef REPLFS_STORAGE_IGNORE_SET_H_
#define REPLFS_STORAGE_IGNORE_SET_H_

#include <atomic>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "storage/ignore_patterns.h"

namespace replfs {

// The ignore patterns a replica runs with now: consulted by the recorder,
// the applier and the hello from any thread, replaced whole by a reload.
// A replica without patterns pays one atomic load per question.
class IgnoreSet {
 public:
  IgnoreSet() = default;
  explicit IgnoreSet(IgnorePatterns patterns) { Replace(std::move(patterns)); }
  IgnoreSet(const IgnoreSet&) = delete;
  IgnoreSet& operator=(const IgnoreSet&) = delete;

  bool Ignored(absl::string_view path, bool is_dir) const {
    if (empty_.load(std::memory_order_acquire)) return false;
    absl::ReaderMutexLock lock(&mu_);
    return patterns_.Ignored(path, is_dir);
  }
  bool empty() const { return empty_.load(std::memory_order_acquire); }
  // The patterns as given, in order (see IgnorePatterns::Sources).
  std::vector<std::string> Sources() const {
    absl::ReaderMutexLock lock(&mu_);
    return patterns_.Sources();
  }
  void Replace(IgnorePatterns patterns) {
    absl::MutexLock lock(&mu_);
    patterns_ = std::move(patterns);
    empty_.store(patterns_.empty(), std::memory_order_release);
  }

 private:
  mutable absl::Mutex mu_;
  IgnorePatterns patterns_ ABSL_GUARDED_BY(mu_);
  std::atomic<bool> empty_{true};
};

}  // namespace replfs

#endif  // REPLFS_STORAGE_IGNORE_SET_H_
