#ifndef REPLFS_STORAGE_CHANGE_SIGNAL_H_
#define REPLFS_STORAGE_CHANGE_SIGNAL_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace replfs {

// Tells those that follow the change log (the change feeds) that a commit
// logged new seqs, so that they need no thread waiting on the store each.
class ChangeSignal {
 public:
  // Called with the last seq after each commit that logs changes, on the
  // committing thread, once the new seqs are readable. It runs under the
  // store's commit lock: it must be quick and must not call the store.
  using Wake = std::function<void(uint64_t last_seq)>;

  // Calls its wake until destroyed; once destroyed, no call runs or starts.
  class Subscription {
   public:
    Subscription(ChangeSignal* signal, uint64_t id) : signal_(signal), id_(id) {}
    ~Subscription() { signal_->Remove(id_); }
    Subscription(const Subscription&) = delete;
    Subscription& operator=(const Subscription&) = delete;

   private:
    ChangeSignal* signal_;
    uint64_t id_;
  };

  // REQUIRES: the subscription is destroyed before this signal.
  std::unique_ptr<Subscription> Subscribe(Wake wake) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    const uint64_t id = next_id_++;
    wakes_.emplace(id, std::move(wake));
    return std::make_unique<Subscription>(this, id);
  }

  void Notify(uint64_t last_seq) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    for (const auto& [id, wake] : wakes_) wake(last_seq);
  }

 private:
  void Remove(uint64_t id) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    wakes_.erase(id);
  }

  absl::Mutex mu_;
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<uint64_t, Wake> wakes_ ABSL_GUARDED_BY(mu_);
};

}  // namespace replfs

#endif  // REPLFS_STORAGE_CHANGE_SIGNAL_H_
