#include "tools/version_format.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "tools/restore_time.h"

namespace replfs {
namespace {

// As the rest of replfs-status prints nodes (status_format.cc).
std::string Node(uint64_t node) { return node == 0 ? "-" : absl::StrFormat("%016x", node); }

}  // namespace

std::string KeptBecauseText(const VersionRecord& record) {
  const std::string by = Node(record.changed_by());
  switch (record.reason()) {
    case KEPT_DELETED: return "deleted here";
    case KEPT_REPLACED: return "renamed over here";
    case KEPT_TRUNCATED: return "truncated here";
    case KEPT_REWRITTEN: return "rewritten here";
    case KEPT_DELETED_BY_PEER: return absl::StrCat("deleted by ", by);
    case KEPT_REPLACED_BY_PEER: return absl::StrCat("replaced by ", by);
    case KEPT_CONFLICT_LOSER: return absl::StrCat("lost a conflict to ", by);
    default: return absl::StrCat("changed by ", by);
  }
}

std::string VersionListHeader() {
  return absl::StrFormat("%-24s %-19s %12s %-12s %-16s %s", "ID", "KEPT", "SIZE", "SHA256",
                         "ORIGIN", "WHY");
}

std::string VersionLine(const KeptVersion& version) {
  const VersionRecord& record = version.record();
  const bool kept = !record.kept_name().empty();
  std::string why = KeptBecauseText(record);
  if (record.symlink()) absl::StrAppend(&why, " (a symbolic link)");
  if (!kept) {
    absl::StrAppend(&why, " (not kept: ",
                    record.not_kept_reason().empty() ? "no reason recorded"
                                                     : record.not_kept_reason(),
                    ")");
  }
  return absl::StrFormat("%-24s %-19s %12d %-12s %-16s %s", kept ? record.kept_name() : "-",
                         FormatRestoreTime(record.kept_unix_ms()), record.size(),
                         version.sha256().empty() ? "-" : version.sha256().substr(0, 12),
                         Node(record.version().node()), why);
}

std::string PlanStepLine(const AsOfStep& step, const std::string& shown_path, int64_t as_of_ms,
                         bool exact) {
  switch (step.kind) {
    case AsOfStep::Kind::kRestore:
      // The time the content dates from, which is what the user asked
      // for; when that is not known, when it was kept.
      return absl::StrFormat("restore %s  (version %s of %s, %d bytes)", shown_path,
                             step.version.kept_name(),
                             FormatRestoreTime(step.version.began_unix_ms() > 0
                                                   ? step.version.began_unix_ms()
                                                   : step.version.kept_unix_ms()),
                             step.version.size());
    case AsOfStep::Kind::kRemoveCreatedSince:
      if (exact) {
        return absl::StrFormat("remove  %s  (created since %s)", shown_path,
                               FormatRestoreTime(as_of_ms));
      }
      return absl::StrFormat("would stay %s (created since %s; --exact removes it)", shown_path,
                             FormatRestoreTime(as_of_ms));
    case AsOfStep::Kind::kCannotRestore:
      return absl::StrFormat("cannot  %s  (%s)", shown_path, step.why);
  }
  return "";
}

std::string CreatedDirectoryLine(const std::string& shown_path, int64_t as_of_ms, bool exact) {
  if (exact) {
    return absl::StrFormat("rmdir   %s/  (created since %s; removed if empty)", shown_path,
                           FormatRestoreTime(as_of_ms));
  }
  return absl::StrFormat("would stay %s/ (directory created since %s; --exact removes it if empty)",
                         shown_path, FormatRestoreTime(as_of_ms));
}

std::string AsOfSummary(const AsOfTally& tally, int64_t as_of_ms, bool dry_run) {
  // Counts of nothing are left out: a one-file restore reads "1 restored".
  std::vector<std::string> parts;
  auto add = [&](size_t count, const std::string& what) {
    if (count > 0) parts.push_back(absl::StrCat(count, " ", what));
  };
  if (dry_run) {
    add(tally.restored, "to restore");
    add(tally.removed, "to remove");
    add(tally.staying, "would stay (created since; --exact removes them)");
  } else {
    add(tally.restored, "restored");
    add(tally.removed, "removed");
    add(tally.directories_removed,
        tally.directories_removed == 1 ? "directory removed" : "directories removed");
    add(tally.staying, "staying (created since; --exact removes them)");
  }
  add(tally.cannot, "cannot be restored");
  add(tally.failed, "failed");
  add(tally.unchanged, absl::StrCat("unchanged since ", FormatRestoreTime(as_of_ms)));
  const std::string counts = parts.empty() ? "nothing to do" : absl::StrJoin(parts, ", ");
  return dry_run ? absl::StrCat("dry run, nothing changed: ", counts) : counts;
}

}  // namespace replfs
