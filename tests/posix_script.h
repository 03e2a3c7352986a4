#ifndef REPLFS_TESTS_POSIX_SCRIPT_H_
#define REPLFS_TESTS_POSIX_SCRIPT_H_

#include <sys/types.h>
#include <time.h>

#include <functional>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace replfs::testing {

// Makes syscalls on behalf of a script and writes each one down as a line
// "op args -> result" (errno by its symbolic name, never its number), so
// that the same script run in two directories can be compared line by
// line. Paths given to it are relative to its root and appear relative in
// the transcript; "." is the root itself. Values that legitimately differ
// between two directories (inode numbers, st_dev, fd numbers, timestamps
// nobody set) never reach the transcript.
//
// File descriptors are returned to the script as usual but named "#N"
// (N = order of opening) in the transcript. The recorder owns them: those
// the script leaves open are closed when it dies.
class Recorder {
 public:
  explicit Recorder(std::string root);
  ~Recorder();
  Recorder(const Recorder&) = delete;
  Recorder& operator=(const Recorder&) = delete;

  const std::string& root() const { return root_; }
  const std::vector<std::string>& transcript() const { return transcript_; }
  // Absolute path of `relative` ("." = root).
  std::string Path(absl::string_view relative) const;
  // Adds a line of the script's own (a checkpoint, a computed fact).
  void Note(absl::string_view line);

  // Names and attributes. Each returns the syscall's result (-1 = failed).
  int Mkdir(absl::string_view path, mode_t mode);
  int Rmdir(absl::string_view path);
  int Unlink(absl::string_view path);
  int Symlink(absl::string_view target, absl::string_view path);
  int Readlink(absl::string_view path);
  int Link(absl::string_view from, absl::string_view to);
  int Rename(absl::string_view from, absl::string_view to, unsigned int flags = 0);
  int Mkfifo(absl::string_view path, mode_t mode);
  int Mknod(absl::string_view path, mode_t mode, dev_t dev);
  // bind() of a UNIX stream socket at `path`, then connect() to it and one
  // message each way (recorded), then both ends closed.
  int BindUnixSocket(absl::string_view path);
  // lchown(path, -1, -1), recording whether it moved ctime.
  int ChownStampsCtime(absl::string_view path);
  // Type, permission bits, owner, size, link count (no inode, no times).
  int Lstat(absl::string_view path);
  int Stat(absl::string_view path);
  // atime and mtime to the nanosecond: only for times the script set.
  int StatTimes(absl::string_view path);
  // Whether mtime (and ctime) are within a minute of now: for UTIME_NOW.
  int StatMtimeIsRecent(absl::string_view path);
  int Access(absl::string_view path, int mode);
  int Chmod(absl::string_view path, mode_t mode);
  int Chown(absl::string_view path, uid_t uid, gid_t gid);
  int Lchown(absl::string_view path, uid_t uid, gid_t gid);
  int Truncate(absl::string_view path, off_t length);
  // utimensat; tv_nsec may be UTIME_NOW or UTIME_OMIT.
  int Utimens(absl::string_view path, timespec atime, timespec mtime, int flags = 0);
  // statvfs: records f_bsize and f_namemax only (the counts of free blocks
  // and inodes move with everything else on the machine).
  int Statfs(absl::string_view path);
  // opendir + readdir to the end: "name:type" sorted, "." and ".." included.
  int ListDir(absl::string_view path);

  // Extended attributes by path (l* = on the link itself).
  int Setxattr(absl::string_view path, absl::string_view name, absl::string_view value,
               int flags = 0);
  int Lsetxattr(absl::string_view path, absl::string_view name, absl::string_view value,
                int flags = 0);
  // Reads with a buffer of `size` bytes (0 asks for the size).
  int Getxattr(absl::string_view path, absl::string_view name, size_t size = 4096);
  int Lgetxattr(absl::string_view path, absl::string_view name, size_t size = 4096);
  // user.* names, sorted; `size` = buffer size (0 asks for the size, which
  // is recorded only as zero / non-zero because the mount and a native
  // directory may carry different non-user attributes).
  int Listxattr(absl::string_view path, size_t size = 65536);
  int Removexattr(absl::string_view path, absl::string_view name);

  // File descriptors.
  int Open(absl::string_view path, int flags, mode_t mode = 0);
  int Close(int fd);
  ssize_t Write(int fd, absl::string_view data);
  ssize_t Pwrite(int fd, absl::string_view data, off_t offset);
  // Records the bytes read (short ones literally, long ones as a hash).
  ssize_t Read(int fd, size_t size);
  ssize_t Pread(int fd, size_t size, off_t offset);
  int Ftruncate(int fd, off_t length);
  int Fsync(int fd);
  int Fdatasync(int fd);
  int Fstat(int fd);
  int Fchmod(int fd, mode_t mode);
  int Fchown(int fd, uid_t uid, gid_t gid);
  int Futimens(int fd, timespec atime, timespec mtime);
  off_t Lseek(int fd, off_t offset, int whence);
  int Fallocate(int fd, int mode, off_t offset, off_t length);
  // copy_file_range with explicit offsets (or the file positions if < 0).
  ssize_t CopyFileRange(int fd_in, off_t off_in, int fd_out, off_t off_out, size_t length);
  int Flock(int fd, int operation);
  // fcntl record locks: cmd is F_SETLK, F_GETLK, F_OFD_SETLK or
  // F_OFD_GETLK; F_GETLK records the conflicting lock's type and range.
  int RecordLock(int fd, int cmd, short type, off_t start, off_t length);
  int Fsetxattr(int fd, absl::string_view name, absl::string_view value, int flags = 0);
  int Fgetxattr(int fd, absl::string_view name, size_t size = 4096);

  // Runs `steps` in a forked child that becomes uid/gid (no supplementary
  // groups) and appends its transcript, each line prefixed with the user.
  // The child starts with no descriptors of this recorder in its table.
  void AsUser(uid_t uid, gid_t gid, const std::function<void(Recorder&)>& steps);
  // Runs `steps` in a forked child with the same credentials: another
  // process, for POSIX record locks. It inherits this recorder's fds, under
  // the same names.
  void InChild(const std::function<void(Recorder&)>& steps);

 private:
  void Record(const std::string& call, long result);
  void RecordText(const std::string& call, long result, const std::string& detail);
  std::string FdName(int fd) const;
  void RunForked(const std::string& prefix, const std::function<void(Recorder&)>& steps,
                 bool switch_user, uid_t uid, gid_t gid);

  std::string root_;
  std::vector<std::string> transcript_;
  std::map<int, int> fd_names_;  // fd -> its "#N" in the transcript.
  int next_fd_name_ = 1;
  bool owns_fds_ = true;
};

// A named operation sequence, run once natively and once on the mount.
struct Script {
  const char* name;
  std::function<void(Recorder&)> run;
};

// gtest prints a parameter by its name rather than its bytes.
inline void PrintTo(const Script& script, std::ostream* out) { *out << script.name; }

// Symbolic name of an errno value ("ENOENT"); "E<number>" if unknown.
std::string ErrnoName(int error);

// The user the non-root steps run as.
inline constexpr uid_t kNobodyUid = 65534;
inline constexpr gid_t kNobodyGid = 65534;

}  // namespace replfs::testing

#endif  // REPLFS_TESTS_POSIX_SCRIPT_H_
