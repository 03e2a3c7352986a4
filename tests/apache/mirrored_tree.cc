#include "tests/apache/mirrored_tree.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "base/unique_fd.h"

namespace replfs::testing::apache {

MirroredTree::MirroredTree(std::string replica_root, std::string native_root)
    : roots_{std::move(replica_root), std::move(native_root)} {}

template <typename Op>
absl::Status MirroredTree::ForEach(const std::string& rel, Op op) {
  for (const std::string& root : roots_) {
    if (absl::Status s = op(absl::StrCat(root, "/", rel)); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status MirroredTree::Write(const std::string& rel, const std::string& content) {
  return ForEach(rel, [&](const std::string& path) {
    return WriteAt(path, content, O_WRONLY | O_CREAT | O_TRUNC);
  });
}

absl::Status MirroredTree::Overwrite(const std::string& rel, const std::string& content) {
  return ForEach(rel, [&](const std::string& path) { return WriteAt(path, content, O_WRONLY); });
}

absl::Status MirroredTree::Mkdir(const std::string& rel) {
  return ForEach(rel, [](const std::string& path) {
    return ::mkdir(path.c_str(), 0755) == 0 ? absl::OkStatus()
                                            : absl::ErrnoToStatus(errno, "mkdir " + path);
  });
}

absl::Status MirroredTree::Rename(const std::string& from, const std::string& to) {
  for (const std::string& root : roots_) {
    const std::string a = absl::StrCat(root, "/", from), b = absl::StrCat(root, "/", to);
    if (::rename(a.c_str(), b.c_str()) != 0) return absl::ErrnoToStatus(errno, "rename " + a);
  }
  return absl::OkStatus();
}

absl::Status MirroredTree::Unlink(const std::string& rel) {
  return ForEach(rel, [](const std::string& path) {
    return ::unlink(path.c_str()) == 0 ? absl::OkStatus()
                                       : absl::ErrnoToStatus(errno, "unlink " + path);
  });
}

absl::Status MirroredTree::Rmdir(const std::string& rel) {
  return ForEach(rel, [](const std::string& path) {
    return ::rmdir(path.c_str()) == 0 ? absl::OkStatus()
                                      : absl::ErrnoToStatus(errno, "rmdir " + path);
  });
}

absl::Status MirroredTree::Chmod(const std::string& rel, mode_t mode) {
  return ForEach(rel, [mode](const std::string& path) {
    return ::chmod(path.c_str(), mode) == 0 ? absl::OkStatus()
                                            : absl::ErrnoToStatus(errno, "chmod " + path);
  });
}

absl::Status MirroredTree::WriteAt(const std::string& path, const std::string& content, int flags) {
  UniqueFd fd(::open(path.c_str(), flags | O_CLOEXEC, 0644));
  if (!fd.valid()) return absl::ErrnoToStatus(errno, "open " + path);
  size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = ::write(fd.get(), content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return absl::ErrnoToStatus(errno, "write " + path);
    done += static_cast<size_t>(n);
  }
  if (::close(fd.Release()) != 0) return absl::ErrnoToStatus(errno, "close " + path);
  return absl::OkStatus();
}

}  // namespace replfs::testing::apache
