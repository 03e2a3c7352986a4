#include "fuse/commit_queue.h"

#include <limits>
#include <utility>

namespace replfs {
namespace {

// The queue whose RunQueued this thread calls after each request it serves.
thread_local const CommitQueue* t_runs_queued = nullptr;

constexpr CommitQueue::Ticket kEveryTicket = std::numeric_limits<CommitQueue::Ticket>::max();

}  // namespace

CommitQueue::CommitQueue(size_t capacity)
    : capacity_(capacity), own_thread_([this] { RunOwnThread(); }) {}

CommitQueue::~CommitQueue() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  own_thread_wanted_changed_.SignalAll();
  own_thread_.join();
}

CommitQueue::Ticket CommitQueue::Enqueue(std::function<void()> job) {
  absl::MutexLock lock(&mu_);
  while (jobs_.size() >= capacity_) {
    WakeOwnThread();
    job_done_.Wait(&mu_);
  }
  jobs_.push_back(std::move(job));
  if (t_runs_queued != this) WakeOwnThread();
  return ++queued_;
}

void CommitQueue::RunQueued() {
  t_runs_queued = this;
  absl::MutexLock lock(&mu_);
  RunUpTo(kEveryTicket);
}

void CommitQueue::WaitFor(Ticket ticket) {
  absl::MutexLock lock(&mu_);
  RunOrWaitFor(ticket);
}

void CommitQueue::Drain() {
  absl::MutexLock lock(&mu_);
  RunOrWaitFor(queued_);
}

size_t CommitQueue::Pending() const {
  absl::MutexLock lock(&mu_);
  return static_cast<size_t>(queued_ - done_);
}

void CommitQueue::RunUpTo(Ticket last) {
  while (!job_running_ && !jobs_.empty() && done_ < last) {
    std::function<void()> job = std::move(jobs_.front());
    jobs_.pop_front();
    job_running_ = true;
    mu_.Unlock();
    job();
    job = nullptr;  // Whatever it holds goes before the next job starts.
    mu_.Lock();
    job_running_ = false;
    ++done_;
    job_done_.SignalAll();
  }
  // Stopped at `last` with more queued, and nobody else runs them.
  if (!job_running_ && !jobs_.empty()) WakeOwnThread();
}

void CommitQueue::RunOrWaitFor(Ticket ticket) {
  while (done_ < ticket) {
    RunUpTo(ticket);
    if (done_ < ticket) job_done_.Wait(&mu_);  // Another thread runs one.
  }
}

void CommitQueue::WakeOwnThread() {
  if (own_thread_wanted_) return;
  own_thread_wanted_ = true;
  own_thread_wanted_changed_.Signal();
}

void CommitQueue::RunOwnThread() {
  absl::MutexLock lock(&mu_);
  for (;;) {
    while (!own_thread_wanted_ && !stopping_) own_thread_wanted_changed_.Wait(&mu_);
    own_thread_wanted_ = false;
    // Everything queued so far, also what a thread running jobs when this
    // one was woken leaves behind.
    RunOrWaitFor(queued_);
    if (stopping_ && jobs_.empty()) return;
  }
}

}  // namespace replfs
