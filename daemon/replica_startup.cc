#include "daemon/replica_startup.h"

#include <fcntl.h>
#include <sys/statvfs.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "replication/apply_intent.h"
#include "storage/log.h"
#include "storage/startup_scan.h"

namespace replfs {
namespace {

// The state folder's name at the backing root when it lives there.
std::string HiddenName(const Options& options) {
  const std::string& backing = options.mount.backing;
  const std::string prefix = backing == "/" ? "/" : backing + "/";
  if (!options.state_dir.starts_with(prefix)) return "";
  const std::string rest = options.state_dir.substr(prefix.size());
  return rest.substr(0, rest.find('/'));
}

// Remote versions are built in the state folder and renamed into the
// tree, which only works within one filesystem.
absl::Status CheckSameFilesystem(const Options& options, const StateDir& state) {
  struct stat backing_st, temp_st;
  if (::stat(options.mount.backing.c_str(), &backing_st) != 0 ||
      ::stat(state.TempPath().c_str(), &temp_st) != 0 || backing_st.st_dev != temp_st.st_dev) {
    return absl::FailedPreconditionError(absl::StrCat("state folder ", options.state_dir,
                                                      " must be on the same filesystem as ",
                                                      options.mount.backing));
  }
  return absl::OkStatus();
}

// Brings the store up to date with the backing directory.
absl::Status CatchUpWithBackingDirectory(OpenedReplica* replica) {
  // Before the scan: an apply the last process was killed in the middle of
  // must not look like a local edit to it.
  if (absl::StatusOr<IntentRecovery> recovered =
          RecoverInterruptedApplies(replica->root_fd.get(), replica->store.get());
      !recovered.ok()) {
    return absl::InternalError(absl::StrCat("recovering interrupted applies failed: ",
                                            recovered.status().ToString()));
  }
  absl::StatusOr<ScanReport> scan = ScanBackingDirectory(
      replica->root_fd.get(), replica->hidden, replica->store.get(), replica->recorder.get(),
      /*rebuilding=*/replica->store->created_fresh());
  if (!scan.ok()) {
    return absl::InternalError(absl::StrCat("start-up scan failed: ", scan.status().ToString()));
  }
  LogInfo(absl::StrFormat("node %016x: start-up scan saw %d objects, rehashed %d, "
                          "committed %d, deleted %d, ignored %d (and %d deleted directories "
                          "kept for ignored content)",
                          replica->state->node_id(), scan->objects_seen, scan->rehashed,
                          scan->committed, scan->deleted, scan->ignored, scan->kept_for_ignored));
  return absl::OkStatus();
}

}  // namespace

VersionPolicy VersionPolicyOf(const ReplicationOptions& replication, const std::string& backing) {
  VersionPolicy policy;
  policy.keep_days = replication.keep_versions_days;
  policy.max_bytes = replication.versions_max_bytes;
  struct statvfs fs;
  if (policy.max_bytes == 0 && ::statvfs(backing.c_str(), &fs) == 0) {
    const double capacity = static_cast<double>(fs.f_blocks) * static_cast<double>(fs.f_frsize);
    policy.max_bytes = static_cast<uint64_t>(capacity * replication.versions_max_percent / 100);
  }
  return policy;
}

absl::StatusOr<std::unique_ptr<OpenedReplica>> OpenReplica(const Options& options) {
  auto replica = std::make_unique<OpenedReplica>();
  absl::StatusOr<std::unique_ptr<StateDir>> state = StateDir::Open(options.state_dir);
  if (!state.ok()) return state.status();
  replica->state = std::move(*state);
  if (absl::Status s = CheckSameFilesystem(options, *replica->state); !s.ok()) return s;
  absl::StatusOr<std::unique_ptr<MetadataStore>> store =
      MetadataStore::Open(replica->state->StorePath());
  if (!store.ok()) return store.status();
  replica->store = std::move(*store);
  replica->clock.AdvanceTo(replica->store->MaxHlc());
  replica->recorder = std::make_unique<ChangeRecorder>(replica->store.get(), &replica->clock,
                                                       replica->state->node_id());
  absl::StatusOr<IgnorePatterns> ignore =
      IgnorePatterns::Parse(options.replication.ignore_patterns);
  if (!ignore.ok()) return ignore.status();
  replica->ignore.Replace(*std::move(ignore));
  replica->recorder->set_ignore_patterns(&replica->ignore);
  replica->root_fd =
      UniqueFd(::open(options.mount.backing.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!replica->root_fd.valid()) {
    return absl::InternalError(
        absl::StrCat("open ", options.mount.backing, ": ", std::strerror(errno)));
  }
  replica->hidden = HiddenName(options);
  absl::StatusOr<std::unique_ptr<VersionKeeper>> versions =
      VersionKeeper::Open(replica->store.get(), replica->state->VersionsPath(),
                          VersionPolicyOf(options.replication, options.mount.backing));
  if (!versions.ok()) return versions.status();
  replica->versions = *std::move(versions);
  if (absl::Status s = CatchUpWithBackingDirectory(replica.get()); !s.ok()) return s;
  return replica;
}

}  // namespace replfs
