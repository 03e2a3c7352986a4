#ifndef REPLFS_TOOLS_VERSION_FORMAT_H_
#define REPLFS_TOOLS_VERSION_FORMAT_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "replfs.pb.h"
#include "tools/as_of_plan.h"

namespace replfs {

// How `replfs-status --versions` and `--restore` print kept versions and
// restore plans. Times are local.

// Why the version was taken out of the tree: "deleted here", "replaced by
// NODE", "lost a conflict to NODE"...
std::string KeptBecauseText(const VersionRecord& record);

// The column titles over VersionLine's.
std::string VersionListHeader();
// ID (the kept name, "-" when not kept), kept time, size, SHA-256 (first
// 12 hex digits, "-" when not hashed), origin node, why; "(not kept:
// REASON)" when its content was not kept.
std::string VersionLine(const KeptVersion& version);

// One step of an as-of restore, `shown_path` being the path as the user
// knows it (through the mount): "restore PATH  (version ID of TIME, SIZE
// bytes)" (TIME: when that content began), "remove  PATH  (created since
// TIME)" (or, without --exact,
// "would stay PATH (...)"), "cannot  PATH  (WHY)".
std::string PlanStepLine(const AsOfStep& step, const std::string& shown_path, int64_t as_of_ms,
                         bool exact);
// A directory made since TIME: removed if empty with --exact, else staying.
std::string CreatedDirectoryLine(const std::string& shown_path, int64_t as_of_ms, bool exact);

// What an as-of restore did (or, dry, would do).
struct AsOfTally {
  size_t restored = 0;
  size_t removed = 0;
  size_t staying = 0;  // Created since, kept without --exact.
  size_t cannot = 0;   // kCannotRestore.
  size_t failed = 0;   // Steps that went wrong while being carried out.
  size_t directories_removed = 0;
  size_t unchanged = 0;
};
std::string AsOfSummary(const AsOfTally& tally, int64_t as_of_ms, bool dry_run);

}  // namespace replfs

#endif  // REPLFS_TOOLS_VERSION_FORMAT_H_
