#include "tests/small_filesystem.h"

#include <fcntl.h>
#include <linux/loop.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/unique_fd.h"
#include "tests/support/child_process.h"

namespace replfs::testing {
namespace {

// Runs a command to completion, its output discarded; its exit status.
int RunQuietly(const std::vector<std::string>& argv) {
  ChildOptions quiet;
  quiet.stdout_path = "/dev/null";
  quiet.stderr_path = "/dev/null";
  return RunChild(argv, quiet, absl::Minutes(5));
}

// Attaches `image` to a free loop device that releases itself once nothing
// uses it any more (the mount, then this fd); returns its path.
absl::StatusOr<std::string> AttachLoopDevice(const std::string& image, UniqueFd* device_fd) {
  UniqueFd control(::open("/dev/loop-control", O_RDWR | O_CLOEXEC));
  if (!control.valid()) return absl::ErrnoToStatus(errno, "open /dev/loop-control");
  UniqueFd backing(::open(image.c_str(), O_RDWR | O_CLOEXEC));
  if (!backing.valid()) return absl::ErrnoToStatus(errno, absl::StrCat("open ", image));
  // Another process may take the free device first: try again, bounded.
  for (int attempt = 0; attempt < 20; ++attempt) {
    const int number = ::ioctl(control.get(), LOOP_CTL_GET_FREE);
    if (number < 0) return absl::ErrnoToStatus(errno, "LOOP_CTL_GET_FREE");
    const std::string path = absl::StrCat("/dev/loop", number);
    UniqueFd device(::open(path.c_str(), O_RDWR | O_CLOEXEC));
    if (!device.valid()) return absl::ErrnoToStatus(errno, absl::StrCat("open ", path));
    struct loop_config config = {};
    config.fd = static_cast<__u32>(backing.get());
    config.info.lo_flags = LO_FLAGS_AUTOCLEAR;
    if (::ioctl(device.get(), LOOP_CONFIGURE, &config) == 0) {
      *device_fd = std::move(device);
      return path;
    }
    if (errno != EBUSY) return absl::ErrnoToStatus(errno, absl::StrCat("LOOP_CONFIGURE ", path));
  }
  return absl::UnavailableError("no free loop device");
}

}  // namespace

absl::StatusOr<std::unique_ptr<SmallFilesystem>> SmallFilesystem::Tmpfs(
    const std::string& dir, const std::string& options) {
  if (::mount("tmpfs", dir.c_str(), "tmpfs", 0, options.c_str()) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("mount tmpfs -o ", options, " at ", dir));
  }
  return std::unique_ptr<SmallFilesystem>(new SmallFilesystem(dir, ""));
}

absl::StatusOr<std::unique_ptr<SmallFilesystem>> SmallFilesystem::Ext4Image(
    const std::string& image, const std::string& dir, uint64_t bytes, int block_size) {
  {
    UniqueFd file(::open(image.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (!file.valid()) return absl::ErrnoToStatus(errno, absl::StrCat("create ", image));
    if (::ftruncate(file.get(), static_cast<off_t>(bytes)) != 0) {
      ::unlink(image.c_str());
      return absl::ErrnoToStatus(errno, absl::StrCat("size ", image));
    }
  }
  // Owns the image from here: the destructor removes it on every path.
  std::unique_ptr<SmallFilesystem> fs(new SmallFilesystem(dir, image));
  if (RunQuietly({"mkfs.ext4", "-q", "-F", "-b", absl::StrCat(block_size), image}) != 0) {
    fs->dir_.clear();  // Nothing mounted.
    return absl::InternalError(absl::StrCat("mkfs.ext4 ", image, " failed"));
  }
  UniqueFd device;
  absl::StatusOr<std::string> device_path = AttachLoopDevice(image, &device);
  if (!device_path.ok()) {
    fs->dir_.clear();
    return device_path.status();
  }
  if (::mount(device_path->c_str(), dir.c_str(), "ext4", 0, "") != 0) {
    const int mount_errno = errno;
    fs->dir_.clear();
    return absl::ErrnoToStatus(mount_errno, absl::StrCat("mount ", *device_path, " at ", dir));
  }
  return fs;  // `device` closes: the mount alone holds the loop device now.
}

SmallFilesystem::~SmallFilesystem() {
  if (!dir_.empty()) {
    bool unmounted = false;
    for (int attempt = 0; attempt < 50 && !unmounted; ++attempt) {
      unmounted = ::umount2(dir_.c_str(), 0) == 0 || errno == EINVAL;  // EINVAL: not mounted.
      if (!unmounted) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    // Still busy: detach it; the loop device goes with its last user.
    if (!unmounted) ::umount2(dir_.c_str(), MNT_DETACH);
  }
  if (!image_.empty()) ::unlink(image_.c_str());
}

absl::Status SmallFilesystem::Remount(const std::string& options) {
  if (::mount(nullptr, dir_.c_str(), nullptr, MS_REMOUNT, options.c_str()) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("remount ", dir_, " -o ", options));
  }
  return absl::OkStatus();
}

}  // namespace replfs::testing
