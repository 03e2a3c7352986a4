#ifndef REPLFS_FUSE_OPERATIONS_H_
#define REPLFS_FUSE_OPERATIONS_H_

#include "fuse/backing_files.h"
#include "fuse/fd_buffer.h"
#include "fuse/replica_fs.h"

namespace replfs {

// An open file: the inode it belongs to, how the kernel does its I/O, and
// the backing fd that serves the requests which reach the daemon (invalid
// for a passthrough open whose reads and writes never do).
struct FileHandle {
  UniqueFd fd;
  Inode* inode;
  bool writable;
  FileIo io;
  // A writable passthrough open without FOPEN_DIRECT_IO: its writes go to
  // the backing file without the daemon seeing them.
  bool writes_unseen = false;
};

// libfuse hands back as an integer the pointer we stored in fi->fh.
inline FileHandle* HandleOf(fuse_file_info* fi) {
  return reinterpret_cast<FileHandle*>(fi->fh);  // NOLINT(performance-no-int-to-ptr)
}
inline int FileHandleFd(fuse_file_info* fi) { return fi->fh != 0 ? HandleOf(fi)->fd.get() : -1; }

// Identity of the caller, for ownership of new objects.
struct Caller {
  uid_t uid;
  gid_t gid;
};
Caller CallerOf(fuse_req_t req);

// Gives the new object `name` in `parent` to the caller (ops_namespace.cc).
// A setgid parent already gave it its group (the kernel does that for the
// daemon too), so only the owner changes then. `mode` is the mode it was
// created with (0 for symlinks); set-id bits the chown dropped are put
// back. Returns 0 or an errno.
int GiveToCaller(fuse_req_t req, Inode* parent, const char* name, mode_t mode);

// ops_attr.cc
// Clears the set-id bits that a write, truncate or chown by a caller
// without CAP_FSETID kills, where the kernel leaves it to the daemon
// (FUSE_HANDLE_KILLPRIV_V2): suid, and sgid on a group-executable file.
// `fd` refers to the file (O_PATH will do). Returns 0 or an errno.
int KillSetidBits(int fd);
void OpLookup(fuse_req_t req, fuse_ino_t parent, const char* name);
void OpForget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup);
void OpForgetMulti(fuse_req_t req, size_t count, fuse_forget_data* forgets);
void OpGetattr(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi);
void OpSetattr(fuse_req_t req, fuse_ino_t ino, struct stat* attr, int valid, fuse_file_info* fi);
void OpReadlink(fuse_req_t req, fuse_ino_t ino);
void OpStatfs(fuse_req_t req, fuse_ino_t ino);

// ops_namespace.cc
void OpMknod(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode, dev_t rdev);
void OpMkdir(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode);
void OpSymlink(fuse_req_t req, const char* target, fuse_ino_t parent, const char* name);
void OpLink(fuse_req_t req, fuse_ino_t ino, fuse_ino_t parent, const char* name);
void OpUnlink(fuse_req_t req, fuse_ino_t parent, const char* name);
void OpRmdir(fuse_req_t req, fuse_ino_t parent, const char* name);
void OpRename(fuse_req_t req, fuse_ino_t parent, const char* name, fuse_ino_t new_parent,
              const char* new_name, unsigned int flags);

// ops_file.cc
void OpCreate(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode, fuse_file_info* fi);
void OpOpen(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi);
void OpRead(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi);
void OpWriteBuf(fuse_req_t req, fuse_ino_t ino, fuse_bufvec* in, off_t off, fuse_file_info* fi);
void OpRelease(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi);
void OpFlush(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi);
void OpFsync(fuse_req_t req, fuse_ino_t ino, int datasync, fuse_file_info* fi);
void OpFallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset, off_t length,
                 fuse_file_info* fi);
void OpLseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence, fuse_file_info* fi);
void OpCopyFileRange(fuse_req_t req, fuse_ino_t ino_in, off_t off_in, fuse_file_info* fi_in,
                     fuse_ino_t ino_out, off_t off_out, fuse_file_info* fi_out, size_t len,
                     int flags);

// ops_dir.cc
void OpOpendir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi);
void OpReaddir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t offset, fuse_file_info* fi);
void OpReaddirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t offset, fuse_file_info* fi);
void OpReleasedir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi);
void OpFsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, fuse_file_info* fi);

// ops_xattr.cc
void OpSetxattr(fuse_req_t req, fuse_ino_t ino, const char* name, const char* value, size_t size,
                int flags);
void OpGetxattr(fuse_req_t req, fuse_ino_t ino, const char* name, size_t size);
void OpListxattr(fuse_req_t req, fuse_ino_t ino, size_t size);
void OpRemovexattr(fuse_req_t req, fuse_ino_t ino, const char* name);

// ops_init.cc
void OpInit(void* userdata, fuse_conn_info* conn);

}  // namespace replfs

#endif  // REPLFS_FUSE_OPERATIONS_H_
