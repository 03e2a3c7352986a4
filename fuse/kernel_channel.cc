#include "fuse/kernel_channel.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "fuse/kernel_abi.h"
#include "storage/log.h"

namespace replfs {
namespace {

std::atomic<KernelChannel*> g_channel{nullptr};

// The request this thread read last (libfuse handles it on this thread).
struct RequestOnThread {
  uint64_t unique = 0;
  uint32_t opcode = 0;
  uint32_t open_flags = 0;   // fuse_open_in / fuse_create_in open_flags.
  uint32_t write_flags = 0;  // fuse_write_in write_flags.
  // When it was read, if requests are timed; reset once its reply is sent.
  std::chrono::steady_clock::time_point read_at{};
};
thread_local RequestOnThread t_request;

// What the handler on this thread asked of its OPEN or CREATE reply.
struct OpenReplyPatch {
  uint64_t unique = 0;  // 0: nothing asked.
  int32_t backing_id = 0;
};
thread_local OpenReplyPatch t_patch;

bool IsOpenOpcode(uint32_t opcode) { return opcode == FUSE_OPEN || opcode == FUSE_CREATE; }

}  // namespace

absl::StatusOr<std::unique_ptr<KernelChannel>> KernelChannel::Install(fuse_session* session,
                                                                      Options options) {
  std::unique_ptr<KernelChannel> channel(new KernelChannel(session, options));
  KernelChannel* expected = nullptr;
  if (!g_channel.compare_exchange_strong(expected, channel.get())) {
    return absl::FailedPreconditionError("a kernel channel is already installed");
  }
  fuse_custom_io io{};
  io.read = &KernelChannel::Read;
  io.writev = &KernelChannel::Writev;
  // Replies to READ may still be spliced. Requests may not: a spliced
  // request would never pass through Read, where OPEN and CREATE are seen.
  io.splice_send = &KernelChannel::SpliceSend;
  if (fuse_session_custom_io(session, &io, fuse_session_fd(session)) != 0) {
    g_channel.store(nullptr);
    return absl::InternalError("fuse_session_custom_io refused the kernel channel");
  }
  return channel;
}

KernelChannel::~KernelChannel() {
  KernelChannel* self = this;
  g_channel.compare_exchange_strong(self, nullptr);
}

bool KernelChannel::KernelOffersPassthrough() const {
  return (kernel_flags_.load(std::memory_order_acquire) & kernel_abi::kInitPassthrough) != 0;
}

bool KernelChannel::KernelOffersKillprivV2() const {
  return (kernel_flags_.load(std::memory_order_acquire) & kernel_abi::kInitHandleKillprivV2) != 0;
}

absl::StatusOr<int> KernelChannel::OpenBacking(int fd) {
  if (!passthrough()) return absl::FailedPreconditionError("passthrough is not in use");
  kernel_abi::BackingMap map{fd, 0, 0};
  const int id = ::ioctl(fuse_session_fd(session_), kernel_abi::kBackingOpen, &map);
  if (id > 0) return id;
  const int error = id < 0 ? errno : EINVAL;
  if (error == EPERM || error == ENOTTY || error == EOPNOTSUPP) {
    if (passthrough_.exchange(false)) {
      LogError(absl::StrCat("kernel refused a passthrough backing file (", std::strerror(error),
                            "): file data goes through the daemon from now on"));
    }
  }
  return absl::ErrnoToStatus(error, "register backing file");
}

void KernelChannel::CloseBacking(int backing_id) {
  const uint32_t id = static_cast<uint32_t>(backing_id);
  if (::ioctl(fuse_session_fd(session_), kernel_abi::kBackingClose, &id) != 0) {
    LogWarning(absl::StrCat("closing backing id ", backing_id, ": ", std::strerror(errno)));
  }
}

void KernelChannel::ReplyWithBacking(int backing_id) {
  if (!IsOpenOpcode(t_request.opcode)) return;
  t_patch = OpenReplyPatch{t_request.unique, backing_id};
}

bool KernelChannel::RequestKillsSetid() {
  if (IsOpenOpcode(t_request.opcode)) return (t_request.open_flags & FUSE_OPEN_KILL_SUIDGID) != 0;
  if (t_request.opcode == FUSE_WRITE) return (t_request.write_flags & FUSE_WRITE_KILL_SUIDGID) != 0;
  return false;
}

void KernelChannel::NoteRequest(const void* buf, size_t len) {
  t_patch = OpenReplyPatch{};
  t_request = RequestOnThread{};
  if (len < sizeof(fuse_in_header)) return;
  fuse_in_header header;
  std::memcpy(&header, buf, sizeof(header));
  t_request.unique = header.unique;
  t_request.opcode = header.opcode;
  const char* body = static_cast<const char*>(buf) + sizeof(header);
  const size_t body_len = len - sizeof(header);
  if (header.opcode == FUSE_OPEN && body_len >= sizeof(fuse_open_in)) {
    fuse_open_in in;
    std::memcpy(&in, body, sizeof(in));
    t_request.open_flags = in.open_flags;
  } else if (header.opcode == FUSE_CREATE && body_len >= sizeof(fuse_create_in)) {
    fuse_create_in in;
    std::memcpy(&in, body, sizeof(in));
    t_request.open_flags = in.open_flags;
  } else if (header.opcode == FUSE_WRITE && body_len >= sizeof(fuse_write_in)) {
    fuse_write_in in;
    std::memcpy(&in, body, sizeof(in));
    t_request.write_flags = in.write_flags;
  } else if (header.opcode == FUSE_INIT && body_len >= sizeof(fuse_init_in)) {
    fuse_init_in in;
    std::memcpy(&in, body, sizeof(in));
    uint64_t flags = in.flags;
    if ((in.flags & FUSE_INIT_EXT) != 0) flags |= static_cast<uint64_t>(in.flags2) << 32;
    kernel_flags_.store(flags, std::memory_order_release);
    init_unique_.store(header.unique, std::memory_order_release);
  }
}

void KernelChannel::NoteReply(uint64_t unique) const {
  if (options_.request_latency == nullptr || unique != t_request.unique) return;
  if (t_request.read_at == std::chrono::steady_clock::time_point{}) return;
  options_.request_latency->Observe(t_request.opcode,
                                    std::chrono::steady_clock::now() - t_request.read_at);
  t_request.read_at = {};
}

ssize_t KernelChannel::Read(int fd, void* buf, size_t len, void*) {
  const ssize_t n = ::read(fd, buf, len);
  if (n > 0) {
    const int saved_errno = errno;
    KernelChannel* channel = g_channel.load(std::memory_order_acquire);
    channel->NoteRequest(buf, static_cast<size_t>(n));
    if (channel->options_.request_latency != nullptr) {
      t_request.read_at = std::chrono::steady_clock::now();
    }
    errno = saved_errno;
  }
  return n;
}

ssize_t KernelChannel::Writev(int fd, struct iovec* iov, int count, void*) {
  fuse_out_header header;
  if (count < 1 || iov[0].iov_len != sizeof(header)) return ::writev(fd, iov, count);
  std::memcpy(&header, iov[0].iov_base, sizeof(header));
  KernelChannel* channel = g_channel.load(std::memory_order_acquire);
  channel->NoteReply(header.unique);
  // unique 0: a notification. Errors carry no body to patch.
  if (count != 2 || header.unique == 0 || header.error != 0) return ::writev(fd, iov, count);
  if (header.unique == channel->init_unique_.load(std::memory_order_acquire)) {
    return channel->WriteInitReply(fd, iov);
  }
  if (t_patch.unique == header.unique) {
    const size_t open_offset =
        t_request.opcode == FUSE_CREATE ? kernel_abi::kCreateOpenOffset : 0;
    return WriteOpenReply(fd, iov, open_offset);
  }
  return ::writev(fd, iov, count);
}

ssize_t KernelChannel::SpliceSend(int fdin, off_t* offin, int fdout, off_t* offout, size_t len,
                                  unsigned int flags, void*) {
  // A spliced reply (READ data) answers this thread's request; its header
  // is in the pipe, out of sight.
  g_channel.load(std::memory_order_acquire)->NoteReply(t_request.unique);
  return ::splice(fdin, offin, fdout, offout, len, flags);
}

ssize_t KernelChannel::WriteInitReply(int fd, struct iovec* iov) {
  kernel_abi::InitOut out;
  if (iov[1].iov_len != sizeof(out)) {
    // An older layout than the one patched: leave it to plain FUSE I/O.
    LogWarning(absl::StrCat("INIT reply of ", iov[1].iov_len, " bytes: passthrough not asked"));
    initialized_.store(true, std::memory_order_release);
    return ::writev(fd, iov, 2);
  }
  std::memcpy(&out, iov[1].iov_base, sizeof(out));
  const bool extended = (out.flags & FUSE_INIT_EXT) != 0;
  // The kernel drops passthrough for a connection with the writeback cache.
  if (options_.passthrough && extended && KernelOffersPassthrough() &&
      (out.flags & FUSE_WRITEBACK_CACHE) == 0) {
    out.flags2 |= static_cast<uint32_t>(kernel_abi::kInitPassthrough >> 32);
    out.max_stack_depth = kernel_abi::kMaxStackDepth;
    passthrough_.store(true, std::memory_order_release);
  }
  if (options_.handle_killpriv_v2 && KernelOffersKillprivV2()) {
    out.flags |= static_cast<uint32_t>(kernel_abi::kInitHandleKillprivV2);
    killpriv_v2_.store(true, std::memory_order_release);
  }
  initialized_.store(true, std::memory_order_release);
  struct iovec patched[2] = {iov[0], {&out, sizeof(out)}};
  return ::writev(fd, patched, 2);
}

ssize_t KernelChannel::WriteOpenReply(int fd, struct iovec* iov, size_t open_offset) {
  const OpenReplyPatch patch = t_patch;
  t_patch = OpenReplyPatch{};
  char body[kernel_abi::kCreateOpenOffset + sizeof(kernel_abi::OpenOut)];
  if (iov[1].iov_len != open_offset + sizeof(kernel_abi::OpenOut)) {
    LogError(absl::StrCat("open reply of ", iov[1].iov_len, " bytes: not passed through"));
    return ::writev(fd, iov, 2);
  }
  std::memcpy(body, iov[1].iov_base, iov[1].iov_len);
  kernel_abi::OpenOut open;
  std::memcpy(&open, body + open_offset, sizeof(open));
  open.open_flags =
      (open.open_flags | kernel_abi::kOpenPassthrough) & kernel_abi::kOpenPassthroughAllowed;
  open.backing_id = patch.backing_id;
  std::memcpy(body + open_offset, &open, sizeof(open));
  struct iovec patched[2] = {iov[0], {body, iov[1].iov_len}};
  return ::writev(fd, patched, 2);
}

}  // namespace replfs
