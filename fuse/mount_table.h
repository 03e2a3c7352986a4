#ifndef REPLFS_FUSE_MOUNT_TABLE_H_
#define REPLFS_FUSE_MOUNT_TABLE_H_

#include <cstdint>
#include <istream>
#include <string>

#include "absl/container/flat_hash_map.h"

namespace replfs {

// The mount points of a mountinfo table (proc_pid_mountinfo(5)), by mount
// id, with the kernel's octal escapes (\040 for a blank) undone.
absl::flat_hash_map<uint64_t, std::string> MountPointsIn(std::istream& mountinfo);

// The same for this process's mount namespace (/proc/self/mountinfo).
absl::flat_hash_map<uint64_t, std::string> MountPoints();

}  // namespace replfs

#endif  // REPLFS_FUSE_MOUNT_TABLE_H_
