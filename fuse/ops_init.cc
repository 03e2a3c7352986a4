// Connection set-up and the operations table.
#include "fuse/operations.h"
#include "fuse/replica_fs.h"

namespace replfs {

void OpInit(void* userdata, fuse_conn_info* conn) {
  ReplicaFs* fs = static_cast<ReplicaFs*>(userdata);
  // Zero-copy data path.
  if (conn->capable & FUSE_CAP_SPLICE_WRITE) conn->want |= FUSE_CAP_SPLICE_WRITE;
  if (conn->capable & FUSE_CAP_SPLICE_MOVE) conn->want |= FUSE_CAP_SPLICE_MOVE;
  if (conn->capable & FUSE_CAP_SPLICE_READ) conn->want |= FUSE_CAP_SPLICE_READ;
  // File data passed through to the backing files beats any cache here,
  // and the kernel refuses it beside the writeback cache.
  const bool passthrough = fs->channel != nullptr && fs->channel->KernelOffersPassthrough();
  if (fs->channel != nullptr && !passthrough) {
    fs->fuse_io_reason = "the kernel does not offer FUSE passthrough (CONFIG_FUSE_PASSTHROUGH)";
  }
  // Otherwise the kernel batches small writes in its page cache: the single
  // biggest win for buffered writes. Its cost: every close sends FLUSH (the
  // kernel ignores FOPEN_NOFLUSH with it) and drops the cached block count,
  // so the next stat is a GETATTR; a read-mostly mount turns it off.
  if (!passthrough && fs->writeback_cache && (conn->capable & FUSE_CAP_WRITEBACK_CACHE)) {
    conn->want |= FUSE_CAP_WRITEBACK_CACHE;
  } else {
    conn->want &= ~static_cast<unsigned>(FUSE_CAP_WRITEBACK_CACHE);
  }
  if (conn->capable & FUSE_CAP_PARALLEL_DIROPS) conn->want |= FUSE_CAP_PARALLEL_DIROPS;
  if (conn->capable & FUSE_CAP_CACHE_SYMLINKS) conn->want |= FUSE_CAP_CACHE_SYMLINKS;
  if (conn->capable & FUSE_CAP_READDIRPLUS) conn->want |= FUSE_CAP_READDIRPLUS;
  if (conn->capable & FUSE_CAP_READDIRPLUS_AUTO) conn->want |= FUSE_CAP_READDIRPLUS_AUTO;
  // Local locks: the kernel arbitrates flock/POSIX locks itself because we
  // do not implement getlk/setlk/flock (locks are per machine, like on any
  // local filesystem; they do not replicate).
  conn->want &= ~static_cast<unsigned>(FUSE_CAP_POSIX_LOCKS | FUSE_CAP_FLOCK_LOCKS);
  conn->max_write = 1u << 20;
  fs->init_done.store(true, std::memory_order_release);
}

fuse_lowlevel_ops MakeOperations() {
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
  ops.flush = OpFlush;
  ops.fsync = OpFsync;
  ops.fallocate = OpFallocate;
  ops.lseek = OpLseek;
  ops.copy_file_range = OpCopyFileRange;
  ops.opendir = OpOpendir;
  ops.readdir = OpReaddir;
  ops.readdirplus = OpReaddirplus;
  ops.releasedir = OpReleasedir;
  ops.fsyncdir = OpFsyncdir;
  ops.setxattr = OpSetxattr;
  ops.getxattr = OpGetxattr;
  ops.listxattr = OpListxattr;
  ops.removexattr = OpRemovexattr;
  ops.statfs = OpStatfs;
  return ops;
}

}  // namespace replfs
