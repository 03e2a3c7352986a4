// opendir, readdir, readdirplus, releasedir, fsyncdir.
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "fuse/operations.h"
#include "fuse/replica_fs.h"

namespace replfs {
namespace {

struct DirHandle {
  DIR* dir = nullptr;
  off_t offset = 0;
  dirent* pending = nullptr;  // Read but not yet sent (reply buffer was full).
  ~DirHandle() {
    if (dir != nullptr) ::closedir(dir);
  }
};

// libfuse hands back as an integer the pointer we stored in fi->fh.
DirHandle* DirHandleOf(fuse_file_info* fi) {
  return reinterpret_cast<DirHandle*>(fi->fh);  // NOLINT(performance-no-int-to-ptr)
}

void ReadDirectory(fuse_req_t req, fuse_ino_t ino, size_t size, off_t offset, fuse_file_info* fi,
                   bool plus) {
  ReplicaFs* fs = FsOf(req);
  Inode* inode = fs->InodeOf(ino);
  DirHandle* handle = DirHandleOf(fi);
  std::vector<char> buffer(size);
  size_t used = 0;
  if (offset != handle->offset) {
    ::seekdir(handle->dir, offset);
    handle->offset = offset;
    handle->pending = nullptr;
  }
  int err = 0;
  for (;;) {
    dirent* d = handle->pending;
    if (d == nullptr) {
      errno = 0;
      d = ::readdir(handle->dir);
      if (d == nullptr) {
        err = errno;
        break;
      }
    }
    handle->pending = nullptr;
    const off_t next = d->d_off;
    if (fs->IsHidden(inode, d->d_name)) {
      handle->offset = next;
      continue;
    }
    const bool dot = std::strcmp(d->d_name, ".") == 0 || std::strcmp(d->d_name, "..") == 0;
    size_t entry_size;
    if (plus) {
      fuse_entry_param e{};
      if (dot) {
        e.attr.st_ino = d->d_ino;
        e.attr.st_mode = static_cast<mode_t>(d->d_type) << 12;
      } else if (const int lookup_err = LookupChild(fs, inode, d->d_name, &e); lookup_err != 0) {
        if (lookup_err == ENOENT) {  // Vanished since readdir; skip it.
          handle->offset = next;
          continue;
        }
        err = lookup_err;
        break;
      }
      entry_size = fuse_add_direntry_plus(req, buffer.data() + used, size - used, d->d_name, &e,
                                          next);
      if (entry_size > size - used) {
        // Did not fit: undo the lookup count the kernel will never see.
        if (!dot) fs->inodes.Forget(fs->InodeOf(e.ino), 1);
        handle->pending = d;
        break;
      }
    } else {
      struct stat st {};
      st.st_ino = d->d_ino;
      st.st_mode = static_cast<mode_t>(d->d_type) << 12;
      entry_size = fuse_add_direntry(req, buffer.data() + used, size - used, d->d_name, &st, next);
      if (entry_size > size - used) {
        handle->pending = d;
        break;
      }
    }
    used += entry_size;
    handle->offset = next;
  }
  // Errors after some entries were filled are reported on the next call.
  if (err != 0 && used == 0) {
    fuse_reply_err(req, err);
  } else {
    fuse_reply_buf(req, buffer.data(), used);
  }
}

}  // namespace

void OpOpendir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  ReplicaFs* fs = FsOf(req);
  Inode* inode = fs->InodeOf(ino);
  UniqueFd fd(::openat(inode->dir_fd(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) {
    fuse_reply_err(req, errno);
    return;
  }
  auto* handle = new DirHandle;
  handle->dir = ::fdopendir(fd.get());
  if (handle->dir == nullptr) {
    const int err = errno;
    delete handle;
    fuse_reply_err(req, err);
    return;
  }
  fd.Release();
  fi->fh = reinterpret_cast<uint64_t>(handle);
  // Listings change through us or through invalidation, so the kernel may
  // keep them.
  fi->keep_cache = 1;
  fi->cache_readdir = 1;
  if (fuse_reply_open(req, fi) == -ENOENT) delete handle;
}

void OpReaddir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t offset, fuse_file_info* fi) {
  ReadDirectory(req, ino, size, offset, fi, false);
}

void OpReaddirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t offset, fuse_file_info* fi) {
  ReadDirectory(req, ino, size, offset, fi, true);
}

void OpReleasedir(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
  delete DirHandleOf(fi);
  fuse_reply_err(req, 0);
}

void OpFsyncdir(fuse_req_t req, fuse_ino_t, int datasync, fuse_file_info* fi) {
  const int fd = ::dirfd(DirHandleOf(fi)->dir);
  const int r = datasync ? ::fdatasync(fd) : ::fsync(fd);
  fuse_reply_err(req, r == 0 ? 0 : errno);
}

}  // namespace replfs
