#ifndef REPLFS_FUSE_COMMIT_QUEUE_H_
#define REPLFS_FUSE_COMMIT_QUEUE_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace replfs {

// Runs the store records of local changes (commits, deletes, renames) one
// after another, in the order they were queued.
//
// An operation through the mount queues its record and answers the kernel;
// the record lands right after, off the request's path. The change log
// keeps the order in which the operations happened, because every record
// goes through this one queue and one job runs at a time. Whoever must see
// every local change in the store first (replication deciding a remote
// entry, fsync) waits for the queue to reach it, running the jobs itself
// when nobody else is.
//
// Who runs the jobs: a thread that serves the mount calls RunQueued() each
// time it has answered a request, before it waits for the next one. Its
// own jobs then need no other thread: on a two-core machine, waking a
// thread of the queue's own for every change cost more than the record
// itself. Jobs queued by any other thread (the idle committer, replication)
// wake the queue's own thread, as does a full queue.
class CommitQueue {
 public:
  // Tickets count jobs from 1; 0 is before the first.
  using Ticket = uint64_t;

  // At most `capacity` jobs wait at once: Enqueue blocks past it.
  explicit CommitQueue(size_t capacity = 4096);
  ~CommitQueue();  // Runs what is queued, then stops.
  CommitQueue(const CommitQueue&) = delete;
  CommitQueue& operator=(const CommitQueue&) = delete;

  // Queues `job`; returns its ticket. A job takes none of the caller's
  // locks: it may run on a thread that waits for it while holding them.
  Ticket Enqueue(std::function<void()> job) ABSL_LOCKS_EXCLUDED(mu_);
  // Runs the queued jobs on the calling thread unless another thread runs
  // them, and from now on counts on this thread to call RunQueued again
  // after it queues a job (instead of waking the queue's own thread). Call
  // holding no lock that a job takes.
  void RunQueued() ABSL_LOCKS_EXCLUDED(mu_);
  // Waits until the job of `ticket` (and every job before it) has run.
  void WaitFor(Ticket ticket) ABSL_LOCKS_EXCLUDED(mu_);
  // Waits until every job queued before this call has run.
  void Drain() ABSL_LOCKS_EXCLUDED(mu_);
  // Jobs queued and not yet finished.
  size_t Pending() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // Runs jobs, one at a time, while no other thread runs one and the next
  // one's ticket is at most `last`; leaves jobs past `last` to the queue's
  // own thread.
  void RunUpTo(Ticket last) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Runs the jobs up to `ticket`, or waits while another thread runs them.
  void RunOrWaitFor(Ticket ticket) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void WakeOwnThread() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RunOwnThread() ABSL_LOCKS_EXCLUDED(mu_);

  const size_t capacity_;
  mutable absl::Mutex mu_;
  std::deque<std::function<void()>> jobs_ ABSL_GUARDED_BY(mu_);
  Ticket queued_ ABSL_GUARDED_BY(mu_) = 0;
  Ticket done_ ABSL_GUARDED_BY(mu_) = 0;
  bool job_running_ ABSL_GUARDED_BY(mu_) = false;
  bool own_thread_wanted_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // Signalled when the queue's own thread is wanted, and at stop.
  absl::CondVar own_thread_wanted_changed_;
  // Signalled when a job finishes: for waiters, and for enqueuers of a
  // full queue.
  absl::CondVar job_done_;
  std::thread own_thread_;  // Last: starts after everything it uses.
};

}  // namespace replfs

#endif  // REPLFS_FUSE_COMMIT_QUEUE_H_
