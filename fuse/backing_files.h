#ifndef REPLFS_FUSE_BACKING_FILES_H_
#define REPLFS_FUSE_BACKING_FILES_H_

#include <cstdint>

#include "fuse/fd_budget.h"
#include "fuse/inode_table.h"
#include "fuse/kernel_channel.h"

namespace replfs {

// How the kernel does the I/O of one open regular file.
struct FileIo {
  // > 0: read, write, splice and mmap go straight to this backing file.
  // 0: they come to the daemon as FUSE requests.
  int backing_id = 0;
  // Whether BackingFiles::Acquire counted this open (Release uncounts it).
  bool counted = false;
};

// Decides, for each open of a regular file, whether the kernel passes its
// I/O through, so that no open ever fails on the kernel's io-mode rule:
// every open of one inode at a time is either passed through to the same
// backing file or on FUSE I/O, and an open that breaks this gets EIO. So
// the choice is per inode, not per open: one backing id per inode,
// registered at its first open and shared by every open after it; an inode
// the kernel would not take a backing file for stays on FUSE I/O while any
// of its opens is.
//
// The kernel drops an open's share of the inode's mode before it sends the
// open's RELEASE, so the daemon's counts are never below the kernel's.
// Ids outlive their last open within a budget (a web server opens the same
// files over and over; registering costs two ioctls), and are given back
// when the inode is forgotten.
class BackingFiles {
 public:
  // `channel` may be null (no custom channel: every open is on FUSE I/O).
  BackingFiles(KernelChannel* channel, int64_t idle_ids)
      : channel_(channel), idle_ids_(idle_ids) {}
  BackingFiles(const BackingFiles&) = delete;
  BackingFiles& operator=(const BackingFiles&) = delete;

  // Whether opens are passed through on this connection.
  bool active() const { return channel_ != nullptr && channel_->passthrough(); }
  // Whether a kernel channel is in use at all (passthrough or not).
  bool has_channel() const { return channel_ != nullptr; }

  // Chooses and counts the I/O of a new open of the regular file `inode`;
  // `fd` refers to its backing object (an O_PATH fd will do).
  FileIo Acquire(Inode* inode, int fd);
  // Uncounts an open Acquire counted.
  void Release(Inode* inode, const FileIo& io);
  // Gives back the inode's idle backing id (from ~Inode).
  void Forget(Inode* inode) ABSL_EXCLUSIVE_LOCKS_REQUIRED(inode->io_mu);
  // The session is going away: ids die with it, nothing is given back.
  void Disconnect() { channel_ = nullptr; }

 private:
  KernelChannel* channel_;
  FdBudget idle_ids_;
};

}  // namespace replfs

#endif  // REPLFS_FUSE_BACKING_FILES_H_
