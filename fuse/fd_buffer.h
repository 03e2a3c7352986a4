#ifndef REPLFS_FUSE_FD_BUFFER_H_
#define REPLFS_FUSE_FD_BUFFER_H_

#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>
#include <sys/types.h>

#include <cstddef>

namespace replfs {

// One buffer of `size` bytes at `pos` in the file `fd`, for libfuse to
// splice to or from: FUSE_BUFVEC_INIT without its compound literal, which
// is C99, not C++ (clang rejects it under -Wpedantic).
inline fuse_bufvec FdBuffer(int fd, size_t size, off_t pos) {
  fuse_bufvec vec{};
  vec.count = 1;
  vec.buf[0].size = size;
  vec.buf[0].flags = static_cast<fuse_buf_flags>(FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK);
  vec.buf[0].fd = fd;
  vec.buf[0].pos = pos;
  return vec;
}

}  // namespace replfs

#endif  // REPLFS_FUSE_FD_BUFFER_H_
