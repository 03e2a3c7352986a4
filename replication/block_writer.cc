#include "replication/block_writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "storage/content_hasher.h"
#include "storage/errno_status.h"

namespace replfs {
namespace {

// O_DIRECT needs the buffer, offset and length aligned to the device's
// logical block size: 4 KiB covers every device in use.
constexpr size_t kDirectAlignment = 4096;

}  // namespace

absl::Status WriteAllAt(int fd, const std::string& data, uint64_t offset) {
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::pwrite(fd, data.data() + done, data.size() - done,
                               static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, "write");
    }
    done += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

BlockWriter::BlockWriter(int fd, bool direct) : fd_(fd), direct_(direct) {}

absl::Status BlockWriter::Write(const std::string& data, uint64_t offset) {
  absl::Status status;
  if (direct_ && data.size() == kBlockSize && offset % kDirectAlignment == 0 &&
      TryDirect(data, offset, &status)) {
    return status;
  }
  return WriteAllAt(fd_, data, offset);
}

bool BlockWriter::TryDirect(const std::string& data, uint64_t offset, absl::Status* status) {
  if (aligned_ == nullptr) {
    void* buffer = nullptr;
    if (::posix_memalign(&buffer, kDirectAlignment, kBlockSize) != 0) {
      direct_ = false;
      return false;
    }
    aligned_.reset(static_cast<char*>(buffer));
  }
  const int flags = ::fcntl(fd_, F_GETFL);
  if (flags < 0 || ::fcntl(fd_, F_SETFL, flags | O_DIRECT) != 0) {
    direct_ = false;  // This file system has no direct I/O.
    return false;
  }
  std::memcpy(aligned_.get(), data.data(), kBlockSize);
  ssize_t n;
  do {
    n = ::pwrite(fd_, aligned_.get(), kBlockSize, static_cast<off_t>(offset));
  } while (n < 0 && errno == EINTR);
  const int write_errno = errno;
  if (::fcntl(fd_, F_SETFL, flags) != 0) {
    *status = ErrnoStatus(errno, "restore the temp file's flags");
    return true;
  }
  if (n < 0 && write_errno == EINVAL) {
    direct_ = false;  // Alignment this device does not accept.
    return false;
  }
  if (n < 0) {
    *status = ErrnoStatus(write_errno, "write");
  } else if (static_cast<size_t>(n) != kBlockSize) {
    // A short direct write (a full disk) is finished the usual way.
    *status = WriteAllAt(fd_, data.substr(static_cast<size_t>(n)), offset + static_cast<uint64_t>(n));
  }
  return true;
}

}  // namespace replfs
