#ifndef REPLFS_FUSE_IN_PLACE_KEEP_H_
#define REPLFS_FUSE_IN_PLACE_KEEP_H_

#include <atomic>
#include <memory>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "fuse/change_stamp.h"

namespace replfs {

// A keep whose record waits for the last writer's close (CommitPath's).
struct UnsettledKeep;

// What one inode needs to keep its content aside before a change in place
// destroys it (-o keep_versions): a truncation, or the writes of a writer
// that opened the file without O_TRUNC (`dd conv=notrunc`, fopen "r+").
// A writer whose writes reach the daemon arms it at its open, and the
// first write of the file keeps the content before it goes in; a writer
// whose writes go past the daemon (passthrough) keeps it at its open.
//
// It remembers the stat of the content it kept last, so that a content
// state is kept once: a file opened read-write over and over and never
// written is not copied again at each open. A keep made at an open holds
// its record back until a close shows that the file changed (see
// UnsettledKeep): an open that wrote nothing leaves no version behind.
//
// Thread-safe. The mutex is held while a keep copies the file: a write of
// the inode that comes meanwhile waits for it, so no copy is torn.
class InPlaceKeep {
 public:
  InPlaceKeep() = default;
  InPlaceKeep(const InPlaceKeep&) = delete;
  InPlaceKeep& operator=(const InPlaceKeep&) = delete;

  absl::Mutex* mu() ABSL_LOCK_RETURNED(mu_) { return &mu_; }

  // The next write of the file keeps its content first. Under the lock:
  // the last writer's close disarms only while no writer is open.
  void ArmForFirstWrite() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    armed_.store(true, std::memory_order_release);
  }
  // Read before every write: no lock while nothing is armed.
  bool armed() const { return armed_.load(std::memory_order_acquire); }
  // A keep done, or the last writer gone: later writes keep nothing.
  void Disarm() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    armed_.store(false, std::memory_order_release);
  }

  // Whether the content stamped `stamp` is the one kept last (which the
  // stamp proves only where timestamps are fine-grained: see ChangeStamp).
  bool IsKept(const ChangeStamp& stamp) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return kept_.SameContentAs(stamp);
  }
  void NoteKept(const ChangeStamp& stamp) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { kept_ = stamp; }
  void ForgetKept() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { kept_ = ChangeStamp(); }

  // The keep whose record waits, if any (null after the take).
  std::shared_ptr<UnsettledKeep> TakeUnsettled() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return std::move(unsettled_);
  }
  void SetUnsettled(std::shared_ptr<UnsettledKeep> keep) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    unsettled_ = std::move(keep);
  }

 private:
  absl::Mutex mu_;
  std::atomic<bool> armed_{false};
  ChangeStamp kept_ ABSL_GUARDED_BY(mu_);  // Size -1 until a first keep.
  std::shared_ptr<UnsettledKeep> unsettled_ ABSL_GUARDED_BY(mu_);
};

}  // namespace replfs

#endif  // REPLFS_FUSE_IN_PLACE_KEEP_H_
