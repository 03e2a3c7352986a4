#ifndef REPLFS_REPLICATION_FETCH_CANCELLATION_H_
#define REPLFS_REPLICATION_FETCH_CANCELLATION_H_

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/grpcpp.h"

namespace replfs {

// The FetchBlocks calls one owner (a puller, the replicator's retry worker)
// has in flight, so that stopping it cancels them: a peer that hangs must
// not hold up a shutdown until the calls' deadlines. Thread-safe.
class FetchCancellation {
 public:
  // Registers a call about to start; false once CancelAll was called (the
  // caller then does not start it).
  bool Register(grpc::ClientContext* context) {
    absl::MutexLock lock(&mu_);
    if (cancelled_) return false;
    active_.insert(context);
    return true;
  }
  void Unregister(grpc::ClientContext* context) {
    absl::MutexLock lock(&mu_);
    active_.erase(context);
  }
  // Cancels every registered call, and every one registered from now on.
  void CancelAll() {
    absl::MutexLock lock(&mu_);
    cancelled_ = true;
    for (grpc::ClientContext* context : active_) context->TryCancel();
  }

 private:
  absl::Mutex mu_;
  absl::flat_hash_set<grpc::ClientContext*> active_ ABSL_GUARDED_BY(mu_);
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace replfs

#endif  // REPLFS_REPLICATION_FETCH_CANCELLATION_H_
