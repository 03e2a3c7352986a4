// replfs-floor's opens, file I/O and attribute changes. On a passthrough
// connection the kernel does a file's reads, writes and mmap itself on the
// inode's backing file: what is left here is opening, closing, fsync and
// setattr.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "base/unique_fd.h"
#include "fuse/fd_buffer.h"
#include "fuse/kernel_channel.h"
#include "storage/proc_path.h"
#include "tools/floor_fs.h"

namespace replfs::floor {
namespace {

// One open of a regular file; the kernel hands its address back in fi->fh.
struct OpenFile {
  FloorInode* inode = nullptr;
  bool passthrough = false;  // The kernel does its I/O on the inode's backing id.
  UniqueFd fd;               // The daemon's own fd, for FUSE I/O only.
};

OpenFile* OpenFileOf(const fuse_file_info* fi) {
  return reinterpret_cast<OpenFile*>(fi->fh);  // NOLINT(performance-no-int-to-ptr)
}

// Opens `inode` for the kernel's file `fi` with `flags`: passed through to
// the inode's backing file on a passthrough connection, else on an fd of
// the daemon's own. Sets fi->fh; returns 0 or an errno.
int AttachFile(FloorFs* fs, FloorInode* inode, int flags, fuse_file_info* fi) {
  auto file = std::make_unique<OpenFile>();
  file->inode = inode;
  if (fs->passthrough()) {
    // The kernel opens the backing file itself; a truncation is all that
    // is left for the daemon to do.
    if ((flags & O_TRUNC) != 0 && ::truncate(ProcPath(inode->fd.get()).c_str(), 0) != 0) {
      return errno;
    }
    absl::StatusOr<int> backing_id = AcquireBacking(fs->channel, inode);
    if (backing_id.ok()) {
      file->passthrough = true;
      fi->keep_cache = 0;  // The kernel fails a passthrough open that keeps the cache.
      fi->noflush = 1;     // Nothing to flush at close: the backing file has the data.
      fi->fh = reinterpret_cast<uint64_t>(file.release());
      KernelChannel::ReplyWithBacking(*backing_id);
      return 0;
    }
    // Still on: the kernel took other files, it refused this one. Off: it
    // refused passthrough altogether (and logged it), FUSE I/O from now on.
    if (fs->passthrough()) return EIO;
  }
  int open_flags = flags & ~(O_CREAT | O_EXCL | O_NOCTTY);
  if (fs->writeback_cache.load(std::memory_order_relaxed)) {
    // The writeback cache reads around partial writes and appends itself.
    if ((open_flags & O_ACCMODE) == O_WRONLY) open_flags = (open_flags & ~O_ACCMODE) | O_RDWR;
    open_flags &= ~O_APPEND;
  }
  file->fd.Reset(::open(ProcPath(inode->fd.get()).c_str(), open_flags | O_CLOEXEC));
  if (!file->fd.valid()) return errno;
  // Nothing changes a backing file behind the kernel's back, except on a
  // passthrough connection, where other opens write to it directly.
  fi->keep_cache = fs->passthrough_asked.load(std::memory_order_relaxed) ? 0 : 1;
  fi->fh = reinterpret_cast<uint64_t>(file.release());
  return 0;
}

void DetachFile(FloorFs* fs, fuse_file_info* fi) {
  std::unique_ptr<OpenFile> file(OpenFileOf(fi));
  if (file->passthrough) ReleaseBacking(fs->channel, file->inode);
}

// Where a time of FUSE's setattr goes in utimensat's array.
timespec TimeToSet(int to_set, int set_bit, int now_bit, const timespec& given) {
  if ((to_set & set_bit) == 0) return timespec{0, UTIME_OMIT};
  if ((to_set & now_bit) != 0) return timespec{0, UTIME_NOW};
  return given;
}

}  // namespace

// The kernel sends only what it allows (default_permissions), so the
// daemon applies it as it comes. Paths through /proc reach the object of an
// O_PATH fd for the calls that take no such fd.
void OpSetattr(fuse_req_t req, fuse_ino_t ino, struct stat* attr, int to_set, fuse_file_info* fi) {
  FloorFs* fs = FsOf(req);
  FloorInode* inode = fs->inodes.Get(ino);
  const std::string path = ProcPath(inode->fd.get());
  if ((to_set & FUSE_SET_ATTR_MODE) != 0 && ::chmod(path.c_str(), attr->st_mode & 07777) != 0) {
    fuse_reply_err(req, errno);
    return;
  }
  if ((to_set & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) != 0) {
    const uid_t owner = (to_set & FUSE_SET_ATTR_UID) != 0 ? attr->st_uid : kKeepOwner;
    const gid_t group = (to_set & FUSE_SET_ATTR_GID) != 0 ? attr->st_gid : kKeepGroup;
    if (::fchownat(inode->fd.get(), "", owner, group, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0) {
      fuse_reply_err(req, errno);
      return;
    }
  }
  if ((to_set & FUSE_SET_ATTR_SIZE) != 0) {
    const OpenFile* file = fi != nullptr ? OpenFileOf(fi) : nullptr;
    const int result = file != nullptr && file->fd.valid()
                           ? ::ftruncate(file->fd.get(), attr->st_size)
                           : ::truncate(path.c_str(), attr->st_size);
    if (result != 0) {
      fuse_reply_err(req, errno);
      return;
    }
  }
  if ((to_set & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME)) != 0) {
    const timespec times[2] = {
        TimeToSet(to_set, FUSE_SET_ATTR_ATIME, FUSE_SET_ATTR_ATIME_NOW, attr->st_atim),
        TimeToSet(to_set, FUSE_SET_ATTR_MTIME, FUSE_SET_ATTR_MTIME_NOW, attr->st_mtim)};
    if (::utimensat(AT_FDCWD, path.c_str(), times, 0) != 0) {
      fuse_reply_err(req, errno);
      return;
    }
  }
  ReplyAttr(req, fs, inode);
}

void OpCreate(fuse_req_t req, fuse_ino_t parent_id, const char* name, mode_t mode,
              fuse_file_info* fi) {
  FloorFs* fs = FsOf(req);
  FloorInode* parent = fs->inodes.Get(parent_id);
  // mknod, not open(O_CREAT): a passthrough open needs no fd of the daemon.
  int flags = fi->flags;
  const bool created = ::mknodat(parent->fd.get(), name, S_IFREG | (mode & 07777), 0) == 0;
  if (created) {
    flags &= ~O_TRUNC;  // Nothing to truncate in a new file.
  } else if (errno != EEXIST || (flags & O_EXCL) != 0) {
    fuse_reply_err(req, errno);
    return;
  }
  // A file created meanwhile under the name is opened, as open(2) would.
  fuse_entry_param e;
  if (const int err = created ? LookupCreated(req, fs, parent, name, &e)
                              : LookupChild(fs, parent, name, &e);
      err != 0) {
    fuse_reply_err(req, err);
    return;
  }
  FloorInode* inode = fs->inodes.Get(e.ino);
  if (const int err = AttachFile(fs, inode, flags, fi); err != 0) {
    fs->inodes.Forget(inode, 1);
    fuse_reply_err(req, err);
    return;
  }
  // A request interrupted meanwhile gets no RELEASE or FORGET for this.
  if (fuse_reply_create(req, &e, fi) != 0) {
    DetachFile(fs, fi);
    fs->inodes.Forget(inode, 1);
  }
}

void OpOpen(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  FloorFs* fs = FsOf(req);
  if (const int err = AttachFile(fs, fs->inodes.Get(ino), fi->flags, fi); err != 0) {
    fuse_reply_err(req, err);
    return;
  }
  if (fuse_reply_open(req, fi) != 0) DetachFile(fs, fi);
}

// FUSE I/O only: passthrough opens never send READ or WRITE.
void OpRead(fuse_req_t req, fuse_ino_t, size_t size, off_t offset, fuse_file_info* fi) {
  fuse_bufvec data = FdBuffer(OpenFileOf(fi)->fd.get(), size, offset);
  fuse_reply_data(req, &data, FUSE_BUF_SPLICE_MOVE);
}

void OpWriteBuf(fuse_req_t req, fuse_ino_t, fuse_bufvec* in, off_t offset, fuse_file_info* fi) {
  fuse_bufvec out = FdBuffer(OpenFileOf(fi)->fd.get(), fuse_buf_size(in), offset);
  const ssize_t written = fuse_buf_copy(&out, in, static_cast<fuse_buf_copy_flags>(0));
  if (written < 0) {
    fuse_reply_err(req, static_cast<int>(-written));
  } else {
    fuse_reply_write(req, static_cast<size_t>(written));
  }
}

void OpRelease(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
  DetachFile(FsOf(req), fi);
  fuse_reply_err(req, 0);
}

void OpFsync(fuse_req_t req, fuse_ino_t, int datasync, fuse_file_info* fi) {
  const OpenFile* file = OpenFileOf(fi);
  UniqueFd reopened;
  int fd = file->fd.get();
  if (!file->fd.valid()) {
    // A passthrough open keeps no fd here; an fsync through any fd of the
    // inode syncs the inode.
    reopened.Reset(::open(ProcPath(file->inode->fd.get()).c_str(), O_RDONLY | O_CLOEXEC));
    if (!reopened.valid()) {
      fuse_reply_err(req, errno);
      return;
    }
    fd = reopened.get();
  }
  const int result = datasync != 0 ? ::fdatasync(fd) : ::fsync(fd);
  fuse_reply_err(req, result == 0 ? 0 : errno);
}

}  // namespace replfs::floor
