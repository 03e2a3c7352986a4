#include "storage/space_reserve.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>

#include "absl/strings/str_cat.h"
#include "storage/log.h"

namespace replfs {
namespace {
constexpr uint64_t kMinReserve = 256 << 10;
constexpr uint64_t kMinWriteBuffer = 64 << 10;
constexpr uint64_t kMaxWriteBuffer = 4 << 20;
constexpr uint64_t kGranule = 64 << 10;
// Free space that no writer can use up within kPlentyLasts.
constexpr uint64_t kPlenty = uint64_t{1} << 30;
constexpr std::chrono::milliseconds kPlentyLasts(10);
}  // namespace

SpaceReserve::SpaceReserve(const std::string& dir, uint64_t max_reserve)
    : path_(dir + "/replfs-space-reserve"),
      dir_fd_(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC)) {
  struct statvfs st;
  uint64_t size = 0;
  if (::statvfs(dir.c_str(), &st) == 0) size = uint64_t{st.f_blocks} * st.f_frsize;
  reserve_bytes_ = std::clamp<uint64_t>(size / 16, std::min(kMinReserve, max_reserve), max_reserve);
  write_buffer_bytes_ = std::clamp<uint64_t>(reserve_bytes_ / 16, kMinWriteBuffer, kMaxWriteBuffer);
  absl::MutexLock lock(&mu_);
  Regrow();
}

uint64_t SpaceReserve::AvailableBytes() const {
  struct statvfs st;
  if (::fstatvfs(dir_fd_.get(), &st) != 0) return UINT64_MAX;
  return uint64_t{st.f_bavail} * st.f_frsize;
}

void SpaceReserve::Regrow() {
  UniqueFd fd(::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!fd.valid()) return;
  // fallocate, not a sparse file: the blocks must really be held.
  if (::fallocate(fd.get(), 0, 0, static_cast<off_t>(reserve_bytes_)) == 0) held_ = reserve_bytes_;
}

absl::Status SpaceReserve::BeforeWrite(uint64_t bytes) {
  // The store must be able to append the batch and flush a write buffer.
  const uint64_t needed = bytes + write_buffer_bytes_;
  const auto now = std::chrono::steady_clock::now();
  {
    // With a gigabyte to spare a moment ago, nothing can have filled the
    // disk since: spare the commits of a burst one fstatvfs each.
    absl::MutexLock lock(&mu_);
    if (now - last_checked_ < kPlentyLasts && last_available_ >= needed + kPlenty) {
      return absl::OkStatus();
    }
  }
  uint64_t available = AvailableBytes();
  absl::MutexLock lock(&mu_);
  last_checked_ = now;
  last_available_ = available;
  if (available >= needed) {
    // Space came back (files deleted): hold the whole reserve again.
    if (held_ < reserve_bytes_ && available >= needed + 2 * reserve_bytes_) Regrow();
    return absl::OkStatus();
  }
  if (held_ > 0) {
    // Give the store only what it lacks (in small steps), so that user
    // writes on the full disk cannot take the rest of the reserve.
    const uint64_t lacking = ((needed - available + kGranule - 1) / kGranule) * kGranule;
    const uint64_t keep = held_ > lacking ? held_ - lacking : 0;
    if (::truncate(path_.c_str(), static_cast<off_t>(keep)) == 0) {
      if (held_ == reserve_bytes_) LogWarning("disk nearly full: the metadata store uses its space reserve");
      held_ = keep;
      available = AvailableBytes();
    }
  }
  if (available >= needed) return absl::OkStatus();
  return absl::ResourceExhaustedError(
      absl::StrCat("no space left for the metadata store (", available, " bytes free)"));
}

}  // namespace replfs
