#ifndef REPLFS_FUSE_KERNEL_FEATURES_H_
#define REPLFS_FUSE_KERNEL_FEATURES_H_

#include <string>

namespace replfs {

// Why this process cannot have the kernel pass file I/O through to the
// backing directory open as `backing_fd`, or "" when nothing known stands
// in the way (the kernel still decides at INIT): a kernel before 6.9, no
// CAP_SYS_ADMIN to register backing files, or a backing file system that is
// itself stacked (overlayfs, ecryptfs, FUSE).
std::string PassthroughBlocker(int backing_fd);

// Whether the backing file system gives a change made after a stat a new
// ctime however soon it comes (multigrain timestamps: Linux 6.13+ on ext4,
// xfs, btrfs and tmpfs). Then an unchanged (size, mtime, ctime) proves an
// unchanged file.
bool HasFineGrainedCtime(int backing_fd);

}  // namespace replfs

#endif  // REPLFS_FUSE_KERNEL_FEATURES_H_
