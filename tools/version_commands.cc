#include "tools/version_commands.h"

#include <sys/stat.h>

#include <algorithm>
#include <functional>
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

// One path of a subtree as the as-of walk meets it: its entry now (if
// any) and the versions kept of it.
struct PathAtHand {
  std::string path;
  std::optional<Entry> now;
  std::vector<KeptVersion> versions;
};

// Walks the entries and the kept versions of the subtree `relative` side
// by side, both in path order, one path at a time: memory holds a page of
// each and one path's versions, whatever the size of the tree. A path's
// versions are all read before `visit` runs, so a restore (which keeps what
// it replaces, a new version of the same path) never shows up later in
// the walk.
absl::Status WalkSubtree(const StatusClient& replica, const std::string& relative,
                         const std::function<void(const PathAtHand&)>& visit) {
  PagedCursor<Entry> entries = replica.EntryCursor(relative);
  PagedCursor<KeptVersion> versions = replica.VersionCursor(relative, /*subtree=*/true,
                                                            /*with_hashes=*/false);
  for (;;) {
    absl::StatusOr<const Entry*> entry = entries.Peek();
    if (!entry.ok()) return entry.status();
    if (*entry != nullptr && !IsAtOrBeneath((*entry)->path(), relative)) {
      entries.Pop();  // A sibling sharing the prefix.
      continue;
    }
    absl::StatusOr<const KeptVersion*> version = versions.Peek();
    if (!version.ok()) return version.status();
    if (*entry == nullptr && *version == nullptr) return absl::OkStatus();
    PathAtHand at_hand;
    if (*version == nullptr ||
        (*entry != nullptr && (*entry)->path() <= (*version)->record().path())) {
      at_hand.path = (*entry)->path();
    } else {
      at_hand.path = (*version)->record().path();
    }
    if (*entry != nullptr && (*entry)->path() == at_hand.path) {
      at_hand.now = **entry;
      entries.Pop();
    }
    while (*version != nullptr && (*version)->record().path() == at_hand.path) {
      at_hand.versions.push_back(**version);
      versions.Pop();
      version = versions.Peek();
      if (!version.ok()) return version.status();
    }
    visit(at_hand);
  }
}

// Carries out (or, in a dry run, prints) the steps of an as-of restore as
// the walk plans them, and the removal of the directories created since.
class AsOfRestore {
 public:
  AsOfRestore(const VersionCommand& command, const Target& target, std::ostream& out)
      : command_(command), target_(target), out_(out), as_of_(*command.as_of_unix_ms) {}

  void Visit(const PathAtHand& at_hand) {
    const Entry* now = at_hand.now.has_value() ? &*at_hand.now : nullptr;
    if (now != nullptr && DirectoryCreatedSince(*now, as_of_)) {
      directories_created_since_.push_back(at_hand.path);
    }
    std::vector<VersionRecord> records;
    records.reserve(at_hand.versions.size());
    for (const KeptVersion& version : at_hand.versions) records.push_back(version.record());
    std::optional<AsOfStep> step = PlanPath(at_hand.path, now, records, as_of_, &tally_.unchanged);
    if (!step.has_value()) return;
    std::string kept_path;
    for (const KeptVersion& version : at_hand.versions) {
      if (version.record().id() == step->version.id()) kept_path = version.kept_path();
    }
    Carry(*step, kept_path);
  }

  // Removes the directories created since, once the walk is over; returns
  // the exit code.
  int Finish() {
    SortDeepestFirst(&directories_created_since_);
    for (const std::string& directory : directories_created_since_) RemoveCreated(directory);
    if (!began_) {
      const std::string shown = target_.Shown(target_.mounted.relative);
      const std::string time = FormatRestoreTime(as_of_);
      if (tally_.unchanged == 0) {
        out_ << "nothing to restore: no file was at or beneath " << shown << " at " << time
             << ", and none is now\n";
      } else {
        out_ << "nothing to restore: " << shown << " is unchanged since " << time << " ("
             << tally_.unchanged << (tally_.unchanged == 1 ? " file)\n" : " files)\n");
      }
      return kCommandDone;
    }
    out_ << AsOfSummary(tally_, as_of_, command_.dry_run) << "\n";
    return tally_.cannot == 0 && tally_.failed == 0 ? kCommandDone : kCommandIncomplete;
  }

 private:
  // The heading, before the first line of the plan.
  void Begin() {
    if (began_) return;
    began_ = true;
    out_ << (command_.dry_run ? "plan to restore " : "restoring ")
         << target_.Shown(target_.mounted.relative) << " as of " << FormatRestoreTime(as_of_)
         << (command_.dry_run ? " (dry run):\n" : ":\n");
  }

  void Carry(const AsOfStep& step, const std::string& kept_path) {
    Begin();
    out_ << PlanStepLine(step, target_.Shown(step.path), as_of_, command_.exact) << "\n";
    absl::Status done = absl::OkStatus();
    switch (step.kind) {
      case AsOfStep::Kind::kRestore:
        if (!command_.dry_run) done = RestoreVersion(target_.mountpoint(), step.version, kept_path);
        if (done.ok()) ++tally_.restored;
        break;
      case AsOfStep::Kind::kRemoveCreatedSince:
        if (!command_.exact) {
          ++tally_.staying;
          break;
        }
        if (!command_.dry_run) done = RemoveCreatedSince(target_.mountpoint(), step.path);
        if (done.ok()) ++tally_.removed;
        break;
      case AsOfStep::Kind::kCannotRestore:
        ++tally_.cannot;
        break;
    }
    if (!done.ok()) {
      ++tally_.failed;
      out_ << "  failed: " << done.message() << "\n";
    }
  }

  void RemoveCreated(const std::string& directory) {
    Begin();
    const std::string shown = target_.Shown(directory);
    if (!command_.exact || command_.dry_run) {
      out_ << CreatedDirectoryLine(shown, as_of_, command_.exact) << "\n";
      return;
    }
    absl::StatusOr<bool> removed = RemoveDirectoryIfEmpty(target_.mountpoint(), directory);
    if (!removed.ok()) {
      ++tally_.failed;
      out_ << CreatedDirectoryLine(shown, as_of_, command_.exact) << "\n";
      out_ << "  failed: " << removed.status().message() << "\n";
    } else if (*removed) {
      ++tally_.directories_removed;
      out_ << CreatedDirectoryLine(shown, as_of_, command_.exact) << "\n";
    } else {
      out_ << "kept    " << shown << "/  (created since " << FormatRestoreTime(as_of_)
           << ", but not empty)\n";
    }
  }

  const VersionCommand& command_;
  const Target& target_;
  std::ostream& out_;
  const int64_t as_of_;
  bool began_ = false;
  AsOfTally tally_;
  // Bounded by what was made since TIME, not by the tree.
  std::vector<std::string> directories_created_since_;
};

int RestoreAsOf(const VersionCommand& command, std::ostream& out, std::ostream& err) {
  absl::StatusOr<Target> target = Open(command);
  if (!target.ok()) return Fail(err, target.status(), kCommandFailed);
  AsOfRestore restore(command, *target, out);
  const absl::Status walked =
      WalkSubtree(target->replica, target->mounted.relative,
                  [&](const PathAtHand& at_hand) { restore.Visit(at_hand); });
  if (!walked.ok()) return Fail(err, walked, kCommandFailed);
  return restore.Finish();
}

}  // namespace replfs
