#include "fuse/kernel_features.h"

#include <linux/capability.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cstdio>

#include "absl/strings/str_cat.h"

namespace replfs {
namespace {

// Super block magic numbers (linux/magic.h).
constexpr long kExt4Magic = 0xEF53;       // NOLINT(google-runtime-int)
constexpr long kXfsMagic = 0x58465342;    // NOLINT(google-runtime-int)
constexpr long kBtrfsMagic = 0x9123683E;  // NOLINT(google-runtime-int)
constexpr long kTmpfsMagic = 0x01021994;  // NOLINT(google-runtime-int)
constexpr long kOverlayMagic = 0x794C7630;  // NOLINT(google-runtime-int)
constexpr long kEcryptfsMagic = 0xF15F;     // NOLINT(google-runtime-int)
constexpr long kFuseMagic = 0x65735546;     // NOLINT(google-runtime-int)

// The running kernel's (major, minor) as one comparable number.
int KernelVersion() {
  struct utsname name;
  int major = 0, minor = 0;
  if (::uname(&name) != 0 || std::sscanf(name.release, "%d.%d", &major, &minor) != 2) return 0;
  return major * 1000 + minor;
}

bool HasCapSysAdmin() {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  if (::syscall(SYS_capget, &header, data) != 0) return false;
  return (data[CAP_TO_INDEX(CAP_SYS_ADMIN)].effective & CAP_TO_MASK(CAP_SYS_ADMIN)) != 0;
}

long FileSystemType(int fd) {  // NOLINT(google-runtime-int)
  struct statfs st;
  return ::fstatfs(fd, &st) == 0 ? static_cast<long>(st.f_type) : 0;  // NOLINT(google-runtime-int)
}

}  // namespace

std::string PassthroughBlocker(int backing_fd) {
  const int version = KernelVersion();
  if (version < 6009) {
    return absl::StrCat("kernel ", version / 1000, ".", version % 1000,
                        " has no FUSE passthrough (Linux 6.9+)");
  }
  if (!HasCapSysAdmin()) return "registering backing files needs CAP_SYS_ADMIN (run as root)";
  const long type = FileSystemType(backing_fd);  // NOLINT(google-runtime-int)
  if (type == kOverlayMagic || type == kEcryptfsMagic || type == kFuseMagic) {
    return "the backing directory is on a stacked file system";
  }
  return "";
}

bool HasFineGrainedCtime(int backing_fd) {
  if (KernelVersion() < 6013) return false;
  const long type = FileSystemType(backing_fd);  // NOLINT(google-runtime-int)
  return type == kExt4Magic || type == kXfsMagic || type == kBtrfsMagic || type == kTmpfsMagic;
}

}  // namespace replfs
