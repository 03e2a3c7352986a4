#ifndef REPLFS_FUSE_IDLE_COMMITTER_H_
#define REPLFS_FUSE_IDLE_COMMITTER_H_

#include <chrono>
#include <functional>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "fuse/commit_path.h"

namespace replfs {

// Commits files that stay open for writing once they have been quiet for a
// while (DESIGN.md: "after a short quiet period for files that stay open"),
// so a writer that keeps its file open (a long-running process, a log) is
// still replicated without waiting for its close. Every `period` it commits
// each file with writers whose last change is at least `quiet` old
// (CommitPath::CommitQuietFiles). Remote versions of such a file still wait
// for its last close. `also_each_period`, when given, runs after each round
// on the same thread.
class IdleCommitter {
 public:
  IdleCommitter(CommitPath* commit_path, std::chrono::milliseconds quiet,
                std::chrono::milliseconds period, std::function<void()> also_each_period = {});
  ~IdleCommitter();  // Stops and joins the thread.
  IdleCommitter(const IdleCommitter&) = delete;
  IdleCommitter& operator=(const IdleCommitter&) = delete;

 private:
  void Run() ABSL_LOCKS_EXCLUDED(mu_);

  CommitPath* commit_path_;
  const std::chrono::milliseconds quiet_;
  const std::chrono::milliseconds period_;
  const std::function<void()> also_each_period_;
  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;  // Last: starts after everything it uses.
};

}  // namespace replfs

#endif  // REPLFS_FUSE_IDLE_COMMITTER_H_
