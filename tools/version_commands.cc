#include "tools/version_commands.h"

#include <sys/stat.h>

#include <algorithm>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "tools/as_of_plan.h"
#include "tools/replica_locator.h"
#include "tools/restore_time.h"
#include "tools/status_client.h"
#include "tools/version_format.h"
#include "tools/version_restore.h"

namespace replfs {
namespace {

// The path named, and the client of the replica mounted there.
struct Target {
  MountedPath mounted;
  StatusClient replica;
  const std::string& mountpoint() const { return mounted.location.mountpoint; }
  // A path the replica names, as the user reaches it.
  std::string Shown(const std::string& relative) const {
    if (relative.empty()) return mountpoint();
    return absl::StrCat(mountpoint() == "/" ? "" : mountpoint(), "/", relative);
  }
};

absl::StatusOr<Target> Open(const VersionCommand& command) {
  absl::StatusOr<MountedPath> mounted = ResolveMountedPath(command.path, ListReplfsMounts());
  if (!mounted.ok()) return mounted.status();
  if (!command.state_dir.empty()) mounted->location.state_dir = command.state_dir;
  StatusClient replica(mounted->location.admin_socket(), command.timeout);
  return Target{*std::move(mounted), std::move(replica)};
}

int Fail(std::ostream& err, const absl::Status& status, int exit_code) {
  err << "replfs-status: error: " << status.message() << "\n";
  return exit_code;
}

// Whether `path` is `under` or beneath it ("" holds everything).
bool IsAtOrBeneath(const std::string& path, const std::string& under) {
  return under.empty() || path == under || absl::StartsWith(path, under + "/");
}

bool IsDirectory(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

void SortNewestFirst(std::vector<KeptVersion>* versions) {
  std::stable_sort(versions->begin(), versions->end(),
                   [](const KeptVersion& a, const KeptVersion& b) {
                     return a.record().kept_unix_ms() > b.record().kept_unix_ms();
                   });
}

// Why nothing is listed, when the replica says it keeps nothing.
void ExplainNoVersions(const Target& target, std::ostream& out) {
  absl::StatusOr<ReplicaStatus> status = target.replica.Status();
  if (status.ok() && status->keep_versions_days() == 0) {
    out << "(this replica keeps no versions: -o keep_versions=0, or it predates them)\n";
  }
}

}  // namespace

bool IsInReplfsMount(const std::string& path) {
  return ResolveMountedPath(path, ListReplfsMounts()).ok();
}

int ListVersions(const VersionCommand& command, std::ostream& out, std::ostream& err) {
  absl::StatusOr<Target> target = Open(command);
  if (!target.ok()) return Fail(err, target.status(), kCommandFailed);
  const std::string& relative = target->mounted.relative;
  const std::string shown = target->Shown(relative);

  // A file's own versions; for a directory, a deleted directory or a file
  // with none of its own, every version beneath.
  if (!relative.empty() && !IsDirectory(target->mounted.absolute)) {
    std::vector<KeptVersion> own;
    absl::Status listed = target->replica.ForEachVersion(
        relative, /*subtree=*/false, /*with_hashes=*/true,
        [&](const KeptVersion& version) { own.push_back(version); });
    if (!listed.ok()) return Fail(err, listed, kCommandFailed);
    if (!own.empty()) {
      SortNewestFirst(&own);
      out << "versions of " << shown << " kept on this replica, newest first:\n";
      out << "  " << VersionListHeader() << "\n";
      for (const KeptVersion& version : own) out << "  " << VersionLine(version) << "\n";
      out << "(restore one: replfs-status --restore " << shown << " --version ID)\n";
      return kCommandDone;
    }
  }

  // Path order from the replica; each path's versions are sorted before
  // they are printed.
  size_t versions = 0;
  size_t paths = 0;
  std::vector<KeptVersion> group;
  auto flush = [&] {
    if (group.empty()) return;
    if (paths == 0) {
      out << "versions kept on this replica of the paths beneath " << shown
          << ", newest first:\n";
      out << "  " << VersionListHeader() << "\n";
    }
    ++paths;
    versions += group.size();
    SortNewestFirst(&group);
    out << target->Shown(group.front().record().path()) << "\n";
    for (const KeptVersion& version : group) out << "  " << VersionLine(version) << "\n";
    group.clear();
  };
  absl::Status listed = target->replica.ForEachVersion(
      relative, /*subtree=*/true, /*with_hashes=*/true, [&](const KeptVersion& version) {
        if (!group.empty() && group.front().record().path() != version.record().path()) flush();
        group.push_back(version);
      });
  flush();
  if (!listed.ok()) return Fail(err, listed, kCommandFailed);
  if (paths == 0) {
    out << "no versions of " << shown << " or beneath it are kept on this replica\n";
    ExplainNoVersions(*target, out);
    return kCommandDone;
  }
  out << versions << (versions == 1 ? " version of " : " versions of ") << paths
      << (paths == 1 ? " path" : " paths")
      << " (restore one: replfs-status --restore MOUNT/PATH --version ID)\n";
  return kCommandDone;
}

int RestoreToVersion(const VersionCommand& command, std::ostream& out, std::ostream& err) {
  absl::StatusOr<Target> target = Open(command);
  if (!target.ok()) return Fail(err, target.status(), kCommandFailed);
  const std::string& relative = target->mounted.relative;
  const std::string shown = target->Shown(relative);
  if (relative.empty()) {
    return Fail(err, absl::InvalidArgumentError("--version restores a file, not the mount root"),
                kCommandFailed);
  }

  // Versions of the path itself first; then beneath it, to tell a user
  // who named a directory which file the version belongs to.
  std::optional<KeptVersion> found;
  for (const bool subtree : {false, true}) {
    absl::Status listed = target->replica.ForEachVersion(
        relative, subtree, /*with_hashes=*/false, [&](const KeptVersion& version) {
          if (!found.has_value() && version.record().kept_name() == command.version_id) {
            found = version;
          }
        });
    if (!listed.ok()) return Fail(err, listed, kCommandFailed);
    if (found.has_value()) break;
  }
  if (!found.has_value()) {
    return Fail(err,
                absl::NotFoundError(absl::StrCat("no version ", command.version_id, " of ", shown,
                                                 " is kept on this replica (replfs-status "
                                                 "--versions ",
                                                 shown, " lists them)")),
                kCommandIncomplete);
  }
  const VersionRecord& record = found->record();
  if (record.path() != relative) {
    return Fail(err,
                absl::InvalidArgumentError(absl::StrCat(
                    "version ", command.version_id, " is one of ", target->Shown(record.path()),
                    ", not of ", shown, ": name that path")),
                kCommandIncomplete);
  }
  if (command.dry_run) {
    AsOfStep step;
    step.kind = AsOfStep::Kind::kRestore;
    step.path = record.path();
    step.version = record;
    out << PlanStepLine(step, shown, record.kept_unix_ms(), /*exact=*/false) << "\n";
    out << "dry run, nothing changed\n";
    return kCommandDone;
  }
  if (absl::Status s = RestoreVersion(target->mountpoint(), record, found->kept_path());
      !s.ok()) {
    return Fail(err, s, kCommandIncomplete);
  }
  out << "restored " << shown << " to version " << command.version_id << " (kept "
      << FormatRestoreTime(record.kept_unix_ms()) << "; it replicates as a new version)\n";
  return kCommandDone;
}

int RestoreAsOf(const VersionCommand& command, std::ostream& out, std::ostream& err) {
  absl::StatusOr<Target> target = Open(command);
  if (!target.ok()) return Fail(err, target.status(), kCommandFailed);
  const std::string& relative = target->mounted.relative;
  const int64_t as_of = *command.as_of_unix_ms;

  // The entries are trimmed to what the plan reads: a whole tree's block
  // hashes would not fit in memory.
  std::vector<Entry> current;
  absl::Status listed =
      target->replica.ForEachEntry(relative, [&](const Entry& entry) {
        if (!IsAtOrBeneath(entry.path(), relative)) return;  // A sibling sharing the prefix.
        Entry trimmed;
        trimmed.set_path(entry.path());
        trimmed.mutable_content()->set_kind(entry.content().kind());
        *trimmed.mutable_content()->mutable_version() = entry.content().version();
        current.push_back(std::move(trimmed));
      });
  if (!listed.ok()) return Fail(err, listed, kCommandFailed);
  std::vector<VersionRecord> kept;
  std::map<std::string, std::string> kept_paths;  // Kept name -> file.
  listed = target->replica.ForEachVersion(
      relative, /*subtree=*/true, /*with_hashes=*/false, [&](const KeptVersion& version) {
        kept.push_back(version.record());
        if (!version.record().kept_name().empty()) {
          kept_paths[version.record().kept_name()] = version.kept_path();
        }
      });
  if (!listed.ok()) return Fail(err, listed, kCommandFailed);

  const AsOfPlan plan = PlanAsOf(current, kept, as_of);
  const std::string time = FormatRestoreTime(as_of);
  const std::string shown = target->Shown(relative);
  if (plan.steps.empty() && plan.directories_created_since.empty()) {
    if (plan.unchanged == 0) {
      out << "nothing to restore: no file was at or beneath " << shown << " at " << time
          << ", and none is now\n";
    } else {
      out << "nothing to restore: " << shown << " is unchanged since " << time << " ("
          << plan.unchanged << (plan.unchanged == 1 ? " file)\n" : " files)\n");
    }
    return kCommandDone;
  }

  out << (command.dry_run ? "plan to restore " : "restoring ") << shown << " as of " << time
      << (command.dry_run ? " (dry run):\n" : ":\n");
  AsOfTally tally;
  tally.unchanged = plan.unchanged;
  for (const AsOfStep& step : plan.steps) {
    out << PlanStepLine(step, target->Shown(step.path), as_of, command.exact) << "\n";
    absl::Status done = absl::OkStatus();
    switch (step.kind) {
      case AsOfStep::Kind::kRestore:
        if (!command.dry_run) {
          done = RestoreVersion(target->mountpoint(), step.version,
                                kept_paths[step.version.kept_name()]);
        }
        if (done.ok()) ++tally.restored;
        break;
      case AsOfStep::Kind::kRemoveCreatedSince:
        if (!command.exact) {
          ++tally.staying;
          break;
        }
        if (!command.dry_run) done = RemoveCreatedSince(target->mountpoint(), step.path);
        if (done.ok()) ++tally.removed;
        break;
      case AsOfStep::Kind::kCannotRestore:
        ++tally.cannot;
        break;
    }
    if (!done.ok()) {
      ++tally.failed;
      out << "  failed: " << done.message() << "\n";
    }
  }
  for (const std::string& directory : plan.directories_created_since) {
    const std::string directory_shown = target->Shown(directory);
    if (!command.exact || command.dry_run) {
      out << CreatedDirectoryLine(directory_shown, as_of, command.exact) << "\n";
      continue;
    }
    absl::StatusOr<bool> removed = RemoveDirectoryIfEmpty(target->mountpoint(), directory);
    if (!removed.ok()) {
      ++tally.failed;
      out << CreatedDirectoryLine(directory_shown, as_of, command.exact) << "\n";
      out << "  failed: " << removed.status().message() << "\n";
    } else if (*removed) {
      ++tally.directories_removed;
      out << CreatedDirectoryLine(directory_shown, as_of, command.exact) << "\n";
    } else {
      out << "kept    " << directory_shown << "/  (created since " << time
          << ", but not empty)\n";
    }
  }
  out << AsOfSummary(tally, as_of, command.dry_run) << "\n";
  return tally.cannot == 0 && tally.failed == 0 ? kCommandDone : kCommandIncomplete;
}

}  // namespace replfs
