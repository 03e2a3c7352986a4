#ifndef REPLFS_FUSE_GATE_H_
#define REPLFS_FUSE_GATE_H_

#include <mutex>
#include <shared_mutex>

#include "absl/base/thread_annotations.h"

namespace replfs {

// A reader-writer lock that orders operations rather than guarding data:
// many operations pass it at once (shared), one side stops them all
// (exclusive). A capability the thread-safety analysis tracks, so the lock
// order and "not while holding" rules are checked at compile time (clang).
// Held through SharedGateHold and ExclusiveGateHold.
class ABSL_LOCKABLE Gate {
 public:
  Gate() = default;
  Gate(const Gate&) = delete;
  Gate& operator=(const Gate&) = delete;

  void LockShared() ABSL_SHARED_LOCK_FUNCTION() { mu_.lock_shared(); }
  void UnlockShared() ABSL_UNLOCK_FUNCTION() { mu_.unlock_shared(); }
  void Lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() { mu_.lock(); }
  void Unlock() ABSL_UNLOCK_FUNCTION() { mu_.unlock(); }
  // Held exclusively for as long as the returned lock lives, for a holder
  // in another layer that keeps it across calls (FilesystemHooks).
  std::unique_lock<std::shared_mutex> Block() ABSL_NO_THREAD_SAFETY_ANALYSIS {
    return std::unique_lock(mu_);
  }

 private:
  std::shared_mutex mu_;
};

// Holds a gate shared until destroyed or released; a null gate holds
// nothing (an operation that needs the gate only in some cases).
class ABSL_SCOPED_LOCKABLE SharedGateHold {
 public:
  explicit SharedGateHold(Gate* gate) ABSL_SHARED_LOCK_FUNCTION(gate) : gate_(gate) {
    if (gate_ != nullptr) gate_->LockShared();
  }
  ~SharedGateHold() ABSL_UNLOCK_FUNCTION() { Release(); }
  SharedGateHold(const SharedGateHold&) = delete;
  SharedGateHold& operator=(const SharedGateHold&) = delete;

  void Release() ABSL_UNLOCK_FUNCTION() {
    if (gate_ != nullptr) gate_->UnlockShared();
    gate_ = nullptr;
  }

 private:
  Gate* gate_;
};

// Holds a gate exclusively until destroyed.
class ABSL_SCOPED_LOCKABLE ExclusiveGateHold {
 public:
  explicit ExclusiveGateHold(Gate* gate) ABSL_EXCLUSIVE_LOCK_FUNCTION(gate) : gate_(gate) {
    gate_->Lock();
  }
  ~ExclusiveGateHold() ABSL_UNLOCK_FUNCTION() { gate_->Unlock(); }
  ExclusiveGateHold(const ExclusiveGateHold&) = delete;
  ExclusiveGateHold& operator=(const ExclusiveGateHold&) = delete;

 private:
  Gate* gate_;
};

}  // namespace replfs

#endif  // REPLFS_FUSE_GATE_H_
