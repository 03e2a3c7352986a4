// create, open, read, write, release, fsync, fallocate, lseek,
// copy_file_range. Content is committed when the last writable handle of a
// written file closes, or on fsync.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "fuse/kernel_channel.h"
#include "fuse/operations.h"
#include "fuse/replica_fs.h"
#include "storage/proc_path.h"
#include "storage/content_hasher.h"

namespace replfs {
namespace {

bool IsWritable(int flags) { return (flags & O_ACCMODE) != O_RDONLY; }

// Flags for the backing open. The kernel's writeback cache handles O_APPEND
// itself and may read from write-only files to fill pages, so backing fds
// are opened read-write and without O_APPEND (as passthrough_hp does).
int BackingFlags(int flags) {
  flags &= ~(O_APPEND | O_DIRECT | O_NOFOLLOW | O_CREAT | O_EXCL);
  if ((flags & O_ACCMODE) == O_WRONLY) flags = (flags & ~O_ACCMODE) | O_RDWR;
  return flags | O_CLOEXEC;
}

// How a passthrough open's writes reach the backing file.
struct PassthroughWrites {
  // FOPEN_DIRECT_IO beside passthrough: its reads and writes come to the
  // daemon; its mmap still goes to the backing file.
  bool direct_io = false;
  // It can change the file without the daemon seeing it (passthrough
  // writes, or stores through a shared mapping): its file is rehashed whole
  // at commit, and the idle committer polls its backing stat.
  bool unseen = false;
};

// The daemon sees the writes of an O_WRONLY writer (which cannot mmap) that
// keeps what the file holds: an append (a log), an in-place rewrite; its
// commit then rehashes only the blocks it wrote. Any other writer's file is
// rehashed whole at its commit, which costs little beside writing it: a new
// file, an O_TRUNC rewrite. A writer of a set-id file under
// FUSE_HANDLE_KILLPRIV_V2 always goes through the daemon: the kernel then
// leaves killing the bits to the daemon, which only can on the writes it
// serves (FUSE_WRITE_KILL_SUIDGID).
PassthroughWrites ChoosePassthroughWrites(int flags, bool new_file, mode_t mode,
                                          bool killpriv_v2) {
  const bool write_only = (flags & O_ACCMODE) == O_WRONLY;
  if (killpriv_v2 && (mode & (S_ISUID | S_ISGID)) != 0) {
    return PassthroughWrites{true, (flags & O_ACCMODE) == O_RDWR};
  }
  const bool keeps_content = (flags & O_APPEND) != 0 || (!new_file && (flags & O_TRUNC) == 0);
  if (write_only && keeps_content) return PassthroughWrites{true, false};
  return PassthroughWrites{false, true};
}

// Hands the open to the kernel's file as its handle; a writable one must
// have been counted (CountWriter). `io` says how the kernel does its I/O.
void AttachHandle(Inode* inode, UniqueFd fd, bool writable, const FileIo& io,
                  const PassthroughWrites& writes, bool passthrough_connection,
                  fuse_file_info* fi) {
  fi->fh = reinterpret_cast<uint64_t>(
      new FileHandle{std::move(fd), inode, writable, io, writes.unseen});
  if (io.backing_id != 0) {
    // Nothing to flush at close: the data is in the backing file already.
    fi->noflush = 1;
    fi->direct_io = writes.direct_io ? 1 : 0;
    KernelChannel::ReplyWithBacking(io.backing_id);
    return;
  }
  // On FUSE I/O the page cache stays valid across opens: nothing changes
  // the backing file without going through us or invalidating it. Except
  // on a passthrough connection, where the inode's passthrough opens wrote
  // to the backing file past the pages an earlier cached open left.
  fi->keep_cache = passthrough_connection ? 0 : 1;
  // A read-only handle has nothing to flush: spare its close the FLUSH
  // round trip (honoured by the kernel without the writeback cache).
  if (!writable) fi->noflush = 1;
}

// A backing fd of `inode` opened with `flags` for one operation on a
// passthrough handle, which keeps none.
UniqueFd ReopenBacking(Inode* inode, int flags) {
  const PathFd path_fd = inode->path_fd();
  if (!path_fd.valid()) {
    errno = path_fd.error();
    return UniqueFd();
  }
  return UniqueFd(::open(ProcPath(path_fd.get()).c_str(), flags | O_CLOEXEC));
}

// The handle's fd, or one reopened with `flags` into `reopened` when the
// handle keeps none. Returns -1 with errno set on failure.
int HandleFdFor(FileHandle* handle, int flags, UniqueFd* reopened) {
  if (handle->fd.valid()) return handle->fd.get();
  *reopened = ReopenBacking(handle->inode, flags);
  return reopened->get();
}

// Drops the handle in `fi`; for a writable one, commits what it wrote and
// settles the last-writer bookkeeping. `req` is null when the kernel never
// saw the handle (its open reply failed): nothing is committed or answered.
void ReleaseHandle(ReplicaFs* fs, fuse_req_t req, fuse_file_info* fi);

// Keeps the content of `name` in `parent` aside before an O_TRUNC open of
// it empties it (-o keep_versions).
void KeepBeforeTruncate(ReplicaFs* fs, Inode* parent, const char* name) {
  if (!fs->commit_path.keeps_versions()) return;
  std::optional<std::string> path = fs->ChildPath(parent, name);
  UniqueFd old(::openat(parent->dir_fd(), name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
  if (path && old.valid()) fs->commit_path.KeepBeforeTruncate(old.get(), *path);
}

// A writable open of the existing file `inode` (stat'ed as `st`) that
// keeps its content may write over it in place: its content is kept first,
// at the first write, or now when the writes go past the daemon.
void KeepBeforeRewrite(ReplicaFs* fs, Inode* inode, int flags, const struct stat& st,
                       bool writes_unseen) {
  if ((flags & O_TRUNC) != 0 || !S_ISREG(st.st_mode) || st.st_size == 0) return;
  if (!fs->commit_path.keeps_versions()) return;
  if ((flags & O_APPEND) != 0) {
    // An append leaves the old bytes where they were.
    fs->commit_path.SettleKeepBeforeAppend(inode);
  } else if (writes_unseen) {
    fs->commit_path.KeepInodeForUnseenWrites(inode);
  } else {
    fs->commit_path.KeepInodeAtFirstWrite(inode);
  }
}

}  // namespace

void OpCreate(fuse_req_t req, fuse_ino_t parent_id, const char* name, mode_t mode,
              fuse_file_info* fi) {
  ReplicaFs* fs = FsOf(req);
  Inode* parent = fs->InodeOf(parent_id);
  if (fs->IsHidden(parent, name)) {
    fuse_reply_err(req, EPERM);
    return;
  }
  // Held until the handle counts as a writer: see CommitPath::local_change_gate.
  SharedGateHold gate(fs->commit_path.local_change_gate());
  UniqueFd fd(::openat(parent->dir_fd(), name, BackingFlags(fi->flags) | O_CREAT | O_EXCL | O_NOFOLLOW,
                       mode));
  const bool created = fd.valid();
  if (!fd.valid()) {
    // O_CREAT without O_EXCL on an existing file: open it instead.
    if (errno == EEXIST && !(fi->flags & O_EXCL)) {
      if ((fi->flags & O_TRUNC) != 0) KeepBeforeTruncate(fs, parent, name);
      fd.Reset(::openat(parent->dir_fd(), name, BackingFlags(fi->flags) | O_NOFOLLOW));
    }
    if (!fd.valid()) {
      fuse_reply_err(req, errno);
      return;
    }
  } else if (const int err = GiveToCaller(req, parent, name, S_IFREG | (mode & 07777)); err != 0) {
    ::unlinkat(parent->dir_fd(), name, 0);
    fuse_reply_err(req, err);
    return;
  }
  fuse_entry_param e;
  if (const int err = created ? LookupNewChild(fs, parent, name, &e)
                              : LookupChild(fs, parent, name, &e);
      err != 0) {
    fuse_reply_err(req, err);
    return;
  }
  Inode* inode = fs->InodeOf(e.ino);
  const bool writable = IsWritable(fi->flags);
  const bool passthrough_connection = fs->backing_files->active();
  FileIo io;
  if (passthrough_connection && S_ISREG(inode->type())) io = fs->backing_files->Acquire(inode, fd.get());
  PassthroughWrites writes;
  if (io.backing_id != 0 && writable) {
    writes = ChoosePassthroughWrites(fi->flags, created, e.attr.st_mode,
                                     fs->channel->killpriv_v2());
  }
  // A passthrough open none of whose I/O reaches the daemon needs no fd.
  if (io.backing_id != 0 && !writes.direct_io) fd.Reset();
  const bool truncating = created || (fi->flags & O_TRUNC) != 0;
  if (!created && truncating && KernelChannel::RequestKillsSetid()) {
    if (const int err = KillSetidBits(inode->path_fd().get()); err != 0) {
      fs->backing_files->Release(inode, io);
      fuse_reply_err(req, err);
      return;
    }
  }
  if (writable) inode->writes.CountWriter(truncating, writes.unseen, e.attr);
  if (writable && !created) KeepBeforeRewrite(fs, inode, fi->flags, e.attr, writes.unseen);
  AttachHandle(inode, std::move(fd), writable, io, writes, passthrough_connection, fi);
  gate.Release();
  if (writable) fs->commit_path.TrackWriter(inode);
  if (fuse_reply_create(req, &e, fi) == -ENOENT) {
    // The caller went away: drop our handle; the kernel never saw it.
    ReleaseHandle(fs, nullptr, fi);
  }
}

void OpOpen(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  ReplicaFs* fs = FsOf(req);
  Inode* inode = fs->InodeOf(ino);
  const PathFd path_fd = inode->path_fd();
  if (!path_fd.valid()) {
    fuse_reply_err(req, path_fd.error());
    return;
  }
  // An O_TRUNC open empties the file even when opened read-only: it
  // counts as a writer (until its close, which records the emptied file).
  const bool truncating = (fi->flags & O_TRUNC) != 0 && S_ISREG(inode->type());
  const bool writable = IsWritable(fi->flags) || truncating;
  const bool passthrough_connection = fs->backing_files->active();
  const bool may_pass_through = passthrough_connection && S_ISREG(inode->type());
  // The daemon keeps an fd only for the requests that will reach it: all
  // of them on FUSE I/O, the writes of a passthrough writer it sees, and
  // the truncation an O_TRUNC open asks of it.
  // Held until the handle counts as a writer: see CommitPath::local_change_gate.
  SharedGateHold gate(writable ? fs->commit_path.local_change_gate() : nullptr);
  struct stat st {};
  if (writable) {
    if (::fstatat(path_fd.get(), "", &st, AT_EMPTY_PATH) == 0 && st.st_nlink == 0 &&
        S_ISREG(st.st_mode)) {
      // Replication replaced or removed this file after the kernel looked
      // its name up. ESTALE makes the kernel look the name up again
      // (LOOKUP_REVAL) and open what is there now; writing into the
      // unlinked file would vanish with it.
      fuse_reply_err(req, ESTALE);
      return;
    }
  }
  FileIo io;
  if (may_pass_through) io = fs->backing_files->Acquire(inode, path_fd.get());
  PassthroughWrites writes;
  if (io.backing_id != 0 && writable) {
    writes = ChoosePassthroughWrites(fi->flags, /*new_file=*/false, st.st_mode,
                                     fs->channel->killpriv_v2());
  }
  const bool writes_unseen = writes.unseen;
  if (writable) inode->writes.CountWriter(truncating, writes_unseen, st);
  if (writable) KeepBeforeRewrite(fs, inode, fi->flags, st, writes_unseen);
  UniqueFd fd;
  const bool needs_fd = io.backing_id == 0 || writes.direct_io || truncating;
  if (needs_fd) {
    const std::string proc = ProcPath(path_fd.get());
    const bool plain_read_only = (fi->flags & (O_ACCMODE | O_TRUNC | O_DIRECT)) == O_RDONLY;
    if (plain_read_only && S_ISREG(inode->type())) {
      absl::MutexLock lock(&inode->io_mu);
      fd = inode->DupReadFd(fs->read_fd_budget, proc);
    }
    if (truncating && st.st_size > 0) fs->commit_path.KeepInodeBeforeTruncate(inode);
    if (!fd.valid()) fd.Reset(::open(proc.c_str(), BackingFlags(fi->flags)));
    if (!fd.valid()) {
      const int error = errno;
      if (writable) inode->writes.UncountWriter(writes_unseen);
      fs->backing_files->Release(inode, io);
      fuse_reply_err(req, error);
      return;
    }
    if (truncating && KernelChannel::RequestKillsSetid()) {
      if (const int err = KillSetidBits(fd.get()); err != 0) {
        if (writable) inode->writes.UncountWriter(writes_unseen);
        fs->backing_files->Release(inode, io);
        fuse_reply_err(req, err);
        return;
      }
    }
    // The truncation is done; a passthrough open none of whose I/O reaches
    // the daemon needs the fd no longer.
    if (io.backing_id != 0 && !writes.direct_io) fd.Reset();
  }
  AttachHandle(inode, std::move(fd), writable, io, writes, passthrough_connection, fi);
  gate.Release();
  if (writable) fs->commit_path.TrackWriter(inode);
  if (fuse_reply_open(req, fi) == -ENOENT) ReleaseHandle(fs, nullptr, fi);
}

void OpRead(fuse_req_t req, fuse_ino_t, size_t size, off_t off, fuse_file_info* fi) {
  // Zero-copy: libfuse splices from the backing fd into the reply.
  fuse_bufvec buf = FdBuffer(FileHandleFd(fi), size, off);
  fuse_reply_data(req, &buf, FUSE_BUF_SPLICE_MOVE);
}

void OpWriteBuf(fuse_req_t req, fuse_ino_t, fuse_bufvec* in, off_t off, fuse_file_info* fi) {
  FileHandle* handle = HandleOf(fi);
  const size_t size = fuse_buf_size(in);
  fuse_bufvec out = FdBuffer(handle->fd.get(), size, off);
  FsOf(req)->commit_path.KeepBeforeWrite(handle->inode);
  // Before the write (see FileWriteState::MarkWritten).
  handle->inode->writes.MarkWritten(static_cast<uint64_t>(off), size);
  ssize_t written = fuse_buf_copy(&out, in, static_cast<fuse_buf_copy_flags>(0));
  // Kept versions give way to a user's write: a write the disk cut short
  // (a short count, or ENOSPC) drops the oldest versions and goes on with
  // what is left. fuse_buf_copy advanced `in` past what it wrote.
  VersionKeeper* versions = FsOf(req)->commit_path.versions();
  for (int attempt = 0; versions != nullptr && attempt < 8; ++attempt) {
    const size_t done = written > 0 ? static_cast<size_t>(written) : 0;
    const bool cut_short = written == -ENOSPC || (written >= 0 && done < size);
    if (!cut_short || !versions->MakeRoom(size - done)) break;
    out = FdBuffer(handle->fd.get(), size - done, off + static_cast<off_t>(done));
    const ssize_t more = fuse_buf_copy(&out, in, static_cast<fuse_buf_copy_flags>(0));
    if (more < 0) {
      if (done == 0) written = more;
      if (more != -ENOSPC) break;
      continue;
    }
    if (more == 0) break;
    written = static_cast<ssize_t>(done) + more;
  }
  // The kernel's writeback takes no short count: it would drop the rest
  // of its pages silently. An error reaches the writer's fsync or close.
  if (written >= 0 && static_cast<size_t>(written) < size && fi->writepage) written = -ENOSPC;
  if (written < 0) {
    fuse_reply_err(req, static_cast<int>(-written));
    return;
  }
  // A writer without CAP_FSETID: the kernel left killing the bits to us.
  if (KernelChannel::RequestKillsSetid()) {
    if (const int err = KillSetidBits(handle->fd.get()); err != 0) {
      fuse_reply_err(req, err);
      return;
    }
  }
  fuse_reply_write(req, static_cast<size_t>(written));
}

namespace {

void ReleaseHandle(ReplicaFs* fs, fuse_req_t req, fuse_file_info* fi) {
  FileHandle* handle = HandleOf(fi);
  Inode* inode = handle->inode;
  const bool writable = handle->writable;
  const bool writes_unseen = handle->writes_unseen;
  fs->backing_files->Release(inode, handle->io);
  delete handle;
  if (!writable) {
    if (req != nullptr) fuse_reply_err(req, 0);
    return;
  }
  const bool last_writer =
      fs->commit_path.CloseWriter(inode, writes_unseen, /*commit=*/req != nullptr);
  if (req == nullptr) return;
  if (last_writer && fs->on_write_closed) {
    for (const std::string& path : fs->inodes.PathsOf(inode)) fs->on_write_closed(path);
  }
  fuse_reply_err(req, 0);
}

}  // namespace

void OpRelease(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) { ReleaseHandle(FsOf(req), req, fi); }

void OpFlush(fuse_req_t req, fuse_ino_t, fuse_file_info*) {
  // Nothing to do: the kernel wrote its dirty pages back before sending
  // this. Implementing it at all makes the kernel keep asking, so that a
  // close() after the replica died reports an error instead of 0 (with no
  // flush op the kernel stops sending FLUSH and close cannot see the loss).
  fuse_reply_err(req, 0);
}

void OpFsync(fuse_req_t req, fuse_ino_t ino, int datasync, fuse_file_info* fi) {
  ReplicaFs* fs = FsOf(req);
  Inode* inode = fs->InodeOf(ino);
  const std::optional<uint64_t> generation = inode->writes.GenerationIfChanged();
  UniqueFd reopened;
  const int fd = fi->fh != 0 ? HandleFdFor(HandleOf(fi), O_RDONLY, &reopened) : -1;
  if (fi->fh != 0 && fd < 0) {
    fuse_reply_err(req, errno);
    return;
  }
  // The commit hashes the file while the backing file system writes it
  // out (one waits on the CPU, the other on the disk), and is in the store
  // before fsync returns.
  const CommitPath::Ticket ticket = generation ? fs->commit_path.CommitInode(inode, *generation) : 0;
  const int r = fd >= 0 ? (datasync ? ::fdatasync(fd) : ::fsync(fd)) : 0;
  const int error = r != 0 ? errno : 0;
  fs->commit_path.WaitFor(ticket);
  fuse_reply_err(req, error);
}

void OpFallocate(fuse_req_t req, fuse_ino_t, int mode, off_t offset, off_t length,
                 fuse_file_info* fi) {
  FileHandle* handle = HandleOf(fi);
  // An allocation may zero or punch out the old content.
  FsOf(req)->commit_path.KeepBeforeWrite(handle->inode);
  // Before the change (see FileWriteState::MarkWritten).
  handle->inode->writes.MarkWritten(static_cast<uint64_t>(offset), static_cast<uint64_t>(length));
  UniqueFd reopened;
  const int fd = HandleFdFor(handle, O_WRONLY, &reopened);
  if (fd < 0 || ::fallocate(fd, mode, offset, length) != 0) {
    fuse_reply_err(req, errno);
    return;
  }
  fuse_reply_err(req, 0);
}

namespace {

void ReplyLseek(fuse_req_t req, int fd, off_t off, int whence) {
  const off_t result = ::lseek(fd, off, whence);
  if (result < 0) {
    fuse_reply_err(req, errno);
    return;
  }
  fuse_reply_lseek(req, result);
}

}  // namespace

void OpLseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence, fuse_file_info* fi) {
  ReplicaFs* fs = FsOf(req);
  FileHandle* handle = HandleOf(fi);
  if (!handle->fd.valid()) {
    // A passthrough handle: the backing file holds everything written.
    UniqueFd reopened = ReopenBacking(handle->inode, O_RDONLY);
    if (!reopened.valid()) {
      fuse_reply_err(req, errno);
      return;
    }
    ReplyLseek(req, reopened.get(), off, whence);
    return;
  }
  const int fd = handle->fd.get();
  bool may_be_dirty = false;
  if ((whence == SEEK_DATA || whence == SEEK_HOLE) && fs->session != nullptr &&
      !fs->backing_files->active()) {
    // Only a file with a writable handle open can have dirty pages.
    may_be_dirty = fs->InodeOf(ino)->writes.HasOpenWriters();
  }
  if (!may_be_dirty) {
    ReplyLseek(req, fd, off, whence);
    return;
  }
  // The kernel sends FUSE_LSEEK without writing back its dirty pages first
  // (fs/fuse/file.c, fuse_lseek), so with the writeback cache the backing
  // file may not hold yet what the caller just wrote: SEEK_DATA would call
  // fresh data a hole (and cp --sparse would drop it). Invalidating the
  // inode's page cache makes the kernel write dirty pages back before the
  // notification returns. Those writes are requests this daemon must
  // serve, so wait for them off the session loop (in single-threaded mode
  // it is the only thread). The fd stays valid: the caller's file is open
  // until this request is answered.
  fuse_session* session = fs->session;
  std::thread([session, req, ino, fd, off, whence] {
    fuse_lowlevel_notify_inval_inode(session, ino, 0, 0);
    ReplyLseek(req, fd, off, whence);
  }).detach();
}

void OpCopyFileRange(fuse_req_t req, fuse_ino_t, off_t off_in, fuse_file_info* fi_in, fuse_ino_t,
                     off_t off_out, fuse_file_info* fi_out, size_t len, int flags) {
  FileHandle* out = HandleOf(fi_out);
  loff_t in_pos = off_in;
  loff_t out_pos = off_out;
  FsOf(req)->commit_path.KeepBeforeWrite(out->inode);
  // Before the copy (see FileWriteState::MarkWritten).
  out->inode->writes.MarkWritten(static_cast<uint64_t>(off_out), static_cast<uint64_t>(len));
  UniqueFd reopened_in, reopened_out;
  const int in_fd = HandleFdFor(HandleOf(fi_in), O_RDONLY, &reopened_in);
  const int out_fd = in_fd < 0 ? -1 : HandleFdFor(out, O_WRONLY, &reopened_out);
  if (out_fd < 0) {
    fuse_reply_err(req, errno);
    return;
  }
  const ssize_t n = ::copy_file_range(in_fd, &in_pos, out_fd, &out_pos, len,
                                      static_cast<unsigned int>(flags));
  if (n < 0) {
    fuse_reply_err(req, errno);
    return;
  }
  fuse_reply_write(req, static_cast<size_t>(n));
}

}  // namespace replfs
