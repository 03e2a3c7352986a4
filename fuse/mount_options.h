#ifndef REPLFS_FUSE_MOUNT_OPTIONS_H_
#define REPLFS_FUSE_MOUNT_OPTIONS_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"

namespace replfs {

// What the mount itself was told: the two directories, how the kernel may
// cache and move file data, and libfuse's own mount options. daemon/ parses
// the command line into it; replication settings live in daemon/.
struct MountOptions {
  std::string backing;      // Absolute, canonical (after ValidateMountOptions).
  std::string mountpoint;   // Absolute, canonical (after ValidateMountOptions).
  double cache_timeout = 3600;      // Seconds the kernel may cache names and attributes.
  bool writeback_cache = true;      // The kernel's writeback cache (-o writeback=).
  bool passthrough = true;          // Kernel passthrough of file I/O (-o passthrough=).
  bool debug = false;               // libfuse's request trace (-d).
  bool single_thread = false;       // One FUSE worker (-s).
  bool allow_other = false;
  // Non-directory inodes that may keep an O_PATH fd (-1: half the fd limit).
  int64_t inode_fds = -1;
  // Arguments for libfuse's own mount options (fsname, allow_other, ...).
  std::string fuse_mount_options;
};

// Whether `option` (from -o) is a libfuse or kernel mount option we pass
// through unchanged, or an fstab word we accept. Anything else is an error:
// a typo in fstab must not be silently ignored.
bool IsPassthroughMountOption(const std::string& option);

// Whether `path` is the mountpoint of some file system now (per
// /proc/self/mountinfo). Also what the tests ask before and after they
// mount and unmount (tests/support/replica_process.h).
bool IsMountpoint(const std::string& path);

// Makes backing and mountpoint canonical and checks that the backing
// directory is writable, that the mount would not contain itself and that
// nothing is mounted at the mountpoint yet.
absl::Status ValidateMountOptions(MountOptions* options);

// Whether `inner` is `outer` or lies beneath it (both canonical).
bool IsInsideDirectory(const std::string& inner, const std::string& outer);

// The -o string handed to libfuse for the mount.
std::string LibfuseMountOptions(const MountOptions& options);

}  // namespace replfs

#endif  // REPLFS_FUSE_MOUNT_OPTIONS_H_
