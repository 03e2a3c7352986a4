#include "tests/chaos/chaos_writer.h"

#include <fcntl.h>
#include <sys/statfs.h>
#include <sys/types.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "base/unique_fd.h"
#include "tests/chaos/chaos_common.h"

namespace replfs::testing::chaos {
namespace {

constexpr long kFuseSuperMagic = 0x65735546;

// Reads the whole file through `fd`, from offset 0 to its end. Returns 0 or
// the errno that stopped it.
int ReadToEnd(int fd, std::string* out) {
  out->clear();
  char buffer[65536];
  for (;;) {
    const ssize_t n = ::pread(fd, buffer, sizeof(buffer), static_cast<off_t>(out->size()));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno;
    if (n == 0) return 0;
    out->append(buffer, static_cast<size_t>(n));
  }
}

// Writes all of `data` at the file offset. Returns 0 or the errno (EIO when
// a write wrote nothing).
int WriteAll(int fd, absl::string_view data) {
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return n < 0 ? errno : EIO;
    done += static_cast<size_t>(n);
  }
  return 0;
}

}  // namespace

const char* KindName(OpKind kind) {
  switch (kind) {
    case OpKind::kWrite: return "write";
    case OpKind::kAppend: return "append";
    case OpKind::kRename: return "rename";
    case OpKind::kDelete: return "delete";
  }
  return "?";
}

bool MountGone(int error) { return error == ENOTCONN || error == ECONNABORTED || error == ENODEV; }

void Writer::Run() {
  while (!*stop_) {
    if (!EnsureRoot()) break;
    RunOne();
    std::this_thread::sleep_for(std::chrono::milliseconds(Uniform(1, 12)));
  }
  root_.Reset();
}

bool Writer::EnsureRoot() {
  while (!*stop_) {
    if (root_.valid()) return true;
    UniqueFd fd(::open(mountpoint_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    struct statfs fs;
    if (fd.valid() && ::fstatfs(fd.get(), &fs) == 0 && fs.f_type == kFuseSuperMagic) {
      root_ = std::move(fd);
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

std::string Writer::PickPath() {
  if (Uniform(0, 3) == 0) return absl::StrCat("shared/f", Uniform(0, 3));
  return absl::StrCat("w", id_, "/f", Uniform(0, 11));
}

std::string Writer::MakeContent(uint64_t number, const std::string& path) {
  const int roll = Uniform(0, 99);
  const size_t size = roll < 80   ? static_cast<size_t>(Uniform(20, 3000))
                      : roll < 95 ? static_cast<size_t>(Uniform(5000, 200000))
                                  : static_cast<size_t>(Uniform(1100000, 2600000));
  std::string content =
      absl::StrCat("replfs-chaos writer ", id_, " op ", number, " path ", path, "\n");
  content.reserve(size + content.size());
  std::uniform_int_distribution<int> byte('a', 'z');
  while (content.size() < size) content.push_back(static_cast<char>(byte(random_)));
  return content;
}

void Writer::Finish(Op& op, bool ok, int error) {
  op.end = SteadyClock::now();
  op.error = ok ? 0 : error;
  op.outcome = ok ? Outcome::kDone : error == ENOENT ? Outcome::kFailed : Outcome::kUnknown;
  if (!ok && MountGone(error)) root_.Reset();
  ops_.push_back(op);
  busy_since_ms_ = -1;
}

void Writer::RunOne() {
  Op op;
  op.writer = id_;
  op.number = ++counter_;
  op.path = PickPath();
  const int roll = Uniform(0, 99);
  op.kind = roll < 45 ? OpKind::kWrite : roll < 70 ? OpKind::kAppend
            : roll < 85 ? OpKind::kRename : OpKind::kDelete;
  if (op.kind == OpKind::kRename) {
    op.to = PickPath();
    if (op.to == op.path) op.to = absl::StrCat("w", id_, "/renamed", Uniform(0, 1));
  }
  op.start = SteadyClock::now();
  busy_since_ms_ =
      std::chrono::duration_cast<std::chrono::milliseconds>(op.start - epoch_).count();
  switch (op.kind) {
    case OpKind::kWrite: return Write(op);
    case OpKind::kAppend: return Append(op);
    case OpKind::kRename: {
      const UniqueFd from = Pin(op.path, &op.seen);
      const UniqueFd to = Pin(op.to, &op.seen_to);
      const bool ok = ::renameat(root_.get(), op.path.c_str(), root_.get(), op.to.c_str()) == 0;
      return Finish(op, ok, errno);
    }
    case OpKind::kDelete: {
      const UniqueFd pinned = Pin(op.path, &op.seen);
      const bool ok = ::unlinkat(root_.get(), op.path.c_str(), 0) == 0;
      return Finish(op, ok, errno);
    }
  }
}

UniqueFd Writer::Pin(const std::string& path, std::string* seen) {
  UniqueFd fd(::openat(root_.get(), path.c_str(), O_RDWR | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) {
    *seen = errno == ENOENT ? "absent" : "";
    return fd;
  }
  std::string content;
  *seen = ReadToEnd(fd.get(), &content) == 0 ? ContentHash(content) : "";
  return fd;
}

void Writer::Write(Op& op) {
  const std::string content = MakeContent(op.number, op.path);
  UniqueFd fd = Pin(op.path, &op.seen);
  if (!fd.valid() && op.seen == "absent") {
    fd.Reset(::openat(root_.get(), op.path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
    // Created meanwhile (a remote version arrived): pin that one.
    if (!fd.valid() && errno == EEXIST) fd = Pin(op.path, &op.seen);
  }
  if (!fd.valid()) return Finish(op, false, errno);
  if (::ftruncate(fd.get(), 0) != 0) return Finish(op, false, errno);
  int error = WriteAll(fd.get(), content);
  // close's result is the one that counts: it reports what the flush of
  // the cached pages met.
  const bool closed = ::close(fd.Release()) == 0;
  if (!closed && error == 0) error = errno;
  op.hash = ContentHash(content);
  if (error != 0) op.hash.clear();
  Finish(op, error == 0 && closed, error);
}

void Writer::Append(Op& op) {
  const std::string tag = absl::StrCat("append writer ", id_, " op ", op.number, "\n");
  UniqueFd fd(::openat(root_.get(), op.path.c_str(), O_RDWR | O_APPEND | O_CLOEXEC));
  if (!fd.valid()) {
    op.seen = errno == ENOENT ? "absent" : "";
    return Finish(op, false, errno);
  }
  std::string content;
  int error = WriteAll(fd.get(), tag);
  if (error == 0) error = ReadToEnd(fd.get(), &content);
  const bool closed = ::close(fd.Release()) == 0;
  if (!closed && error == 0) error = errno;
  if (error == 0 && closed && !content.ends_with(tag)) {
    anomalies_.push_back(absl::StrCat("writer ", id_, " op ", op.number, ": append to ", op.path,
                                      " read back ", content.size(),
                                      " bytes that do not end with the appended line"));
  }
  op.hash = error == 0 ? ContentHash(content) : "";
  // What the append extended, read through the same handle.
  if (error == 0 && content.ends_with(tag)) {
    op.seen = ContentHash(absl::string_view(content).substr(0, content.size() - tag.size()));
  }
  Finish(op, error == 0 && closed, error);
}

}  // namespace replfs::testing::chaos
