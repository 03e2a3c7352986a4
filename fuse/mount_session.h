#ifndef REPLFS_FUSE_MOUNT_SESSION_H_
#define REPLFS_FUSE_MOUNT_SESSION_H_

#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "fuse/kernel_channel.h"
#include "fuse/mount_options.h"
#include "fuse/replica_fs.h"

namespace replfs {

// libfuse's session for one ReplicaFs, from creation to unmount. The steps
// are separate so that the daemon can start replication between creating
// the session and mounting (a busy port then fails the start-up before
// anything is mounted). Whatever is still set up when it is destroyed
// (mount, signal handlers, session) is undone in reverse order.
class MountSession {
 public:
  // Creates the session (no mount yet) and records it in `fs`. Errors are
  // one sentence for the operator.
  static absl::StatusOr<std::unique_ptr<MountSession>> Create(const MountOptions& options,
                                                             ReplicaFs* fs);
  ~MountSession();
  MountSession(const MountSession&) = delete;
  MountSession& operator=(const MountSession&) = delete;

  // SIGINT, SIGTERM and SIGHUP end the session loop.
  absl::Status InstallSignalHandlers();
  // Mounts at the mountpoint, then decides the data path before the loop
  // reads INIT (see InstallChannel in the .cc).
  absl::Status Mount();
  // Serves requests until the mount goes away or a signal comes; commits
  // files kept open for writing after 2 s idle meanwhile, and every queued
  // commit before returning. Returns libfuse's loop result (0: clean).
  int Serve();
  // After Serve, once nothing else changes the filesystem: gives up the
  // backing ids (they die with the session) and unmounts.
  void Close();

 private:
  MountSession(const MountOptions& options, ReplicaFs* fs);

  MountOptions options_;
  ReplicaFs* fs_;
  const fuse_lowlevel_ops ops_;
  // libfuse's arguments and the strings they point into; fuse_session_new
  // may add to `args_` (allocating), freed when the session is gone.
  std::vector<std::string> arg_strings_;
  std::vector<char*> argv_;
  fuse_args args_{};
  fuse_session* session_ = nullptr;
  bool signal_handlers_ = false;
  bool mounted_ = false;
  std::unique_ptr<KernelChannel> channel_;
};

}  // namespace replfs

#endif  // REPLFS_FUSE_MOUNT_SESSION_H_
