#ifndef REPLFS_FUSE_PATH_FD_H_
#define REPLFS_FUSE_PATH_FD_H_

#include "base/unique_fd.h"

namespace replfs {

// An O_PATH fd of an inode's backing object for the duration of one
// operation: the fd the inode keeps (borrowed), or one opened from its file
// handle for this use and closed with this object (see Inode::path_fd).
class PathFd {
 public:
  static PathFd Borrowed(int fd) { return PathFd(fd, UniqueFd(), 0); }
  static PathFd Opened(UniqueFd fd, int error) { return PathFd(-1, std::move(fd), error); }

  int get() const { return borrowed_ >= 0 ? borrowed_ : owned_.get(); }
  bool valid() const { return get() >= 0; }
  // The errno of a failed open (ESTALE: the object no longer exists).
  int error() const { return error_; }

 private:
  PathFd(int borrowed, UniqueFd owned, int error)
      : borrowed_(borrowed), owned_(std::move(owned)), error_(error) {}
  int borrowed_;
  UniqueFd owned_;
  int error_;
};

}  // namespace replfs

#endif  // REPLFS_FUSE_PATH_FD_H_
