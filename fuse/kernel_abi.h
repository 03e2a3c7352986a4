#ifndef REPLFS_FUSE_KERNEL_ABI_H_
#define REPLFS_FUSE_KERNEL_ABI_H_

// The parts of the kernel's FUSE protocol (include/uapi/linux/fuse.h of
// Linux 6.9+) that neither libfuse 3.14 nor Debian 12's kernel headers
// (6.1) know: kernel passthrough of file I/O to a backing file. Only
// fuse/kernel_channel.cc reads or patches these; everything else asks it.
#include <linux/fuse.h>
#include <sys/ioctl.h>

#include <cstddef>
#include <cstdint>

namespace replfs::kernel_abi {

// INIT flag (bit 5 of flags2): the kernel may pass file I/O through to a
// backing file the daemon registered.
inline constexpr uint64_t kInitPassthrough = 1ULL << 37;
// INIT flag: the daemon kills suid/sgid and security.capability itself on
// write, truncate and chown; the kernel then marks inodes S_NOSEC and stops
// asking GETXATTR security.capability before every write.
inline constexpr uint64_t kInitHandleKillprivV2 = 1ULL << 28;
// fuse_open_out.open_flags: this open's I/O goes to its backing file.
inline constexpr uint32_t kOpenPassthrough = 1u << 7;
// The open flags the kernel accepts beside kOpenPassthrough (any other,
// FOPEN_KEEP_CACHE included, fails the open with EIO).
inline constexpr uint32_t kOpenPassthroughAllowed =
    kOpenPassthrough | FOPEN_DIRECT_IO | FOPEN_PARALLEL_DIRECT_WRITES | FOPEN_NOFLUSH;
// Backing files below the FUSE mount may not themselves be stacked (an
// overlayfs backing directory would need 2).
inline constexpr uint32_t kMaxStackDepth = 1;

// fuse_init_out as Linux 6.9+ lays it out: libfuse 3.14 calls the word at
// offset 36 unused[0].
struct InitOut {
  uint32_t major;
  uint32_t minor;
  uint32_t max_readahead;
  uint32_t flags;
  uint16_t max_background;
  uint16_t congestion_threshold;
  uint32_t max_write;
  uint32_t time_gran;
  uint16_t max_pages;
  uint16_t map_alignment;
  uint32_t flags2;
  uint32_t max_stack_depth;
  uint16_t request_timeout;
  uint16_t unused[11];
};
static_assert(sizeof(InitOut) == 64 && sizeof(InitOut) == sizeof(fuse_init_out));
static_assert(offsetof(InitOut, flags) == offsetof(fuse_init_out, flags));
static_assert(offsetof(InitOut, flags2) == offsetof(fuse_init_out, flags2));
static_assert(offsetof(InitOut, max_stack_depth) == 36);

// fuse_open_out with the backing id where libfuse 3.14 has padding.
struct OpenOut {
  uint64_t fh;
  uint32_t open_flags;
  int32_t backing_id;
};
static_assert(sizeof(OpenOut) == 16 && sizeof(OpenOut) == sizeof(fuse_open_out));
static_assert(offsetof(OpenOut, open_flags) == offsetof(fuse_open_out, open_flags));

// A CREATE reply is the new entry followed by the open.
inline constexpr size_t kCreateOpenOffset = sizeof(fuse_entry_out);
static_assert(sizeof(fuse_entry_out) == 128);

// ioctl(session fd, kBackingOpen, &BackingMap) registers `fd` (a regular
// file, O_PATH allowed) and returns its backing id (> 0); kBackingClose
// drops an id. Both need CAP_SYS_ADMIN in the initial user namespace.
struct BackingMap {
  int32_t fd;
  uint32_t flags;
  uint64_t padding;
};
static_assert(sizeof(BackingMap) == 16);
inline constexpr unsigned long kBackingOpen = _IOW(229, 1, BackingMap);  // NOLINT(google-runtime-int)
inline constexpr unsigned long kBackingClose = _IOW(229, 2, uint32_t);   // NOLINT(google-runtime-int)
static_assert(kBackingOpen == 0x4010E501 && kBackingClose == 0x4004E502);

}  // namespace replfs::kernel_abi

#endif  // REPLFS_FUSE_KERNEL_ABI_H_
