#ifndef REPLFS_STORAGE_PROC_PATH_H_
#define REPLFS_STORAGE_PROC_PATH_H_

#include <string>

#include "absl/strings/str_cat.h"

namespace replfs {

// The /proc magic link of one of our fds: how calls that take no fd (or
// no O_PATH fd: xattrs, chmod, reopening for I/O) reach the same object.
inline std::string ProcPath(int fd) { return absl::StrCat("/proc/self/fd/", fd); }

}  // namespace replfs

#endif  // REPLFS_STORAGE_PROC_PATH_H_
