// replfs: mounts a replica. See `replfs --help` and README.md.
//
// The composition root: the only place that knows both the mounted
// filesystem (fuse/) and replication (replication/). It opens the store
// (storage/), builds both halves and connects them through
// FilesystemHooks (storage/filesystem_hooks.h) and the back-channels in
// replication_wiring.h.
#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>
#include <malloc.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "daemon/config_reloader.h"
#include "daemon/daemon.h"
#include "daemon/metrics_wiring.h"
#include "daemon/options.h"
#include "daemon/replica_startup.h"
#include "daemon/replication_wiring.h"
#include "daemon/usage.h"
#include "fuse/kernel_cache.h"
#include "fuse/mount_session.h"
#include "fuse/replica_fs.h"
#include "replication/replicator.h"
#include "storage/log.h"

namespace replfs {
namespace {

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

// Tells the waiting parent (or stderr) why the start-up failed.
int StartupFailed(const absl::Status& status) {
  Daemon::ReportFailure(std::string(status.message()));
  return 1;
}

// Runs one replica until it is unmounted. On a start-up failure, whatever
// was built is torn down in reverse (replication stops before the session
// goes), as the declaration order below arranges. `parsed` and `argv` are
// what a reload (SIGHUP) compares with and parses again.
int Run(const Options& options, const Options& parsed, std::vector<std::string> argv) {
  SetLogLevel(options.log_level);
  Daemon::Start(!options.foreground);
  // New objects get exactly the mode the kernel passes (it already applied
  // the caller's umask).
  ::umask(0);
  const uint64_t fd_limit = RaiseFdLimit();

  absl::StatusOr<std::unique_ptr<OpenedReplica>> opened = OpenReplica(options);
  if (!opened.ok()) return StartupFailed(opened.status());
  OpenedReplica& replica = **opened;
  // Before the filesystem and replication, which observe its histograms.
  std::unique_ptr<ReplicaMetrics> metrics = ReplicaMetrics::Create(options.replication);
  ReplicaFs fs(std::move(replica.root_fd), replica.hidden, replica.store.get(),
               replica.recorder.get(), options.mount.cache_timeout,
               static_cast<int64_t>(fd_limit), options.mount.inode_fds);
  fs.writeback_cache = options.mount.writeback_cache;
  fs.commit_path.set_versions(replica.versions.get());
  if (metrics != nullptr) {
    fs.request_latency = metrics->requests();
    fs.commit_path.set_latency(metrics->latency());
  }
  absl::StatusOr<std::unique_ptr<MountSession>> session = MountSession::Create(options.mount, &fs);
  if (!session.ok()) return StartupFailed(session.status());

  // Replication starts before the mount so that a busy port fails the
  // start-up cleanly; until the mount is up there is no kernel cache to
  // invalidate.
  KernelCache kernel_cache(&fs);
  absl::StatusOr<ReplicatorConfig> config =
      MakeReplicatorConfig(options, *replica.state, replica.hidden);
  if (!config.ok()) return StartupFailed(config.status());
  config->applier.ignore = &replica.ignore;
  config->applier.versions = replica.versions.get();
  if (metrics != nullptr) config->latency = metrics->latency();
  Replicator replicator(*config, fs.inodes.root()->dir_fd(), replica.store.get(), &replica.clock,
                        &kernel_cache);
  ConnectFilesystemAndReplication(&fs, &replicator);
  // After the replicator, so that it stops serving before the status goes.
  std::unique_ptr<MetricsServer> metrics_server;
  if (metrics != nullptr) {
    absl::StatusOr<std::unique_ptr<MetricsServer>> served =
        metrics->Serve([&replicator] { return replicator.Status(); });
    if (!served.ok()) return StartupFailed(served.status());
    metrics_server = *std::move(served);
  }
  if (absl::Status s = replicator.Start(); !s.ok()) return StartupFailed(s);
  replica.versions->StartPruner();
  if (absl::Status s = (*session)->InstallSignalHandlers(); !s.ok()) return StartupFailed(s);
  // After libfuse's handlers: SIGHUP reloads instead of unmounting.
  ConfigReloader reloader(std::move(argv), parsed, options.config_file, &replicator,
                          &replica.ignore, replica.versions.get());
  if (absl::Status s = reloader.Start(); !s.ok()) return StartupFailed(s);
  if (absl::Status s = (*session)->Mount(); !s.ok()) return StartupFailed(s);
  LogInfo(absl::StrCat("mounted ", options.mount.backing, " at ", options.mount.mountpoint));
  Daemon::ReportReady();

  const int result = (*session)->Serve();
  reloader.Stop();
  replicator.Stop();
  (*session)->Close();
  LogInfo("unmounted; store closed cleanly");
  return result == 0 ? 0 : 1;
}

}  // namespace
}  // namespace replfs

int main(int argc, char** argv) {
  // Debian's Abseil is built with absl::Mutex's deadlock detection on: every
  // lock and unlock updates a global lock graph, the daemon's costliest
  // user-space function on small-file operations. The lock order is
  // checked at compile time instead (clang's thread-safety analysis, in
  // CI); in-process tests keep the detection.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  // Blocks (1 MiB) are allocated and freed over and over while files
  // replicate: by default glibc maps each one afresh or trims the heap
  // under it, and faulting fresh pages in cost a receiver of a 1 GiB file
  // more than hashing it (100 MiB/s end to end; 245 with this). Such
  // allocations stay in the heap, and up to 64 MiB of free heap is kept.
  ::mallopt(M_MMAP_THRESHOLD, 4 << 20);
  ::mallopt(M_TRIM_THRESHOLD, 64 << 20);
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
  const replfs::Options parsed = *options;
  if (absl::Status s = replfs::ValidateOptions(&*options); !s.ok()) {
    std::fprintf(stderr, "replfs: error: %s\n", std::string(s.message()).c_str());
    return 2;
  }
  return replfs::Run(*options, parsed, std::vector<std::string>(argv, argv + argc));
}
