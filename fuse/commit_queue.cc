#include "fuse/commit_queue.h"

#include <utility>

namespace replfs {

CommitQueue::CommitQueue(size_t capacity) : capacity_(capacity), worker_([this] { Run(); }) {}

CommitQueue::~CommitQueue() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  changed_.SignalAll();
  worker_.join();
}

CommitQueue::Ticket CommitQueue::Enqueue(std::function<void()> job) {
  absl::MutexLock lock(&mu_);
  while (jobs_.size() >= capacity_) changed_.Wait(&mu_);
  jobs_.push_back(std::move(job));
  changed_.SignalAll();
  return ++queued_;
}

void CommitQueue::WaitFor(Ticket ticket) {
  absl::MutexLock lock(&mu_);
  while (done_ < ticket) changed_.Wait(&mu_);
}

void CommitQueue::Drain() {
  absl::MutexLock lock(&mu_);
  const Ticket last = queued_;
  while (done_ < last) changed_.Wait(&mu_);
}

size_t CommitQueue::Pending() const {
  absl::MutexLock lock(&mu_);
  return static_cast<size_t>(queued_ - done_);
}

void CommitQueue::Run() {
  for (;;) {
    std::function<void()> job;
    {
      absl::MutexLock lock(&mu_);
      while (jobs_.empty() && !stopping_) changed_.Wait(&mu_);
      if (jobs_.empty()) return;  // Stopping, and everything queued has run.
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    job();
    {
      absl::MutexLock lock(&mu_);
      ++done_;
    }
    changed_.SignalAll();
  }
}

}  // namespace replfs
