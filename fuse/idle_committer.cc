#include "fuse/idle_committer.h"

#include <utility>

#include "absl/time/time.h"

namespace replfs {

IdleCommitter::IdleCommitter(CommitPath* commit_path, std::chrono::milliseconds quiet,
                             std::chrono::milliseconds period,
                             std::function<void()> also_each_period)
    : commit_path_(commit_path),
      quiet_(quiet),
      period_(period),
      also_each_period_(std::move(also_each_period)),
      thread_([this] { Run(); }) {}

IdleCommitter::~IdleCommitter() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  thread_.join();
}

void IdleCommitter::Run() {
  const absl::Duration period = absl::FromChrono(period_);
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      // Wakes at once when stopping_ is set (the condition is re-evaluated
      // on every unlock of mu_).
      if (mu_.AwaitWithTimeout(absl::Condition(&stopping_), period)) return;
    }
    commit_path_->CommitQuietFiles(quiet_);
    if (also_each_period_) also_each_period_();
  }
}

}  // namespace replfs
