#ifndef REPLFS_FUSE_KERNEL_CHANNEL_H_
#define REPLFS_FUSE_KERNEL_CHANNEL_H_

#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "fuse/request_latency.h"

namespace replfs {

// The /dev/fuse channel under libfuse, installed with
// fuse_session_custom_io: libfuse reads every request and writes every
// reply through it. It speaks the kernel features libfuse 3.14 cannot
// negotiate: file I/O passed through to a registered backing file (Linux
// 6.9+) and FUSE_HANDLE_KILLPRIV_V2. It alone knows their wire format
// (fuse/kernel_abi.h): it patches the INIT reply, and the OPEN and CREATE
// replies that the handler on the same thread asked it to.
//
// libfuse processes a request on the thread that read it and replies to
// OPEN and CREATE from inside the handler, so what a handler asks of its
// reply is kept per thread, keyed by the request's unique id.
class KernelChannel {
 public:
  struct Options {
    bool passthrough = true;         // Ask for it when the kernel offers it.
    bool handle_killpriv_v2 = true;  // Ask for it when the kernel offers it.
    // Times every answered request, when given (-o metrics); outlives the
    // channel.
    const RequestLatency* request_latency = nullptr;
  };

  // Routes `session`'s I/O through a new channel. Call after
  // fuse_session_mount and before the session loop; at most one channel
  // exists at a time (the hooks receive the filesystem's userdata, not
  // ours, and find the channel through a process-wide pointer).
  static absl::StatusOr<std::unique_ptr<KernelChannel>> Install(fuse_session* session,
                                                                Options options);
  ~KernelChannel();
  KernelChannel(const KernelChannel&) = delete;
  KernelChannel& operator=(const KernelChannel&) = delete;

  // The INIT flags the kernel offered; set before libfuse calls the
  // filesystem's init callback, which can therefore decide by them.
  bool KernelOffersPassthrough() const;
  bool KernelOffersKillprivV2() const;

  // Whether opens can be passed through: negotiated at INIT and not refused
  // by the kernel since (a backing registration answered EPERM, ENOTTY or
  // EOPNOTSUPP: the connection then stays on FUSE I/O).
  bool passthrough() const { return passthrough_.load(std::memory_order_acquire); }
  // Whether INIT's reply has gone out: until then passthrough() is not yet
  // decided (the mount shows in the mount table before the kernel's INIT),
  // and what the init callback wrote is visible to whoever sees this true.
  bool initialized() const { return initialized_.load(std::memory_order_acquire); }
  // Whether FUSE_HANDLE_KILLPRIV_V2 was negotiated at INIT.
  bool killpriv_v2() const { return killpriv_v2_.load(std::memory_order_acquire); }

  // Registers `fd` (a regular file; an O_PATH fd will do) as a backing file
  // and returns its id. The kernel keeps its own reference: `fd` may be
  // closed afterwards.
  absl::StatusOr<int> OpenBacking(int fd);
  // Drops a backing id; opens that use it keep their file.
  void CloseBacking(int backing_id);

  // For the handler of the OPEN or CREATE request on this thread: its reply
  // opens the file in passthrough mode on `backing_id`. Of the open flags
  // libfuse sets from fuse_file_info, those the kernel allows beside
  // passthrough stay (direct_io, noflush); keep_cache must not be set.
  // No-op on other requests.
  static void ReplyWithBacking(int backing_id);
  // Whether the OPEN (with O_TRUNC), CREATE or WRITE request on this thread
  // asks the daemon to kill the file's set-id bits (FUSE_OPEN_KILL_SUIDGID,
  // FUSE_WRITE_KILL_SUIDGID: the caller lacks CAP_FSETID, and
  // FUSE_HANDLE_KILLPRIV_V2 left it to the daemon).
  static bool RequestKillsSetid();

 private:
  KernelChannel(fuse_session* session, Options options) : session_(session), options_(options) {}
  static ssize_t Read(int fd, void* buf, size_t len, void* userdata);
  static ssize_t Writev(int fd, struct iovec* iov, int count, void* userdata);
  static ssize_t SpliceSend(int fdin, off_t* offin, int fdout, off_t* offout, size_t len,
                            unsigned int flags, void* userdata);
  void NoteRequest(const void* buf, size_t len);
  // The reply to this thread's request is going out: times it, once.
  void NoteReply(uint64_t unique) const;
  ssize_t WriteInitReply(int fd, struct iovec* iov);
  static ssize_t WriteOpenReply(int fd, struct iovec* iov, size_t open_offset);

  fuse_session* session_;
  Options options_;
  std::atomic<uint64_t> kernel_flags_{0};
  std::atomic<uint64_t> init_unique_{0};
  std::atomic<bool> passthrough_{false};
  std::atomic<bool> killpriv_v2_{false};
  std::atomic<bool> initialized_{false};
};

}  // namespace replfs

#endif  // REPLFS_FUSE_KERNEL_CHANNEL_H_
