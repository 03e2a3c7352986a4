#include "fuse/orphaned_writer_watch.h"

#include <sys/stat.h>

#include <cstring>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "fuse/gate.h"
#include "storage/log.h"

namespace replfs {
namespace {

void ForgetAll(ReplicaFs* fs, const std::vector<Inode*>& looked_up) {
  for (Inode* inode : looked_up) fs->inodes.Forget(inode, 1);
}

}  // namespace

OrphanedWriterWatch::~OrphanedWriterWatch() {
  std::vector<Watched> held;
  {
    absl::MutexLock lock(&mu_);
    held.swap(watched_);
  }
  for (const Watched& watched : held) Release(watched);
}

size_t OrphanedWriterWatch::Adopt(const std::vector<OrphanedWriter>& writers) {
  size_t adopted = 0;
  for (const OrphanedWriter& writer : writers) {
    Watched watched{writer, fs_->inodes.root(), {}};
    fuse_entry_param e{};
    int error = 0;
    const std::vector<std::string> names = absl::StrSplit(writer.path, '/');
    for (const std::string& name : names) {
      error = LookupChild(fs_, watched.file, name.c_str(), &e);
      if (error != 0) break;
      watched.file = fs_->InodeOf(e.ino);
      watched.looked_up.push_back(watched.file);
    }
    // Replaced since it was found: the writer holds a file no name leads to.
    if (error == 0 && (!S_ISREG(e.attr.st_mode) || e.attr.st_ino != writer.ino)) error = ESTALE;
    if (error != 0) {
      ForgetAll(fs_, watched.looked_up);
      LogWarning(absl::StrCat("a writer left by an earlier mount (pid ", writer.pid, ") holds ",
                              writer.path, ", which cannot be watched: ", std::strerror(error)));
      continue;
    }
    {
      // Counted as a writer in one step against replication, like an open.
      SharedGateHold gate(fs_->commit_path.local_change_gate());
      watched.file->writes.CountWriter(/*truncating=*/false, /*writes_unseen=*/true, e.attr);
    }
    fs_->commit_path.TrackWriter(watched.file);
    LogInfo(absl::StrCat("pid ", writer.pid, " still writes ", writer.path,
                         " through an earlier mount: committed while it writes and when it "
                         "lets go"));
    absl::MutexLock lock(&mu_);
    watched_.push_back(std::move(watched));
    ++adopted;
  }
  return adopted;
}

void OrphanedWriterWatch::ReleaseGone() {
  std::vector<Watched> gone;
  {
    absl::MutexLock lock(&mu_);
    for (auto it = watched_.begin(); it != watched_.end();) {
      if (StillHeld(it->writer)) {
        ++it;
      } else {
        gone.push_back(std::move(*it));
        it = watched_.erase(it);
      }
    }
  }
  for (const Watched& watched : gone) Release(watched);
}

void OrphanedWriterWatch::Release(const Watched& watched) {
  const bool last_writer =
      fs_->commit_path.CloseWriter(watched.file, /*writes_unseen=*/true, /*commit=*/true);
  if (last_writer && fs_->on_write_closed) {
    for (const std::string& path : fs_->inodes.PathsOf(watched.file)) fs_->on_write_closed(path);
  }
  ForgetAll(fs_, watched.looked_up);
}

}  // namespace replfs
