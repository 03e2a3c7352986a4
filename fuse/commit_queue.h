#ifndef REPLFS_FUSE_COMMIT_QUEUE_H_
#define REPLFS_FUSE_COMMIT_QUEUE_H_

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "metrics/latency_histograms.h"

namespace replfs {

// Runs the store records of local changes (commits, deletes, renames) one
// after another on a thread of its own, in the order they were queued.
//
// An operation through the mount queues its record and answers the kernel;
// the record lands right after, off the request's path (on a two-core
// machine, beside the next request rather than before it). The change log
// keeps the order in which the operations happened, because every record
// goes through this one queue. Whoever must see every local change in the
// store first (replication deciding a remote entry, fsync) waits for the
// queue to reach it.
class CommitQueue {
 public:
  // Tickets count jobs from 1; 0 is before the first.
  using Ticket = uint64_t;

  // At most `capacity` jobs wait at once: Enqueue blocks past it.
  explicit CommitQueue(size_t capacity = 4096);
  ~CommitQueue();  // Runs what is queued, then stops.
  CommitQueue(const CommitQueue&) = delete;
  CommitQueue& operator=(const CommitQueue&) = delete;

  // Queues `job`; returns its ticket.
  Ticket Enqueue(std::function<void()> job) ABSL_LOCKS_EXCLUDED(mu_);
  // Waits until the job of `ticket` (and every job before it) has run.
  void WaitFor(Ticket ticket) ABSL_LOCKS_EXCLUDED(mu_);
  // Waits until every job queued before this call has run.
  void Drain() ABSL_LOCKS_EXCLUDED(mu_);
  // Jobs queued and not yet finished.
  size_t Pending() const ABSL_LOCKS_EXCLUDED(mu_);
  // Times every job from queued to done (-o metrics): the commit latency.
  void set_latency(LatencyHistograms* latency) { latency_.store(latency); }

 private:
  void Run() ABSL_LOCKS_EXCLUDED(mu_);

  const size_t capacity_;
  mutable absl::Mutex mu_;
  struct Job {
    std::function<void()> run;
    std::chrono::steady_clock::time_point queued_at;
  };
  std::deque<Job> jobs_ ABSL_GUARDED_BY(mu_);
  Ticket queued_ ABSL_GUARDED_BY(mu_) = 0;
  Ticket done_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // Signalled when a job is queued or done, and at stop.
  absl::CondVar changed_;
  std::atomic<LatencyHistograms*> latency_{nullptr};
  std::thread worker_;  // Last: starts after everything it uses.
};

}  // namespace replfs

#endif  // REPLFS_FUSE_COMMIT_QUEUE_H_
