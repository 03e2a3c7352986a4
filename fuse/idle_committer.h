#ifndef REPLFS_FUSE_IDLE_COMMITTER_H_
#define REPLFS_FUSE_IDLE_COMMITTER_H_

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "fuse/replica_fs.h"

namespace replfs {

// Commits files that stay open for writing once they have been quiet for a
// while (DESIGN.md: "after a short quiet period for files that stay open"),
// so a writer that keeps its file open (a long-running process, a log) is
// still replicated without waiting for its close. Every `period` it commits
// each file in ReplicaFs::writing whose last change is at least `quiet` old.
// Remote versions of such a file still wait for its last close.
class IdleCommitter {
 public:
  IdleCommitter(ReplicaFs* fs, std::chrono::milliseconds quiet, std::chrono::milliseconds period);
  ~IdleCommitter();  // Stops and joins the thread.
  IdleCommitter(const IdleCommitter&) = delete;
  IdleCommitter& operator=(const IdleCommitter&) = delete;

  // Commits what is due now (the thread calls it every period).
  void CommitQuietFiles();

 private:
  void Run();

  ReplicaFs* fs_;
  const std::chrono::milliseconds quiet_;
  const std::chrono::milliseconds period_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;  // Guarded by mu_.
  std::thread thread_;
};

}  // namespace replfs

#endif  // REPLFS_FUSE_IDLE_COMMITTER_H_
