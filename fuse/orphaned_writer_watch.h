#ifndef REPLFS_FUSE_ORPHANED_WRITER_WATCH_H_
#define REPLFS_FUSE_ORPHANED_WRITER_WATCH_H_

#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "fuse/orphaned_writers.h"
#include "fuse/replica_fs.h"

namespace replfs {

// Treats the writers an earlier daemon left behind (OrphanedWriter) like
// writers of this mount whose writes the daemon does not see: each counts
// as a writer of its inode until its process lets go of the file. So the
// idle committer records what they write once it holds still, their going
// away records the file as the last close of a writer does, and a remote
// version never replaces a file they hold open.
class OrphanedWriterWatch {
 public:
  explicit OrphanedWriterWatch(ReplicaFs* fs) : fs_(fs) {}
  // Lets go of the writers still held, recording their files.
  ~OrphanedWriterWatch();
  OrphanedWriterWatch(const OrphanedWriterWatch&) = delete;
  OrphanedWriterWatch& operator=(const OrphanedWriterWatch&) = delete;

  // Counts each of `writers` as a writer of its file, looked up from the
  // root like the kernel would (the lookups are the watch's own, given
  // back when the writer goes). Before the mount serves requests or while
  // it does. Returns how many it took.
  size_t Adopt(const std::vector<OrphanedWriter>& writers) ABSL_LOCKS_EXCLUDED(mu_);
  // Closes, as writers, those whose process no longer holds the file.
  void ReleaseGone() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Watched {
    OrphanedWriter writer;
    Inode* file;
    std::vector<Inode*> looked_up;  // Root's children down to `file`.
  };
  // Records the file and stops counting its writer.
  void Release(const Watched& watched);

  ReplicaFs* fs_;
  absl::Mutex mu_;
  std::vector<Watched> watched_ ABSL_GUARDED_BY(mu_);
};

}  // namespace replfs

#endif  // REPLFS_FUSE_ORPHANED_WRITER_WATCH_H_
