#include "fuse/commit_queue.h"

#include <utility>

#include "absl/time/time.h"

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
  const auto queued_at = std::chrono::steady_clock::now();
  absl::MutexLock lock(&mu_);
  while (jobs_.size() >= capacity_) changed_.Wait(&mu_);
  jobs_.push_back(Job{std::move(job), queued_at});
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
    Job job;
    {
      absl::MutexLock lock(&mu_);
      while (jobs_.empty() && !stopping_) changed_.Wait(&mu_);
      if (jobs_.empty()) return;  // Stopping, and everything queued has run.
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    job.run();
    if (LatencyHistograms* latency = latency_.load(std::memory_order_relaxed)) {
      latency->ObserveCommit(absl::FromChrono(std::chrono::steady_clock::now() - job.queued_at));
    }
    {
      absl::MutexLock lock(&mu_);
      ++done_;
    }
    changed_.SignalAll();
  }
}

}  // namespace replfs
