// replfs: mounts a replica. See `replfs --help` and README.md.
#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "fuse/daemon.h"
#include "fuse/idle_committer.h"
#include "fuse/kernel_cache.h"
#include "fuse/kernel_channel.h"
#include "fuse/kernel_features.h"
#include "fuse/options.h"
#include "fuse/replica_fs.h"
#include "grpcpp/grpcpp.h"
#include "replication/apply_intent.h"
#include "replication/replicator.h"
#include "replication/tls_credentials.h"
#include "storage/hlc.h"
#include "storage/log.h"
#include "storage/metadata_store.h"
#include "storage/startup_scan.h"
#include "storage/state_dir.h"

namespace replfs {
namespace {

// fstab-only words that mean nothing to the kernel or libfuse.
bool IsFstabOnly(const std::string& option) {
  const std::string key = option.substr(0, option.find('='));
  return key == "_netdev" || key == "nofail" || key == "auto" || key == "noauto" ||
         key == "user" || key == "users" || key == "nouser" || key == "owner" ||
         key == "defaults" || key == "comment" || key.starts_with("x-") ||
         key == "max_threads" || key == "max_idle_threads" || key == "clone_fd";
}

// Builds the mount options handed to libfuse.
std::string MountOptions(const Options& options) {
  std::vector<std::string> out = {"default_permissions",
                                  absl::StrCat("fsname=", options.backing), "subtype=replfs"};
  bool allow_other = options.allow_other;
  const std::vector<std::string> given =
      absl::StrSplit(options.fuse_mount_options, ',', absl::SkipEmpty());
  for (const std::string& option : given) {
    if (IsFstabOnly(option) || option.starts_with("fsname=") ||
        option.starts_with("subtype=") || option == "default_permissions" ||
        option == "allow_other") {
      continue;
    }
    out.push_back(option);
  }
  // Other users (Apache's www-data) must reach the files; modes still apply.
  if (::geteuid() == 0) allow_other = true;
  if (allow_other) out.push_back("allow_other");
  return absl::StrJoin(out, ",");
}

// The inode table keeps an O_PATH fd per directory the kernel caches and,
// within a share of the limit, per other object (see Inode): raise the soft
// limit to the hard one (systemd's unit sets LimitNOFILE=1048576). Returns
// the soft limit now in force.
uint64_t RaiseFdLimit() {
  struct rlimit limit;
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return 1024;
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &limit) != 0) (void)::getrlimit(RLIMIT_NOFILE, &limit);
  }
  if (limit.rlim_cur < 65536) {
    LogInfo(absl::StrCat("only ", limit.rlim_cur, " file descriptors allowed: past half of "
                         "them, files the kernel caches are reached by file handle (a little "
                         "slower); raise LimitNOFILE (systemd) or ulimit -n to avoid that"));
  }
  return limit.rlim_cur;
}

// The state folder's name at the backing root when it lives there.
std::string HiddenName(const Options& options) {
  const std::string prefix = options.backing == "/" ? "/" : options.backing + "/";
  if (!options.state_dir.starts_with(prefix)) return "";
  const std::string rest = options.state_dir.substr(prefix.size());
  return rest.substr(0, rest.find('/'));
}

// Decides the data path before INIT: installs the kernel channel that
// negotiates passthrough unless it is off or cannot work here (then file
// data goes through the daemon with the writeback cache). Says which, once.
absl::StatusOr<std::unique_ptr<KernelChannel>> InstallChannel(const Options& options,
                                                              fuse_session* session,
                                                              ReplicaFs* fs) {
  fs->fine_grained_ctime = HasFineGrainedCtime(fs->inodes.root()->dir_fd());
  fs->fuse_io_reason = options.passthrough ? PassthroughBlocker(fs->inodes.root()->dir_fd())
                                           : "-o passthrough=off";
  if (!fs->fuse_io_reason.empty()) {
    LogInfo(absl::StrCat("file data goes through the daemon: ", fs->fuse_io_reason));
    return nullptr;
  }
  absl::StatusOr<std::unique_ptr<KernelChannel>> channel =
      KernelChannel::Install(session, KernelChannel::Options{});
  if (!channel.ok()) return channel.status();
  fs->channel = channel->get();
  // Ids kept registered while their files are closed: the kernel holds a
  // file reference each, not a descriptor of ours.
  constexpr int64_t kIdleBackingIds = 65536;
  fs->backing_files = std::make_unique<BackingFiles>(fs->channel, kIdleBackingIds);
  return channel;
}

int Run(const Options& options) {
  SetLogLevel(options.log_level);
  Daemon::Start(!options.foreground);
  // New objects get exactly the mode the kernel passes (it already applied
  // the caller's umask).
  ::umask(0);
  const uint64_t fd_limit = RaiseFdLimit();

  absl::StatusOr<std::unique_ptr<StateDir>> state = StateDir::Open(options.state_dir);
  if (!state.ok()) {
    Daemon::ReportFailure(std::string(state.status().message()));
    return 1;
  }
  // Remote versions are built in the state folder and renamed into the
  // tree, which only works within one filesystem.
  struct stat backing_st, temp_st;
  if (::stat(options.backing.c_str(), &backing_st) != 0 ||
      ::stat((*state)->TempPath().c_str(), &temp_st) != 0 || backing_st.st_dev != temp_st.st_dev) {
    Daemon::ReportFailure(absl::StrCat("state folder ", options.state_dir,
                                       " must be on the same filesystem as ", options.backing));
    return 1;
  }
  absl::StatusOr<std::unique_ptr<MetadataStore>> store =
      MetadataStore::Open((*state)->StorePath());
  if (!store.ok()) {
    Daemon::ReportFailure(std::string(store.status().message()));
    return 1;
  }
  HybridLogicalClock clock;
  clock.AdvanceTo((*store)->MaxHlc());
  ChangeRecorder recorder(store->get(), &clock, (*state)->node_id());

  UniqueFd root_fd(::open(options.backing.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root_fd.valid()) {
    Daemon::ReportFailure(absl::StrCat("open ", options.backing, ": ", std::strerror(errno)));
    return 1;
  }
  const std::string hidden = HiddenName(options);
  // Before the scan: an apply the last process was killed in the middle of
  // must not look like a local edit to it.
  if (absl::StatusOr<IntentRecovery> recovered = RecoverInterruptedApplies(root_fd.get(),
                                                                          store->get());
      !recovered.ok()) {
    Daemon::ReportFailure(absl::StrCat("recovering interrupted applies failed: ",
                                       recovered.status().ToString()));
    return 1;
  }
  absl::StatusOr<ScanReport> scan =
      ScanBackingDirectory(root_fd.get(), hidden, store->get(), &recorder,
                           /*rebuilding=*/(*store)->created_fresh());
  if (!scan.ok()) {
    Daemon::ReportFailure(absl::StrCat("start-up scan failed: ", scan.status().ToString()));
    return 1;
  }
  LogInfo(absl::StrFormat("node %016x: start-up scan saw %d objects, rehashed %d, "
                          "committed %d, deleted %d",
                          (*state)->node_id(), scan->objects_seen, scan->rehashed,
                          scan->committed, scan->deleted));

  ReplicaFs fs(std::move(root_fd), hidden, store->get(), &recorder, options.cache_timeout,
               static_cast<int64_t>(fd_limit), options.inode_fds);
  fs.writeback_cache = options.writeback_cache;
  const fuse_lowlevel_ops ops = MakeOperations();
  const std::string mount_options = MountOptions(options);
  std::vector<std::string> arg_strings = {"replfs", "-o", mount_options};
  if (options.debug) arg_strings.push_back("-d");
  std::vector<char*> argv;
  argv.reserve(arg_strings.size());
  for (std::string& s : arg_strings) argv.push_back(s.data());
  fuse_args args = FUSE_ARGS_INIT(static_cast<int>(argv.size()), argv.data());
  // fuse_session_new may add to `args` (allocating): free them on every path.
  struct ArgsGuard {
    fuse_args* args;
    ~ArgsGuard() { fuse_opt_free_args(args); }
  } args_guard{&args};
  fuse_session* session = fuse_session_new(&args, &ops, sizeof(ops), &fs);
  if (session == nullptr) {
    Daemon::ReportFailure("cannot create the FUSE session (see the message above)");
    return 1;
  }
  fs.session = session;

  // Replication starts before the mount so that a busy port fails the
  // start-up cleanly; until the mount is up there is no kernel cache to
  // invalidate.
  KernelCache kernel_cache(&fs);
  ReplicatorConfig replication;
  replication.cluster = options.cluster;
  replication.node_id = (*state)->node_id();
  replication.listen = options.listen;
  replication.peers = options.peers;
  replication.fallback_peers = options.fallback_peers;
  replication.fallback_after = absl::Seconds(options.fallback_after);
  replication.admin_socket = (*state)->path() + "/admin.sock";
  replication.backing = options.backing;
  replication.mountpoint = options.mountpoint;
  replication.applier.hidden_name = hidden;
  replication.applier.allow_setuid = options.allow_setuid;
  replication.tombstone_grace = absl::Seconds(options.tombstone_grace);
  // Short graces (tests, small sites) get checked more often.
  replication.purge_interval = std::min(absl::Minutes(1), absl::Seconds(options.tombstone_grace));
  replication.applier.temp_dir = (*state)->TempPath();
  replication.applier.conflicts_dir = (*state)->ConflictsPath();
  absl::StatusOr<ReplicationCredentials> credentials =
      MakeReplicationCredentials(TlsFiles{options.tls_ca, options.tls_cert, options.tls_key});
  if (!credentials.ok()) {
    Daemon::ReportFailure(std::string(credentials.status().message()));
    fuse_session_destroy(session);
    return 1;
  }
  replication.server_credentials = credentials->server;
  replication.channel_credentials = credentials->channel;
  Replicator replicator(replication, fs.inodes.root()->dir_fd(), store->get(), &clock, &kernel_cache);
  replicator.set_commit_failures_source([&fs] { return fs.commit_failures.load(); });
  replicator.set_pending_commits_source(
      [&fs] { return fs.inodes.CountUncommitted() + fs.commits->Pending(); });
  replicator.set_data_path_source([&fs](ReplicaStatus* status) {
    const bool passthrough = fs.backing_files->active();
    status->set_data_path(passthrough ? "passthrough" : "fuse");
    if (!passthrough) status->set_data_path_reason(fs.fuse_io_reason);
  });
  fs.on_write_closed = [&replicator](const std::string& path) { replicator.OnWriteClosed(path); };
  if (absl::Status s = replicator.Start(); !s.ok()) {
    Daemon::ReportFailure(std::string(s.message()));
    replicator.Stop();
    fuse_session_destroy(session);
    return 1;
  }
  if (fuse_set_signal_handlers(session) != 0) {
    Daemon::ReportFailure("cannot install signal handlers");
    replicator.Stop();
    fuse_session_destroy(session);
    return 1;
  }
  if (fuse_session_mount(session, options.mountpoint.c_str()) != 0) {
    Daemon::ReportFailure(absl::StrCat("cannot mount at ", options.mountpoint));
    replicator.Stop();
    fuse_remove_signal_handlers(session);
    fuse_session_destroy(session);
    return 1;
  }
  // Before the session loop reads INIT: the channel negotiates passthrough.
  std::unique_ptr<KernelChannel> channel;
  if (absl::StatusOr<std::unique_ptr<KernelChannel>> installed =
          InstallChannel(options, session, &fs);
      installed.ok()) {
    channel = std::move(*installed);
  } else {
    Daemon::ReportFailure(std::string(installed.status().message()));
    replicator.Stop();
    fuse_session_unmount(session);
    fuse_remove_signal_handlers(session);
    fuse_session_destroy(session);
    return 1;
  }
  LogInfo(absl::StrCat("mounted ", options.backing, " at ", options.mountpoint));
  Daemon::ReportReady();
  // Files kept open for writing are committed after 2 s without a change.
  std::optional<IdleCommitter> idle_committer;
  idle_committer.emplace(&fs, std::chrono::seconds(2), std::chrono::seconds(1));

  int result;
  if (options.single_thread) {
    result = fuse_session_loop(session);
  } else {
    fuse_loop_config* config = fuse_loop_cfg_create();
    fuse_loop_cfg_set_clone_fd(config, 1);
    fuse_loop_cfg_set_max_threads(config, 16);
    fuse_loop_cfg_set_idle_threads(config, 8);
    result = fuse_session_loop_mt(session, config);
    fuse_loop_cfg_destroy(config);
  }
  idle_committer.reset();
  fs.WaitForCommits();
  replicator.Stop();
  // Backing ids die with the session; inodes freed after it give none back.
  fs.backing_files->Disconnect();
  fuse_session_unmount(session);
  fuse_remove_signal_handlers(session);
  fuse_session_destroy(session);
  LogInfo("unmounted; store closed cleanly");
  return result == 0 ? 0 : 1;
}

}  // namespace
}  // namespace replfs

int main(int argc, char** argv) {
  absl::StatusOr<replfs::Options> options = replfs::ParseOptions(argc, argv);
  if (!options.ok()) {
    std::fprintf(stderr, "replfs: error: %s\n", std::string(options.status().message()).c_str());
    return 2;
  }
  if (options->show_help) {
    replfs::PrintUsage(argv[0]);
    return 0;
  }
  if (options->show_version) {
    std::printf("replfs 0.1.0 (libfuse %d)\n", fuse_version());
    return 0;
  }
  if (absl::Status s = replfs::ValidateOptions(&*options); !s.ok()) {
    std::fprintf(stderr, "replfs: error: %s\n", std::string(s.message()).c_str());
    return 2;
  }
  return replfs::Run(*options);
}
