#ifndef REPLFS_TOOLS_FLOOR_FS_H_
#define REPLFS_TOOLS_FLOOR_FS_H_

// The state and operations of replfs-floor (floor_fs.cc says what it is
// for): names, directories and the connection in floor_ops_tree.cc; opens,
// file I/O and attributes in floor_ops_file.cc.
#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <atomic>
#include <utility>

#include "base/unique_fd.h"
#include "fuse/kernel_channel.h"
#include "tools/floor_inodes.h"

namespace replfs::floor {

inline constexpr uid_t kKeepOwner = static_cast<uid_t>(-1);
inline constexpr gid_t kKeepGroup = static_cast<gid_t>(-1);

// The filesystem: libfuse's userdata.
struct FloorFs {
  FloorFs(UniqueFd root_fd, const struct stat& root_st, double timeout)
      : inodes(std::move(root_fd), root_st), cache_timeout(timeout) {}

  InodeTable inodes;
  const double cache_timeout;
  // Set before the session loop starts; null when passthrough is off.
  KernelChannel* channel = nullptr;
  // Decided at INIT, before any other request.
  std::atomic<bool> passthrough_asked{false};
  std::atomic<bool> writeback_cache{false};

  bool passthrough() const { return channel != nullptr && channel->passthrough(); }
};

inline FloorFs* FsOf(fuse_req_t req) { return static_cast<FloorFs*>(fuse_req_userdata(req)); }

// One lookup of `name` in `parent`: one fstatat for an object the table
// holds; an O_PATH open as well for a new one. Fills `e`; returns 0 or an
// errno.
int LookupChild(FloorFs* fs, FloorInode* parent, const char* name, fuse_entry_param* e);
// The lookup of `name`, which this request has just created in `parent`:
// new to the table, and the caller's (see floor_ops_tree.cc).
int LookupCreated(fuse_req_t req, FloorFs* fs, FloorInode* parent, const char* name,
                  fuse_entry_param* e);
// Replies to a request with the attributes of `inode`.
void ReplyAttr(fuse_req_t req, FloorFs* fs, FloorInode* inode);

// floor_ops_file.cc.
void OpCreate(fuse_req_t req, fuse_ino_t parent_id, const char* name, mode_t mode,
              fuse_file_info* fi);
void OpOpen(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi);
void OpRead(fuse_req_t req, fuse_ino_t ino, size_t size, off_t offset, fuse_file_info* fi);
void OpWriteBuf(fuse_req_t req, fuse_ino_t ino, fuse_bufvec* in, off_t offset,
                fuse_file_info* fi);
void OpRelease(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi);
void OpFsync(fuse_req_t req, fuse_ino_t ino, int datasync, fuse_file_info* fi);
void OpSetattr(fuse_req_t req, fuse_ino_t ino, struct stat* attr, int to_set, fuse_file_info* fi);

// The operations table (floor_ops_tree.cc).
fuse_lowlevel_ops MakeOperations(bool xattrs);

}  // namespace replfs::floor

#endif  // REPLFS_TOOLS_FLOOR_FS_H_
