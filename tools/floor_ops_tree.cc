// replfs-floor's operations on names and directories, and the connection.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "base/unique_fd.h"
#include "storage/log.h"
#include "storage/proc_path.h"
#include "tools/floor_fs.h"

namespace replfs::floor {

int LookupChild(FloorFs* fs, FloorInode* parent, const char* name, fuse_entry_param* e) {
  *e = fuse_entry_param{};
  e->attr_timeout = fs->cache_timeout;
  e->entry_timeout = fs->cache_timeout;
  if (::fstatat(parent->fd.get(), name, &e->attr, AT_SYMLINK_NOFOLLOW) != 0) return errno;
  FloorInode* inode = fs->inodes.LookedUpExisting(e->attr);
  if (inode == nullptr) {
    UniqueFd fd(::openat(parent->fd.get(), name, O_PATH | O_NOFOLLOW | O_CLOEXEC));
    if (!fd.valid()) return errno;
    // The name may have been replaced since the fstatat: the fd's object
    // is the one looked up.
    if (::fstatat(fd.get(), "", &e->attr, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0) return errno;
    inode = fs->inodes.LookedUp(std::move(fd), e->attr);
  }
  e->ino = fs->inodes.IdOf(inode);
  return 0;
}

// New to the table: straight to the O_PATH open. The daemon created it: it
// becomes the caller's, as it would natively (no call when the caller is
// the daemon's own user, as in the benchmark).
int LookupCreated(fuse_req_t req, FloorFs* fs, FloorInode* parent, const char* name,
                  fuse_entry_param* e) {
  *e = fuse_entry_param{};
  e->attr_timeout = fs->cache_timeout;
  e->entry_timeout = fs->cache_timeout;
  UniqueFd fd(::openat(parent->fd.get(), name, O_PATH | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) return errno;
  if (::fstatat(fd.get(), "", &e->attr, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0) return errno;
  const fuse_ctx* caller = fuse_req_ctx(req);
  if (caller->uid != e->attr.st_uid || caller->gid != e->attr.st_gid) {
    // In a setgid directory the object has the directory's group already.
    struct stat parent_st;
    gid_t group = caller->gid;
    if (::fstatat(parent->fd.get(), "", &parent_st, AT_EMPTY_PATH) == 0 &&
        (parent_st.st_mode & S_ISGID) != 0) {
      group = kKeepGroup;
    }
    if (::fchownat(fd.get(), "", caller->uid, group, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0) {
      return errno;
    }
    e->attr.st_uid = caller->uid;
    if (group != kKeepGroup) e->attr.st_gid = group;
  }
  e->ino = fs->inodes.IdOf(fs->inodes.LookedUp(std::move(fd), e->attr));
  return 0;
}

namespace {

void ReplyCreated(fuse_req_t req, FloorFs* fs, FloorInode* parent, const char* name) {
  fuse_entry_param e;
  if (const int err = LookupCreated(req, fs, parent, name, &e); err != 0) {
    fuse_reply_err(req, err);
    return;
  }
  if (fuse_reply_entry(req, &e) != 0) fs->inodes.Forget(fs->inodes.Get(e.ino), 1);
}

void OpInit(void* userdata, fuse_conn_info* conn) {
  FloorFs* fs = static_cast<FloorFs*>(userdata);
  if ((conn->capable & FUSE_CAP_SPLICE_WRITE) != 0) conn->want |= FUSE_CAP_SPLICE_WRITE;
  if ((conn->capable & FUSE_CAP_SPLICE_MOVE) != 0) conn->want |= FUSE_CAP_SPLICE_MOVE;
  if ((conn->capable & FUSE_CAP_SPLICE_READ) != 0) conn->want |= FUSE_CAP_SPLICE_READ;
  // The kernel drops passthrough on a connection with the writeback cache.
  const bool passthrough = fs->channel != nullptr && fs->channel->KernelOffersPassthrough();
  const bool writeback = !passthrough && (conn->capable & FUSE_CAP_WRITEBACK_CACHE) != 0;
  if (writeback) {
    conn->want |= FUSE_CAP_WRITEBACK_CACHE;
  } else {
    conn->want &= ~static_cast<unsigned>(FUSE_CAP_WRITEBACK_CACHE);
  }
  fs->passthrough_asked.store(passthrough, std::memory_order_relaxed);
  fs->writeback_cache.store(writeback, std::memory_order_relaxed);
  if ((conn->capable & FUSE_CAP_PARALLEL_DIROPS) != 0) conn->want |= FUSE_CAP_PARALLEL_DIROPS;
  if ((conn->capable & FUSE_CAP_CACHE_SYMLINKS) != 0) conn->want |= FUSE_CAP_CACHE_SYMLINKS;
  if ((conn->capable & FUSE_CAP_READDIRPLUS) != 0) conn->want |= FUSE_CAP_READDIRPLUS;
  if ((conn->capable & FUSE_CAP_READDIRPLUS_AUTO) != 0) conn->want |= FUSE_CAP_READDIRPLUS_AUTO;
  // No lock operations: the kernel keeps locks local, as replfs has it.
  conn->want &= ~static_cast<unsigned>(FUSE_CAP_POSIX_LOCKS | FUSE_CAP_FLOCK_LOCKS);
  conn->max_write = 1u << 20;
  if (passthrough) {
    LogInfo("file data: kernel passthrough (asked at INIT)");
  } else {
    LogInfo(writeback ? "file data: through the daemon, writeback cache"
                      : "file data: through the daemon");
  }
}

void OpLookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
  FloorFs* fs = FsOf(req);
  fuse_entry_param e;
  const int err = LookupChild(fs, fs->inodes.Get(parent), name, &e);
  if (err == ENOENT) {
    e.ino = 0;  // A negative entry, cached for entry_timeout.
    fuse_reply_entry(req, &e);
  } else if (err != 0) {
    fuse_reply_err(req, err);
  } else if (fuse_reply_entry(req, &e) != 0) {
    fs->inodes.Forget(fs->inodes.Get(e.ino), 1);
  }
}

void OpForget(fuse_req_t req, fuse_ino_t ino, uint64_t count) {
  FloorFs* fs = FsOf(req);
  fs->inodes.Forget(fs->inodes.Get(ino), count);
  fuse_reply_none(req);
}

void OpForgetMulti(fuse_req_t req, size_t count, fuse_forget_data* forgets) {
  FloorFs* fs = FsOf(req);
  for (size_t i = 0; i < count; ++i) {
    fs->inodes.Forget(fs->inodes.Get(forgets[i].ino), forgets[i].nlookup);
  }
  fuse_reply_none(req);
}

}  // namespace

void ReplyAttr(fuse_req_t req, FloorFs* fs, FloorInode* inode) {
  struct stat st;
  if (::fstatat(inode->fd.get(), "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0) {
    fuse_reply_err(req, errno);
    return;
  }
  fuse_reply_attr(req, &st, fs->cache_timeout);
}

namespace {

void OpGetattr(fuse_req_t req, fuse_ino_t ino, fuse_file_info*) {
  FloorFs* fs = FsOf(req);
  ReplyAttr(req, fs, fs->inodes.Get(ino));
}

void OpReadlink(fuse_req_t req, fuse_ino_t ino) {
  char target[PATH_MAX + 1];
  const ssize_t n = ::readlinkat(FsOf(req)->inodes.Get(ino)->fd.get(), "", target, sizeof(target));
  if (n < 0) {
    fuse_reply_err(req, errno);
    return;
  }
  if (static_cast<size_t>(n) == sizeof(target)) {
    fuse_reply_err(req, ENAMETOOLONG);
    return;
  }
  target[n] = '\0';
  fuse_reply_readlink(req, target);
}

void OpMknod(fuse_req_t req, fuse_ino_t parent_id, const char* name, mode_t mode, dev_t rdev) {
  FloorFs* fs = FsOf(req);
  FloorInode* parent = fs->inodes.Get(parent_id);
  if (::mknodat(parent->fd.get(), name, mode, rdev) != 0) {
    fuse_reply_err(req, errno);
    return;
  }
  ReplyCreated(req, fs, parent, name);
}

void OpMkdir(fuse_req_t req, fuse_ino_t parent_id, const char* name, mode_t mode) {
  FloorFs* fs = FsOf(req);
  FloorInode* parent = fs->inodes.Get(parent_id);
  if (::mkdirat(parent->fd.get(), name, mode) != 0) {
    fuse_reply_err(req, errno);
    return;
  }
  ReplyCreated(req, fs, parent, name);
}

void OpSymlink(fuse_req_t req, const char* target, fuse_ino_t parent_id, const char* name) {
  FloorFs* fs = FsOf(req);
  FloorInode* parent = fs->inodes.Get(parent_id);
  if (::symlinkat(target, parent->fd.get(), name) != 0) {
    fuse_reply_err(req, errno);
    return;
  }
  ReplyCreated(req, fs, parent, name);
}

void OpLink(fuse_req_t req, fuse_ino_t ino, fuse_ino_t new_parent_id, const char* new_name) {
  FloorFs* fs = FsOf(req);
  FloorInode* parent = fs->inodes.Get(new_parent_id);
  // AT_EMPTY_PATH links the fd's own object, a symlink included; it takes
  // CAP_DAC_READ_SEARCH, which the root daemon has.
  if (::linkat(fs->inodes.Get(ino)->fd.get(), "", parent->fd.get(), new_name, AT_EMPTY_PATH) != 0) {
    fuse_reply_err(req, errno);
    return;
  }
  fuse_entry_param e;
  if (const int err = LookupChild(fs, parent, new_name, &e); err != 0) {
    fuse_reply_err(req, err);
    return;
  }
  if (fuse_reply_entry(req, &e) != 0) fs->inodes.Forget(fs->inodes.Get(e.ino), 1);
}

void OpUnlink(fuse_req_t req, fuse_ino_t parent, const char* name) {
  const int result = ::unlinkat(FsOf(req)->inodes.Get(parent)->fd.get(), name, 0);
  fuse_reply_err(req, result == 0 ? 0 : errno);
}

void OpRmdir(fuse_req_t req, fuse_ino_t parent, const char* name) {
  const int result = ::unlinkat(FsOf(req)->inodes.Get(parent)->fd.get(), name, AT_REMOVEDIR);
  fuse_reply_err(req, result == 0 ? 0 : errno);
}

void OpRename(fuse_req_t req, fuse_ino_t parent, const char* name, fuse_ino_t new_parent,
              const char* new_name, unsigned int flags) {
  FloorFs* fs = FsOf(req);
  const int result = ::renameat2(fs->inodes.Get(parent)->fd.get(), name,
                                 fs->inodes.Get(new_parent)->fd.get(), new_name, flags);
  fuse_reply_err(req, result == 0 ? 0 : errno);
}

// An open directory: the listing continues where the kernel's last
// READDIR stopped unless it asks for another offset.
struct OpenDir {
  explicit OpenDir(DIR* listing) : dir(listing) {}
  ~OpenDir() { ::closedir(dir); }
  OpenDir(const OpenDir&) = delete;
  OpenDir& operator=(const OpenDir&) = delete;

  DIR* const dir;
  off_t offset = 0;
  dirent* pending = nullptr;  // Read, but the last reply had no room for it.
};

OpenDir* OpenDirOf(const fuse_file_info* fi) {
  return reinterpret_cast<OpenDir*>(fi->fh);  // NOLINT(performance-no-int-to-ptr)
}

void OpOpendir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  UniqueFd fd(::openat(FsOf(req)->inodes.Get(ino)->fd.get(), ".",
                       O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) {
    fuse_reply_err(req, errno);
    return;
  }
  DIR* dir = ::fdopendir(fd.get());
  if (dir == nullptr) {
    fuse_reply_err(req, errno);
    return;
  }
  fd.Release();  // The DIR owns it now.
  fi->fh = reinterpret_cast<uint64_t>(new OpenDir(dir));
  if (fuse_reply_open(req, fi) != 0) delete OpenDirOf(fi);
}

void ReadDirectory(fuse_req_t req, fuse_ino_t ino, size_t size, off_t offset, fuse_file_info* fi,
                   bool plus) {
  FloorFs* fs = FsOf(req);
  FloorInode* inode = fs->inodes.Get(ino);
  OpenDir* listing = OpenDirOf(fi);
  if (offset != listing->offset) {
    ::seekdir(listing->dir, offset);
    listing->offset = offset;
    listing->pending = nullptr;
  }
  std::vector<char> buffer(size);
  size_t used = 0;
  int err = 0;
  for (;;) {
    dirent* d = std::exchange(listing->pending, nullptr);
    if (d == nullptr) {
      errno = 0;
      d = ::readdir(listing->dir);
      if (d == nullptr) {
        err = errno;
        break;
      }
    }
    const bool dot = std::strcmp(d->d_name, ".") == 0 || std::strcmp(d->d_name, "..") == 0;
    size_t entry_size;
    if (plus) {
      fuse_entry_param e{};
      if (dot) {  // The kernel takes no entry from these.
        e.attr.st_ino = d->d_ino;
        e.attr.st_mode = static_cast<mode_t>(d->d_type) << 12;
      } else if (const int lookup_err = LookupChild(fs, inode, d->d_name, &e); lookup_err != 0) {
        if (lookup_err == ENOENT) {  // Gone since it was listed.
          listing->offset = d->d_off;
          continue;
        }
        err = lookup_err;
        break;
      }
      entry_size = fuse_add_direntry_plus(req, buffer.data() + used, size - used, d->d_name, &e,
                                          d->d_off);
      if (entry_size > size - used) {
        // No room: the kernel never sees this lookup.
        if (!dot) fs->inodes.Forget(fs->inodes.Get(e.ino), 1);
        listing->pending = d;
        break;
      }
    } else {
      struct stat st{};
      st.st_ino = d->d_ino;
      st.st_mode = static_cast<mode_t>(d->d_type) << 12;
      entry_size = fuse_add_direntry(req, buffer.data() + used, size - used, d->d_name, &st,
                                     d->d_off);
      if (entry_size > size - used) {
        listing->pending = d;
        break;
      }
    }
    used += entry_size;
    listing->offset = d->d_off;
  }
  // An error after some entries: send those; the next READDIR reports it.
  if (err != 0 && used == 0) {
    fuse_reply_err(req, err);
  } else {
    fuse_reply_buf(req, buffer.data(), used);
  }
}

void OpReaddir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t offset, fuse_file_info* fi) {
  ReadDirectory(req, ino, size, offset, fi, /*plus=*/false);
}

void OpReaddirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t offset,
                   fuse_file_info* fi) {
  ReadDirectory(req, ino, size, offset, fi, /*plus=*/true);
}

void OpReleasedir(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
  delete OpenDirOf(fi);
  fuse_reply_err(req, 0);
}

void OpStatfs(fuse_req_t req, fuse_ino_t) {
  struct statvfs st;
  if (::fstatvfs(FsOf(req)->inodes.root()->fd.get(), &st) != 0) {
    fuse_reply_err(req, errno);
    return;
  }
  fuse_reply_statfs(req, &st);
}

// Answers an xattr request from what `call` returns on the backing object
// (an O_PATH fd: xattr calls take its /proc path): the size when the
// kernel asks for it (size 0), else the bytes.
template <typename Call>
void ReplyXattr(fuse_req_t req, fuse_ino_t ino, size_t size, Call call) {
  const std::string path = ProcPath(FsOf(req)->inodes.Get(ino)->fd.get());
  std::string value(size, '\0');
  const ssize_t n = call(path.c_str(), size == 0 ? nullptr : value.data(), size);
  if (n < 0) {
    fuse_reply_err(req, errno);
  } else if (size == 0) {
    fuse_reply_xattr(req, static_cast<size_t>(n));
  } else {
    fuse_reply_buf(req, value.data(), static_cast<size_t>(n));
  }
}

void OpGetxattr(fuse_req_t req, fuse_ino_t ino, const char* name, size_t size) {
  ReplyXattr(req, ino, size, [name](const char* path, char* value, size_t value_size) {
    return ::getxattr(path, name, value, value_size);
  });
}

void OpListxattr(fuse_req_t req, fuse_ino_t ino, size_t size) {
  ReplyXattr(req, ino, size, [](const char* path, char* list, size_t list_size) {
    return ::listxattr(path, list, list_size);
  });
}

}  // namespace

// No flush: libfuse answers ENOSYS once and the kernel stops sending it.
// Xattrs are read (as replfs does, which replicates them): the kernel asks
// for security.capability at the first write of every new file. Without
// them, ENOSYS once and the kernel stops asking: cheaper than any file
// system that keeps xattrs can be. Setting them is left out (ENOSYS).
fuse_lowlevel_ops MakeOperations(bool xattrs) {
  fuse_lowlevel_ops ops{};
  ops.init = OpInit;
  ops.lookup = OpLookup;
  ops.forget = OpForget;
  ops.forget_multi = OpForgetMulti;
  ops.getattr = OpGetattr;
  ops.setattr = OpSetattr;
  ops.readlink = OpReadlink;
  ops.mknod = OpMknod;
  ops.mkdir = OpMkdir;
  ops.symlink = OpSymlink;
  ops.link = OpLink;
  ops.unlink = OpUnlink;
  ops.rmdir = OpRmdir;
  ops.rename = OpRename;
  ops.create = OpCreate;
  ops.open = OpOpen;
  ops.read = OpRead;
  ops.write_buf = OpWriteBuf;
  ops.release = OpRelease;
  ops.fsync = OpFsync;
  ops.opendir = OpOpendir;
  ops.readdir = OpReaddir;
  ops.readdirplus = OpReaddirplus;
  ops.releasedir = OpReleasedir;
  ops.statfs = OpStatfs;
  if (xattrs) {
    ops.getxattr = OpGetxattr;
    ops.listxattr = OpListxattr;
  }
  return ops;
}

}  // namespace replfs::floor
