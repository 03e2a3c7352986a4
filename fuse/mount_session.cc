#include "fuse/mount_session.h"

#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "fuse/idle_committer.h"
#include "fuse/kernel_features.h"
#include "fuse/orphaned_writer_watch.h"
#include "fuse/orphaned_writers.h"
#include "storage/log.h"

namespace replfs {
namespace {

// Decides the data path before INIT: installs the kernel channel that
// negotiates passthrough unless it is off or cannot work here (then file
// data goes through the daemon with the writeback cache). Says which, once.
absl::StatusOr<std::unique_ptr<KernelChannel>> InstallChannel(const MountOptions& options,
                                                              fuse_session* session,
                                                              ReplicaFs* fs) {
  fs->commit_path.set_fine_grained_ctime(HasFineGrainedCtime(fs->inodes.root()->dir_fd()));
  fs->fuse_io_reason = options.passthrough ? PassthroughBlocker(fs->inodes.root()->dir_fd())
                                           : "-o passthrough=off";
  if (!fs->fuse_io_reason.empty()) {
    LogInfo(absl::StrCat("file data goes through the daemon: ", fs->fuse_io_reason));
    if (fs->request_latency == nullptr) return nullptr;
    // Requests are timed in the channel; without its kernel features it is
    // plain FUSE I/O, except that requests are read, not spliced. Not
    // fs->channel: that one's INIT decides passthrough.
    return KernelChannel::Install(
        session, KernelChannel::Options{.passthrough = false,
                                        .handle_killpriv_v2 = false,
                                        .request_latency = fs->request_latency});
  }
  absl::StatusOr<std::unique_ptr<KernelChannel>> channel = KernelChannel::Install(
      session, KernelChannel::Options{.request_latency = fs->request_latency});
  if (!channel.ok()) return channel.status();
  fs->channel = channel->get();
  // Ids kept registered while their files are closed: the kernel holds a
  // file reference each, not a descriptor of ours.
  constexpr int64_t kIdleBackingIds = 65536;
  fs->backing_files = std::make_unique<BackingFiles>(fs->channel, kIdleBackingIds);
  return channel;
}

}  // namespace

MountSession::MountSession(const MountOptions& options, ReplicaFs* fs)
    : options_(options), fs_(fs), ops_(MakeOperations()) {
  arg_strings_ = {"replfs", "-o", LibfuseMountOptions(options_)};
  if (options_.debug) arg_strings_.push_back("-d");
  argv_.reserve(arg_strings_.size());
  for (std::string& s : arg_strings_) argv_.push_back(s.data());
  args_ = FUSE_ARGS_INIT(static_cast<int>(argv_.size()), argv_.data());
}

absl::StatusOr<std::unique_ptr<MountSession>> MountSession::Create(const MountOptions& options,
                                                                   ReplicaFs* fs) {
  std::unique_ptr<MountSession> mount(new MountSession(options, fs));
  mount->session_ = fuse_session_new(&mount->args_, &mount->ops_, sizeof(mount->ops_), fs);
  if (mount->session_ == nullptr) {
    return absl::InternalError("cannot create the FUSE session (see the message above)");
  }
  fs->session = mount->session_;
  return mount;
}

MountSession::~MountSession() {
  if (mounted_) fuse_session_unmount(session_);
  if (signal_handlers_) fuse_remove_signal_handlers(session_);
  if (session_ != nullptr) fuse_session_destroy(session_);
  fuse_opt_free_args(&args_);
}

absl::Status MountSession::InstallSignalHandlers() {
  if (fuse_set_signal_handlers(session_) != 0) {
    return absl::InternalError("cannot install signal handlers");
  }
  signal_handlers_ = true;
  return absl::OkStatus();
}

absl::Status MountSession::Mount() {
  if (fuse_session_mount(session_, options_.mountpoint.c_str()) != 0) {
    return absl::InternalError(absl::StrCat("cannot mount at ", options_.mountpoint));
  }
  mounted_ = true;
  // Before the session loop reads INIT: the channel negotiates passthrough.
  absl::StatusOr<std::unique_ptr<KernelChannel>> channel =
      InstallChannel(options_, session_, fs_);
  if (!channel.ok()) return channel.status();
  channel_ = std::move(*channel);
  return absl::OkStatus();
}

int MountSession::Serve() {
  int result;
  {
    // Files an earlier mount's processes still write (its daemon died)
    // count as open for writing here too, until they let go.
    OrphanedWriterWatch orphans(fs_);
    if (const size_t adopted =
            orphans.Adopt(FindOrphanedWriters(options_.mountpoint, fs_->inodes.root()->dir_fd()));
        adopted > 0) {
      LogInfo(absl::StrCat(adopted, " files are still written through an earlier mount"));
    }
    // Files kept open for writing are committed after 2 s without a change.
    IdleCommitter idle_committer(&fs_->commit_path, std::chrono::seconds(2), std::chrono::seconds(1),
                                 [&orphans] { orphans.ReleaseGone(); });
    if (options_.single_thread) {
      result = fuse_session_loop(session_);
    } else {
      fuse_loop_config* config = fuse_loop_cfg_create();
      fuse_loop_cfg_set_clone_fd(config, 1);
      fuse_loop_cfg_set_max_threads(config, 16);
      fuse_loop_cfg_set_idle_threads(config, 8);
      result = fuse_session_loop_mt(session_, config);
      fuse_loop_cfg_destroy(config);
    }
  }
  fs_->commit_path.WaitForAll();
  return result;
}

void MountSession::Close() {
  // Backing ids die with the session; inodes freed after it give none back.
  fs_->backing_files->Disconnect();
  if (mounted_) fuse_session_unmount(session_);
  mounted_ = false;
}

}  // namespace replfs
