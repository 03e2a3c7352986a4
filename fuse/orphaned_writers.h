#ifndef REPLFS_FUSE_ORPHANED_WRITERS_H_
#define REPLFS_FUSE_ORPHANED_WRITERS_H_

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace replfs {

// A file that some process still holds open for writing through an earlier
// mount of this backing directory, whose daemon is gone (killed, or
// stopped while files were open, its mount then detached by `fusermount3
// -uz`). With kernel passthrough the kernel keeps handing that process's
// writes to the backing file with no daemon to see them, and no RELEASE
// will ever reach the daemon that serves the mount now.
struct OrphanedWriter {
  pid_t pid = 0;
  int fd = -1;
  uint64_t mount_id = 0;  // The earlier mount it was opened through.
  uint64_t ino = 0;  // As the old mount reported it: the backing file's.
  std::string path;  // Relative to the backing root.
};

// Finds them in /proc: descriptors of other processes, open for writing,
// on a mount that is not the live one at `mountpoint` but either detached
// or an older one stacked at the same place, whose path there names a
// regular file of the same inode number beneath `root_fd` (the backing
// root). Bounded by the descriptors open on the machine, not by the tree.
// What /proc does not let it read (a process that exits meanwhile) is
// passed over.
std::vector<OrphanedWriter> FindOrphanedWriters(const std::string& mountpoint, int root_fd);

// Whether `writer`'s process still holds that descriptor on that inode.
bool StillHeld(const OrphanedWriter& writer);

}  // namespace replfs

#endif  // REPLFS_FUSE_ORPHANED_WRITERS_H_
