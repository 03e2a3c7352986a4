#include "fuse/backing_files.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "storage/log.h"

namespace replfs {

FileIo BackingFiles::Acquire(Inode* inode, int fd) {
  absl::MutexLock lock(&inode->io_mu);
  if (inode->fuse_io_opens == 0 && inode->backing_id == 0 && active()) {
    absl::StatusOr<int> id = channel_->OpenBacking(fd);
    if (id.ok()) {
      inode->backing_id = *id;
      inode->backing_files = this;
      inode->backing_id_budgeted = false;
    } else if (channel_->passthrough()) {
      LogWarning(absl::StrCat("inode ", inode->ino(), " stays on FUSE I/O: ",
                              id.status().message()));
    }
  }
  if (inode->backing_id != 0 && inode->fuse_io_opens == 0) {
    if (inode->backing_opens++ == 0 && inode->backing_id_budgeted) {
      // In use again: no longer an idle id.
      idle_ids_.Give();
      inode->backing_id_budgeted = false;
    }
    return FileIo{inode->backing_id, true};
  }
  ++inode->fuse_io_opens;
  return FileIo{0, true};
}

void BackingFiles::Release(Inode* inode, const FileIo& io) {
  if (!io.counted) return;
  int close_id = 0;
  {
    absl::MutexLock lock(&inode->io_mu);
    if (io.backing_id == 0) {
      --inode->fuse_io_opens;
      return;
    }
    if (--inode->backing_opens > 0) return;
    if (idle_ids_.TryTake()) {
      inode->backing_id_budgeted = true;
      return;
    }
    close_id = inode->backing_id;
    inode->backing_id = 0;
  }
  if (channel_ != nullptr) channel_->CloseBacking(close_id);
}

void BackingFiles::Forget(Inode* inode) {
  // The inode is being destroyed: no open can race with this.
  if (inode->backing_id == 0 || channel_ == nullptr) return;
  if (inode->backing_id_budgeted) idle_ids_.Give();
  channel_->CloseBacking(inode->backing_id);
  inode->backing_id = 0;
}

}  // namespace replfs
