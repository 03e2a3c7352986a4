#include "tests/tree_snapshot.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "base/unique_fd.h"
#include "storage/content_hasher.h"

namespace replfs::testing {
namespace {

// Content is hashed per aligned chunk of this size; all-zero chunks are
// skipped, which makes the hash independent of where the holes are.
constexpr off_t kChunk = off_t{64} * 1024;

absl::Status ErrnoError(const std::string& what) { return absl::ErrnoToStatus(errno, what); }

std::string TypeName(mode_t mode) {
  switch (mode & S_IFMT) {
    case S_IFREG: return "file";
    case S_IFDIR: return "dir";
    case S_IFLNK: return "symlink";
    case S_IFIFO: return "fifo";
    case S_IFSOCK: return "socket";
    default: return absl::StrFormat("type%o", mode & S_IFMT);
  }
}

bool AllZero(const std::string& data) {
  return std::all_of(data.begin(), data.end(), [](char c) { return c == '\0'; });
}

// Hash of the file's non-zero chunks and their offsets, skipping holes by
// SEEK_DATA where the filesystem has it.
absl::StatusOr<std::string> ContentHash(int fd, off_t size) {
  std::string chunks;  // "offset:sha256;" per non-zero chunk.
  std::string buffer(static_cast<size_t>(kChunk), '\0');
  off_t position = 0;
  bool seek_data = true;
  while (position < size) {
    if (seek_data) {
      const off_t data = ::lseek(fd, position, SEEK_DATA);
      if (data < 0 && errno == ENXIO) break;  // Only a hole is left.
      if (data < 0) {
        seek_data = false;  // Not supported: read everything.
      } else {
        position = data;
      }
    }
    const off_t chunk_start = position - position % kChunk;
    const ssize_t n = ::pread(fd, buffer.data(), buffer.size(), chunk_start);
    if (n < 0) return ErrnoError("pread");
    if (n == 0) break;
    const std::string data = buffer.substr(0, static_cast<size_t>(n));
    if (!AllZero(data)) absl::StrAppend(&chunks, chunk_start, ":", Sha256(data), ";");
    position = chunk_start + n;
  }
  return absl::BytesToHexString(Sha256(chunks)).substr(0, 16);
}

absl::StatusOr<std::string> UserXattrs(int dir_fd, const std::string& name) {
  // The l* calls need a path; the proc link of the directory fd names it
  // without resolving the object's own symlink.
  const std::string path = absl::StrCat("/proc/self/fd/", dir_fd, "/", name);
  std::vector<char> names(65536);
  const ssize_t n = ::llistxattr(path.c_str(), names.data(), names.size());
  if (n < 0) {
    if (errno == ENOTSUP) return std::string();
    return ErrnoError(absl::StrCat("llistxattr ", name));
  }
  std::vector<std::string> user;
  for (absl::string_view attr : absl::StrSplit(absl::string_view(names.data(), static_cast<size_t>(n)), '\0')) {
    if (absl::StartsWith(attr, "user.")) user.emplace_back(attr);
  }
  std::sort(user.begin(), user.end());
  std::vector<std::string> rendered;
  std::vector<char> value(65536);
  for (const std::string& attr : user) {
    const ssize_t v = ::lgetxattr(path.c_str(), attr.c_str(), value.data(), value.size());
    if (v < 0) return ErrnoError(absl::StrCat("lgetxattr ", name, " ", attr));
    rendered.push_back(
        absl::StrCat(attr, "='", absl::CEscape(absl::string_view(value.data(), static_cast<size_t>(v))), "'"));
  }
  return absl::StrJoin(rendered, ",");
}

absl::Status Walk(int dir_fd, const std::string& prefix, const std::string& hidden,
                  std::vector<std::string>* out);

absl::Status Describe(int dir_fd, const std::string& name, const std::string& path,
                      std::vector<std::string>* out) {
  struct stat st;
  if (::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    return ErrnoError(absl::StrCat("lstat ", path));
  }
  std::string line = absl::StrCat(path, " ", TypeName(st.st_mode), " ",
                                  absl::StrFormat("%04o", st.st_mode & 07777), " ", st.st_uid,
                                  ":", st.st_gid);
  if (S_ISREG(st.st_mode)) {
    UniqueFd fd(::openat(dir_fd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd.valid()) return ErrnoError(absl::StrCat("open ", path));
    absl::StatusOr<std::string> hash = ContentHash(fd.get(), st.st_size);
    if (!hash.ok()) return hash.status();
    absl::StrAppend(&line, " nlink=", st.st_nlink, " size=", st.st_size, " content=", *hash);
  } else if (S_ISLNK(st.st_mode)) {
    std::vector<char> target(PATH_MAX + 1);
    const ssize_t n = ::readlinkat(dir_fd, name.c_str(), target.data(), target.size());
    if (n < 0) return ErrnoError(absl::StrCat("readlink ", path));
    absl::StrAppend(&line, " -> '",
                    absl::CEscape(absl::string_view(target.data(), static_cast<size_t>(n))), "'");
  } else if (S_ISDIR(st.st_mode)) {
    absl::StrAppend(&line, " nlink=", st.st_nlink, " size=", st.st_size);
  } else {
    absl::StrAppend(&line, " nlink=", st.st_nlink);
  }
  absl::StatusOr<std::string> xattrs = UserXattrs(dir_fd, name);
  if (!xattrs.ok()) return xattrs.status();
  if (!xattrs->empty()) absl::StrAppend(&line, " xattrs{", *xattrs, "}");
  out->push_back(std::move(line));
  if (S_ISDIR(st.st_mode)) {
    UniqueFd child(::openat(dir_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!child.valid()) return ErrnoError(absl::StrCat("open ", path));
    return Walk(child.get(), path, "", out);
  }
  return absl::OkStatus();
}

absl::Status Walk(int dir_fd, const std::string& prefix, const std::string& hidden,
                  std::vector<std::string>* out) {
  UniqueFd listing_fd(::openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!listing_fd.valid()) return ErrnoError(absl::StrCat("open ", prefix));
  DIR* dir = ::fdopendir(listing_fd.get());
  if (dir == nullptr) return ErrnoError(absl::StrCat("fdopendir ", prefix));
  listing_fd.Release();
  std::vector<std::string> names;
  for (;;) {
    errno = 0;
    const dirent* d = ::readdir(dir);
    if (d == nullptr) break;
    const std::string name = d->d_name;
    if (name == "." || name == ".." || (!hidden.empty() && name == hidden)) continue;
    names.push_back(name);
  }
  const int error = errno;
  ::closedir(dir);
  if (error != 0) return absl::ErrnoToStatus(error, absl::StrCat("readdir ", prefix));
  std::sort(names.begin(), names.end());
  for (const std::string& name : names) {
    if (absl::Status s = Describe(dir_fd, name, absl::StrCat(prefix, "/", name), out); !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<std::string>> SnapshotTree(const std::string& root,
                                                      const std::string& hidden_root_entry) {
  UniqueFd root_fd(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root_fd.valid()) return ErrnoError(absl::StrCat("open ", root));
  std::vector<std::string> out;
  struct stat st;
  if (::fstat(root_fd.get(), &st) != 0) return ErrnoError(absl::StrCat("stat ", root));
  out.push_back(absl::StrCat(". ", TypeName(st.st_mode), " ",
                             absl::StrFormat("%04o", st.st_mode & 07777), " ", st.st_uid, ":",
                             st.st_gid));
  if (absl::Status s = Walk(root_fd.get(), ".", hidden_root_entry, &out); !s.ok()) return s;
  return out;
}

}  // namespace replfs::testing
