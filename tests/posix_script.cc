#include "tests/posix_script.h"

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "storage/content_hasher.h"

namespace replfs::testing {
namespace {

// Data longer than this is recorded by hash.
constexpr size_t kLiteralLimit = 64;
// A forked step that takes longer than this is killed and reported.
constexpr auto kChildTimeout = std::chrono::seconds(30);

std::string Quote(absl::string_view text) { return absl::StrCat("'", absl::CEscape(text), "'"); }

std::string ShortHash(absl::string_view data) {
  return absl::BytesToHexString(Sha256(data)).substr(0, 16);
}

// Bytes as they go into the transcript.
std::string DataText(absl::string_view data) {
  if (data.size() <= kLiteralLimit) return Quote(data);
  return absl::StrCat("sha256:", ShortHash(data));
}

std::string TypeName(mode_t mode) {
  switch (mode & S_IFMT) {
    case S_IFREG: return "file";
    case S_IFDIR: return "dir";
    case S_IFLNK: return "symlink";
    case S_IFIFO: return "fifo";
    case S_IFSOCK: return "socket";
    case S_IFCHR: return "chardev";
    case S_IFBLK: return "blockdev";
    default: return "unknown";
  }
}

std::string DirentTypeName(unsigned char type) {
  switch (type) {
    case DT_REG: return "file";
    case DT_DIR: return "dir";
    case DT_LNK: return "symlink";
    case DT_FIFO: return "fifo";
    case DT_UNKNOWN: return "unknown";
    default: return absl::StrCat("dt", type);
  }
}

std::string Octal(mode_t mode) { return absl::StrFormat("%04o", mode); }

std::string StatText(const struct stat& st) {
  std::string text = absl::StrCat(TypeName(st.st_mode), " mode=", Octal(st.st_mode & 07777),
                                  " uid=", st.st_uid, " gid=", st.st_gid, " size=", st.st_size,
                                  " nlink=", st.st_nlink);
  if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
    absl::StrAppend(&text, " rdev=", major(st.st_rdev), ":", minor(st.st_rdev));
  }
  return text;
}

std::string OpenFlagsText(int flags) {
  std::vector<std::string> parts;
  switch (flags & O_ACCMODE) {
    case O_RDONLY: parts.push_back("O_RDONLY"); break;
    case O_WRONLY: parts.push_back("O_WRONLY"); break;
    default: parts.push_back("O_RDWR"); break;
  }
  const std::pair<int, const char*> known[] = {
      {O_CREAT, "O_CREAT"},       {O_EXCL, "O_EXCL"},           {O_TRUNC, "O_TRUNC"},
      {O_APPEND, "O_APPEND"},     {O_DIRECTORY, "O_DIRECTORY"}, {O_NOFOLLOW, "O_NOFOLLOW"},
      {O_NONBLOCK, "O_NONBLOCK"}, {O_SYNC, "O_SYNC"},
  };
  int rest = flags & ~O_ACCMODE;
  for (const auto& [bit, name] : known) {
    if ((rest & bit) == bit) {
      parts.push_back(name);
      rest &= ~bit;
    }
  }
  if (rest != 0) parts.push_back(absl::StrFormat("0x%x", rest));
  return absl::StrJoin(parts, "|");
}

std::string TimeText(const timespec& t) {
  if (t.tv_nsec == UTIME_NOW) return "NOW";
  if (t.tv_nsec == UTIME_OMIT) return "OMIT";
  return absl::StrFormat("%d.%09d", t.tv_sec, t.tv_nsec);
}

std::string LockTypeName(short type) {
  switch (type) {
    case F_RDLCK: return "F_RDLCK";
    case F_WRLCK: return "F_WRLCK";
    case F_UNLCK: return "F_UNLCK";
    default: return absl::StrCat("type", type);
  }
}

std::string LockCmdName(int cmd) {
  switch (cmd) {
    case F_SETLK: return "F_SETLK";
    case F_GETLK: return "F_GETLK";
    case F_OFD_SETLK: return "F_OFD_SETLK";
    case F_OFD_GETLK: return "F_OFD_GETLK";
    default: return absl::StrCat("cmd", cmd);
  }
}

// The user.* names of a listxattr buffer, sorted.
std::vector<std::string> UserNames(const char* buffer, size_t size) {
  std::vector<std::string> names;
  for (absl::string_view name : absl::StrSplit(absl::string_view(buffer, size), '\0')) {
    if (absl::StartsWith(name, "user.")) names.emplace_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

bool WriteAllTo(int fd, absl::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

}  // namespace

std::string ErrnoName(int error) {
  const char* name = ::strerrorname_np(error);
  return name != nullptr ? name : absl::StrCat("E", error);
}

Recorder::Recorder(std::string root) : root_(std::move(root)) {}

Recorder::~Recorder() {
  if (!owns_fds_) return;
  for (const auto& [fd, name] : fd_names_) ::close(fd);
}

std::string Recorder::Path(absl::string_view relative) const {
  if (relative == ".") return root_;
  return absl::StrCat(root_, "/", relative);
}

void Recorder::Note(absl::string_view line) { transcript_.emplace_back(line); }

void Recorder::Record(const std::string& call, long result) { RecordText(call, result, ""); }

void Recorder::RecordText(const std::string& call, long result, const std::string& detail) {
  // errno is read before anything here can change it.
  const int error = errno;
  std::string line = absl::StrCat(call, " -> ");
  if (result < 0) {
    absl::StrAppend(&line, ErrnoName(error));
  } else {
    absl::StrAppend(&line, result);
    if (!detail.empty()) absl::StrAppend(&line, " ", detail);
  }
  transcript_.push_back(std::move(line));
  errno = error;
}

std::string Recorder::FdName(int fd) const {
  auto it = fd_names_.find(fd);
  return it == fd_names_.end() ? absl::StrCat("fd?", fd) : absl::StrCat("#", it->second);
}

int Recorder::Mkdir(absl::string_view path, mode_t mode) {
  const int r = ::mkdir(Path(path).c_str(), mode);
  Record(absl::StrCat("mkdir ", path, " ", Octal(mode)), r);
  return r;
}

int Recorder::Rmdir(absl::string_view path) {
  const int r = ::rmdir(Path(path).c_str());
  Record(absl::StrCat("rmdir ", path), r);
  return r;
}

int Recorder::Unlink(absl::string_view path) {
  const int r = ::unlink(Path(path).c_str());
  Record(absl::StrCat("unlink ", path), r);
  return r;
}

int Recorder::Symlink(absl::string_view target, absl::string_view path) {
  const int r = ::symlink(std::string(target).c_str(), Path(path).c_str());
  Record(absl::StrCat("symlink ", DataText(target), " ", path), r);
  return r;
}

int Recorder::Readlink(absl::string_view path) {
  std::vector<char> buffer(PATH_MAX + 1);
  const ssize_t n = ::readlink(Path(path).c_str(), buffer.data(), buffer.size());
  RecordText(absl::StrCat("readlink ", path), n,
             n >= 0 ? DataText(absl::string_view(buffer.data(), static_cast<size_t>(n))) : "");
  return static_cast<int>(n);
}

int Recorder::Link(absl::string_view from, absl::string_view to) {
  const int r = ::link(Path(from).c_str(), Path(to).c_str());
  Record(absl::StrCat("link ", from, " ", to), r);
  return r;
}

int Recorder::Rename(absl::string_view from, absl::string_view to, unsigned int flags) {
  const int r = ::renameat2(AT_FDCWD, Path(from).c_str(), AT_FDCWD, Path(to).c_str(), flags);
  std::string flag_text = flags == 0 ? "" : flags == RENAME_NOREPLACE ? " RENAME_NOREPLACE"
                                          : flags == RENAME_EXCHANGE  ? " RENAME_EXCHANGE"
                                                                      : absl::StrCat(" ", flags);
  Record(absl::StrCat("rename ", from, " ", to, flag_text), r);
  return r;
}

int Recorder::Mkfifo(absl::string_view path, mode_t mode) {
  const int r = ::mkfifo(Path(path).c_str(), mode);
  Record(absl::StrCat("mkfifo ", path, " ", Octal(mode)), r);
  return r;
}

int Recorder::BindUnixSocket(absl::string_view path) {
  const std::string full = Path(path);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (full.size() >= sizeof(address.sun_path)) {
    Record(absl::StrCat("bind ", path, " (path too long for sun_path)"), -1);
    return -1;
  }
  std::memcpy(address.sun_path, full.c_str(), full.size() + 1);
  const int server = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int r = ::bind(server, reinterpret_cast<const sockaddr*>(&address), sizeof(address));
  Record(absl::StrCat("bind ", path), r);
  if (r == 0) {
    ::listen(server, 1);
    const int client = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    r = ::connect(client, reinterpret_cast<const sockaddr*>(&address), sizeof(address));
    Record(absl::StrCat("connect ", path), r);
    const int accepted = r == 0 ? ::accept4(server, nullptr, nullptr, SOCK_CLOEXEC) : -1;
    if (accepted >= 0) {
      const ssize_t sent = ::write(client, "hi", 2);
      char buffer[2] = {};
      const ssize_t got = ::read(accepted, buffer, sizeof(buffer));
      RecordText("socket round trip", sent == 2 && got == 2 ? 0 : -1,
                 std::string(buffer, got > 0 ? static_cast<size_t>(got) : 0));
      ::close(accepted);
    }
    ::close(client);
  }
  ::close(server);
  return r;
}

int Recorder::ChownStampsCtime(absl::string_view path) {
  struct stat before, after;
  if (::lstat(Path(path).c_str(), &before) != 0) {
    Record(absl::StrCat("lchown ", path, " -1 -1"), -1);
    return -1;
  }
  const int r = ::lchown(Path(path).c_str(), static_cast<uid_t>(-1), static_cast<gid_t>(-1));
  const bool moved = ::lstat(Path(path).c_str(), &after) == 0 &&
                     (after.st_ctim.tv_sec != before.st_ctim.tv_sec ||
                      after.st_ctim.tv_nsec != before.st_ctim.tv_nsec);
  RecordText(absl::StrCat("lchown ", path, " -1 -1"), r, moved ? "ctime moved" : "ctime kept");
  return r;
}

int Recorder::Mknod(absl::string_view path, mode_t mode, dev_t dev) {
  const int r = ::mknod(Path(path).c_str(), mode, dev);
  Record(absl::StrCat("mknod ", path, " ", TypeName(mode), " ", Octal(mode & 07777), " ", dev), r);
  return r;
}

int Recorder::Lstat(absl::string_view path) {
  struct stat st;
  const int r = ::lstat(Path(path).c_str(), &st);
  RecordText(absl::StrCat("lstat ", path), r, r == 0 ? StatText(st) : "");
  return r;
}

int Recorder::Stat(absl::string_view path) {
  struct stat st;
  const int r = ::stat(Path(path).c_str(), &st);
  RecordText(absl::StrCat("stat ", path), r, r == 0 ? StatText(st) : "");
  return r;
}

int Recorder::StatTimes(absl::string_view path) {
  struct stat st;
  const int r = ::lstat(Path(path).c_str(), &st);
  RecordText(absl::StrCat("times ", path), r,
             r == 0 ? absl::StrCat("atime=", TimeText(st.st_atim), " mtime=", TimeText(st.st_mtim))
                    : "");
  return r;
}

int Recorder::StatMtimeIsRecent(absl::string_view path) {
  struct stat st;
  const int r = ::lstat(Path(path).c_str(), &st);
  const time_t now = ::time(nullptr);
  const bool recent = st.st_mtim.tv_sec > now - 60 && st.st_mtim.tv_sec <= now + 1;
  RecordText(absl::StrCat("mtime-recent ", path), r, r == 0 ? (recent ? "yes" : "no") : "");
  return r;
}

int Recorder::Access(absl::string_view path, int mode) {
  const int r = ::access(Path(path).c_str(), mode);
  std::string mode_text = mode == F_OK ? "F_OK" : "";
  if (mode & R_OK) absl::StrAppend(&mode_text, "R");
  if (mode & W_OK) absl::StrAppend(&mode_text, "W");
  if (mode & X_OK) absl::StrAppend(&mode_text, "X");
  Record(absl::StrCat("access ", path, " ", mode_text), r);
  return r;
}

int Recorder::Chmod(absl::string_view path, mode_t mode) {
  const int r = ::chmod(Path(path).c_str(), mode);
  Record(absl::StrCat("chmod ", path, " ", Octal(mode)), r);
  return r;
}

int Recorder::Chown(absl::string_view path, uid_t uid, gid_t gid) {
  const int r = ::chown(Path(path).c_str(), uid, gid);
  Record(absl::StrCat("chown ", path, " ", static_cast<int>(uid), ":", static_cast<int>(gid)), r);
  return r;
}

int Recorder::Lchown(absl::string_view path, uid_t uid, gid_t gid) {
  const int r = ::lchown(Path(path).c_str(), uid, gid);
  Record(absl::StrCat("lchown ", path, " ", static_cast<int>(uid), ":", static_cast<int>(gid)), r);
  return r;
}

int Recorder::Truncate(absl::string_view path, off_t length) {
  const int r = ::truncate(Path(path).c_str(), length);
  Record(absl::StrCat("truncate ", path, " ", length), r);
  return r;
}

int Recorder::Utimens(absl::string_view path, timespec atime, timespec mtime, int flags) {
  const timespec times[2] = {atime, mtime};
  const int r = ::utimensat(AT_FDCWD, Path(path).c_str(), times, flags);
  Record(absl::StrCat("utimens ", path, " ", TimeText(atime), " ", TimeText(mtime),
                      (flags & AT_SYMLINK_NOFOLLOW) ? " AT_SYMLINK_NOFOLLOW" : ""),
         r);
  return r;
}

int Recorder::Statfs(absl::string_view path) {
  struct statvfs st;
  const int r = ::statvfs(Path(path).c_str(), &st);
  RecordText(absl::StrCat("statfs ", path), r,
             r == 0 ? absl::StrCat("bsize=", st.f_bsize, " namemax=", st.f_namemax) : "");
  return r;
}

int Recorder::ListDir(absl::string_view path) {
  DIR* dir = ::opendir(Path(path).c_str());
  if (dir == nullptr) {
    Record(absl::StrCat("readdir ", path), -1);
    return -1;
  }
  std::vector<std::string> names;
  errno = 0;
  int result = 0;
  for (;;) {
    errno = 0;
    const dirent* d = ::readdir(dir);
    if (d == nullptr) {
      if (errno != 0) result = -1;
      break;
    }
    names.push_back(absl::StrCat(d->d_name, ":", DirentTypeName(d->d_type)));
  }
  const int error = errno;
  ::closedir(dir);
  errno = error;
  std::sort(names.begin(), names.end());
  RecordText(absl::StrCat("readdir ", path), result == 0 ? static_cast<long>(names.size()) : -1,
             absl::StrJoin(names, " "));
  return result;
}

int Recorder::Setxattr(absl::string_view path, absl::string_view name, absl::string_view value,
                       int flags) {
  const int r = ::setxattr(Path(path).c_str(), std::string(name).c_str(), value.data(),
                           value.size(), flags);
  Record(absl::StrCat("setxattr ", path, " ", name, " ", DataText(value), " ", flags), r);
  return r;
}

int Recorder::Lsetxattr(absl::string_view path, absl::string_view name, absl::string_view value,
                        int flags) {
  const int r = ::lsetxattr(Path(path).c_str(), std::string(name).c_str(), value.data(),
                            value.size(), flags);
  Record(absl::StrCat("lsetxattr ", path, " ", name, " ", DataText(value), " ", flags), r);
  return r;
}

int Recorder::Getxattr(absl::string_view path, absl::string_view name, size_t size) {
  std::vector<char> buffer(size);
  const ssize_t n = ::getxattr(Path(path).c_str(), std::string(name).c_str(),
                               size == 0 ? nullptr : buffer.data(), size);
  RecordText(absl::StrCat("getxattr ", path, " ", name, " ", size), n,
             n >= 0 && size > 0 ? DataText(absl::string_view(buffer.data(), static_cast<size_t>(n)))
                                : "");
  return static_cast<int>(n);
}

int Recorder::Lgetxattr(absl::string_view path, absl::string_view name, size_t size) {
  std::vector<char> buffer(size);
  const ssize_t n = ::lgetxattr(Path(path).c_str(), std::string(name).c_str(),
                                size == 0 ? nullptr : buffer.data(), size);
  RecordText(absl::StrCat("lgetxattr ", path, " ", name, " ", size), n,
             n >= 0 && size > 0 ? DataText(absl::string_view(buffer.data(), static_cast<size_t>(n)))
                                : "");
  return static_cast<int>(n);
}

int Recorder::Listxattr(absl::string_view path, size_t size) {
  std::vector<char> buffer(size);
  const ssize_t n = ::llistxattr(Path(path).c_str(), size == 0 ? nullptr : buffer.data(), size);
  const int error = errno;
  std::string detail;
  if (n >= 0 && size == 0) {
    // Only the user.* part is comparable; see the header.
    detail = "(size query)";
  } else if (n >= 0) {
    detail = absl::StrJoin(UserNames(buffer.data(), static_cast<size_t>(n)), ",");
  }
  errno = error;
  RecordText(absl::StrCat("listxattr ", path, " ", size), n < 0 ? -1 : 0, detail);
  return static_cast<int>(n);
}

int Recorder::Removexattr(absl::string_view path, absl::string_view name) {
  const int r = ::removexattr(Path(path).c_str(), std::string(name).c_str());
  Record(absl::StrCat("removexattr ", path, " ", name), r);
  return r;
}

int Recorder::Open(absl::string_view path, int flags, mode_t mode) {
  const int fd = ::open(Path(path).c_str(), flags | O_CLOEXEC, mode);
  std::string call = absl::StrCat("open ", path, " ", OpenFlagsText(flags));
  if (flags & O_CREAT) absl::StrAppend(&call, " ", Octal(mode));
  const int error = errno;
  std::string line = absl::StrCat(call, " -> ");
  if (fd < 0) {
    absl::StrAppend(&line, ErrnoName(error));
  } else {
    fd_names_[fd] = next_fd_name_++;
    absl::StrAppend(&line, FdName(fd));
  }
  transcript_.push_back(std::move(line));
  errno = error;
  return fd;
}

int Recorder::Close(int fd) {
  const std::string name = FdName(fd);
  const int r = ::close(fd);
  fd_names_.erase(fd);
  Record(absl::StrCat("close ", name), r);
  return r;
}

ssize_t Recorder::Write(int fd, absl::string_view data) {
  const ssize_t n = ::write(fd, data.data(), data.size());
  Record(absl::StrCat("write ", FdName(fd), " ", DataText(data)), n);
  return n;
}

ssize_t Recorder::Pwrite(int fd, absl::string_view data, off_t offset) {
  const ssize_t n = ::pwrite(fd, data.data(), data.size(), offset);
  Record(absl::StrCat("pwrite ", FdName(fd), " ", DataText(data), " @", offset), n);
  return n;
}

ssize_t Recorder::Read(int fd, size_t size) {
  std::string buffer(size, '\0');
  const ssize_t n = ::read(fd, buffer.data(), size);
  RecordText(absl::StrCat("read ", FdName(fd), " ", size), n,
             n >= 0 ? DataText(absl::string_view(buffer).substr(0, static_cast<size_t>(n))) : "");
  return n;
}

ssize_t Recorder::Pread(int fd, size_t size, off_t offset) {
  std::string buffer(size, '\0');
  const ssize_t n = ::pread(fd, buffer.data(), size, offset);
  RecordText(absl::StrCat("pread ", FdName(fd), " ", size, " @", offset), n,
             n >= 0 ? DataText(absl::string_view(buffer).substr(0, static_cast<size_t>(n))) : "");
  return n;
}

int Recorder::Ftruncate(int fd, off_t length) {
  const int r = ::ftruncate(fd, length);
  Record(absl::StrCat("ftruncate ", FdName(fd), " ", length), r);
  return r;
}

int Recorder::Fsync(int fd) {
  const int r = ::fsync(fd);
  Record(absl::StrCat("fsync ", FdName(fd)), r);
  return r;
}

int Recorder::Fdatasync(int fd) {
  const int r = ::fdatasync(fd);
  Record(absl::StrCat("fdatasync ", FdName(fd)), r);
  return r;
}

int Recorder::Fstat(int fd) {
  struct stat st;
  const int r = ::fstat(fd, &st);
  RecordText(absl::StrCat("fstat ", FdName(fd)), r, r == 0 ? StatText(st) : "");
  return r;
}

int Recorder::Fchmod(int fd, mode_t mode) {
  const int r = ::fchmod(fd, mode);
  Record(absl::StrCat("fchmod ", FdName(fd), " ", Octal(mode)), r);
  return r;
}

int Recorder::Fchown(int fd, uid_t uid, gid_t gid) {
  const int r = ::fchown(fd, uid, gid);
  Record(absl::StrCat("fchown ", FdName(fd), " ", static_cast<int>(uid), ":",
                      static_cast<int>(gid)),
         r);
  return r;
}

int Recorder::Futimens(int fd, timespec atime, timespec mtime) {
  const timespec times[2] = {atime, mtime};
  const int r = ::futimens(fd, times);
  Record(absl::StrCat("futimens ", FdName(fd), " ", TimeText(atime), " ", TimeText(mtime)), r);
  return r;
}

off_t Recorder::Lseek(int fd, off_t offset, int whence) {
  const off_t r = ::lseek(fd, offset, whence);
  const char* whence_name = whence == SEEK_SET    ? "SEEK_SET"
                            : whence == SEEK_CUR  ? "SEEK_CUR"
                            : whence == SEEK_END  ? "SEEK_END"
                            : whence == SEEK_DATA ? "SEEK_DATA"
                            : whence == SEEK_HOLE ? "SEEK_HOLE"
                                                  : "SEEK_?";
  Record(absl::StrCat("lseek ", FdName(fd), " ", offset, " ", whence_name), r);
  return r;
}

int Recorder::Fallocate(int fd, int mode, off_t offset, off_t length) {
  const int r = ::fallocate(fd, mode, offset, length);
  Record(absl::StrCat("fallocate ", FdName(fd), " ", absl::StrFormat("0x%x", mode), " ", offset,
                      " ", length),
         r);
  return r;
}

ssize_t Recorder::CopyFileRange(int fd_in, off_t off_in, int fd_out, off_t off_out,
                                size_t length) {
  loff_t in = off_in;
  loff_t out = off_out;
  const ssize_t n = ::copy_file_range(fd_in, off_in < 0 ? nullptr : &in, fd_out,
                                      off_out < 0 ? nullptr : &out, length, 0);
  Record(absl::StrCat("copy_file_range ", FdName(fd_in), " @", off_in, " ", FdName(fd_out), " @",
                      off_out, " ", length),
         n);
  return n;
}

int Recorder::Flock(int fd, int operation) {
  const int r = ::flock(fd, operation);
  std::string op = (operation & LOCK_SH)   ? "LOCK_SH"
                   : (operation & LOCK_EX) ? "LOCK_EX"
                                           : "LOCK_UN";
  if (operation & LOCK_NB) absl::StrAppend(&op, "|LOCK_NB");
  Record(absl::StrCat("flock ", FdName(fd), " ", op), r);
  return r;
}

int Recorder::RecordLock(int fd, int cmd, short type, off_t start, off_t length) {
  struct flock lock {};
  lock.l_type = type;
  lock.l_whence = SEEK_SET;
  lock.l_start = start;
  lock.l_len = length;
  const int r = ::fcntl(fd, cmd, &lock);
  std::string detail;
  if (r == 0 && (cmd == F_GETLK || cmd == F_OFD_GETLK)) {
    // The holder's pid is left out: it is a different process each run.
    detail = lock.l_type == F_UNLCK ? "F_UNLCK"
                                    : absl::StrCat(LockTypeName(lock.l_type), " ", lock.l_start,
                                                   "+", lock.l_len);
  }
  RecordText(absl::StrCat("fcntl ", FdName(fd), " ", LockCmdName(cmd), " ", LockTypeName(type),
                          " ", start, "+", length),
             r, detail);
  return r;
}

int Recorder::Fsetxattr(int fd, absl::string_view name, absl::string_view value, int flags) {
  const int r = ::fsetxattr(fd, std::string(name).c_str(), value.data(), value.size(), flags);
  Record(absl::StrCat("fsetxattr ", FdName(fd), " ", name, " ", DataText(value), " ", flags), r);
  return r;
}

int Recorder::Fgetxattr(int fd, absl::string_view name, size_t size) {
  std::vector<char> buffer(size);
  const ssize_t n =
      ::fgetxattr(fd, std::string(name).c_str(), size == 0 ? nullptr : buffer.data(), size);
  RecordText(absl::StrCat("fgetxattr ", FdName(fd), " ", name, " ", size), n,
             n >= 0 && size > 0 ? DataText(absl::string_view(buffer.data(), static_cast<size_t>(n)))
                                : "");
  return static_cast<int>(n);
}

void Recorder::AsUser(uid_t uid, gid_t gid, const std::function<void(Recorder&)>& steps) {
  RunForked(absl::StrCat("[", static_cast<int>(uid), ":", static_cast<int>(gid), "] "), steps,
            true, uid, gid);
}

void Recorder::InChild(const std::function<void(Recorder&)>& steps) {
  RunForked("[child] ", steps, false, 0, 0);
}

void Recorder::RunForked(const std::string& prefix, const std::function<void(Recorder&)>& steps,
                         bool switch_user, uid_t uid, gid_t gid) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    Note(absl::StrCat(prefix, "pipe failed: ", ErrnoName(errno)));
    return;
  }
  const pid_t pid = ::fork();
  if (pid < 0) {
    Note(absl::StrCat(prefix, "fork failed: ", ErrnoName(errno)));
    ::close(fds[0]);
    ::close(fds[1]);
    return;
  }
  if (pid == 0) {
    ::close(fds[0]);
    Recorder child(root_);
    child.owns_fds_ = false;
    if (switch_user) {
      // Another user must not act through root's open files.
      for (const auto& [fd, name] : fd_names_) ::close(fd);
      if (::setgroups(0, nullptr) != 0 || ::setgid(gid) != 0 || ::setuid(uid) != 0) {
        WriteAllTo(fds[1], absl::StrCat("cannot become ", uid, ":", gid, ": ", ErrnoName(errno)));
        ::_exit(1);
      }
    } else {
      child.fd_names_ = fd_names_;
      child.next_fd_name_ = next_fd_name_;
    }
    steps(child);
    for (const auto& [fd, name] : child.fd_names_) {
      if (fd_names_.count(fd) == 0) ::close(fd);
    }
    const bool ok = WriteAllTo(fds[1], absl::StrJoin(child.transcript_, "\n"));
    ::_exit(ok ? 0 : 1);
  }
  ::close(fds[1]);
  std::string output;
  const auto deadline = std::chrono::steady_clock::now() + kChildTimeout;
  bool timed_out = false;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd p{fds[0], POLLIN, 0};
    const int ready = ::poll(&p, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) continue;
    char buffer[4096];
    const ssize_t n = ::read(fds[0], buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    output.append(buffer, static_cast<size_t>(n));
  }
  ::close(fds[0]);
  if (timed_out) ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!output.empty()) {
    for (absl::string_view line : absl::StrSplit(output, '\n')) {
      transcript_.push_back(absl::StrCat(prefix, line));
    }
  }
  if (timed_out || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    Note(absl::StrCat(prefix, "child failed (status ", status, timed_out ? ", timed out" : "",
                      ")"));
  }
}

}  // namespace replfs::testing
