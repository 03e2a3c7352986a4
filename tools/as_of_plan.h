#ifndef REPLFS_TOOLS_AS_OF_PLAN_H_
#define REPLFS_TOOLS_AS_OF_PLAN_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "entry.pb.h"

namespace replfs {

// What `replfs-status --restore PATH --as-of TIME` does to each file of a
// subtree so that it reads as it did at TIME, decided from the replica's
// entries (what is there now) and its kept versions (what was there before,
// and when). Pure: tests drive it without a replica or a disk.

struct AsOfStep {
  enum class Kind {
    kRestore,             // Put `version` back.
    kRemoveCreatedSince,  // Did not exist at TIME (only --exact removes it).
    kCannotRestore,       // Differed at TIME, but that content is not kept: `why`.
  };
  Kind kind = Kind::kCannotRestore;
  std::string path;       // Relative to the mount, as entries name it.
  VersionRecord version;  // kRestore.
  std::string why;        // kCannotRestore.
};

struct AsOfPlan {
  std::vector<AsOfStep> steps;  // By path.
  // Live directories made after TIME, deepest first: --exact removes the
  // ones that are empty once their files are gone.
  std::vector<std::string> directories_created_since;
  size_t unchanged = 0;  // Files whose current content was already there at TIME.
};

// The step for one path, given its entry now (null, or a tombstone: none
// there) and its version records; nothing when it needs none (counted in
// `unchanged` when its file is already as it was). Only files and symlinks
// are planned for: a path is unchanged if its live content began at or
// before `as_of_ms`; otherwise the record whose interval [began, kept)
// holds `as_of_ms` (the latest-begun if several) is restored, or reported
// when its content was not kept; a live path that existed around then with
// no record covering TIME cannot be restored; any other live path was
// created since. A caller walking a whole tree path by path holds one
// path's records at a time.
std::optional<AsOfStep> PlanPath(const std::string& path, const Entry* now,
                                 const std::vector<VersionRecord>& records, int64_t as_of_ms,
                                 size_t* unchanged);

// Whether `entry` is a directory made after `as_of_ms` (--exact removes it
// once empty).
bool DirectoryCreatedSince(const Entry& entry, int64_t as_of_ms);
// Deepest first, so that a directory comes after the ones inside it.
void SortDeepestFirst(std::vector<std::string>* directories);

// The whole plan at once: PlanPath for each path of `current`, the entries
// of the subtree (tombstones included), and of `kept`, the version records
// of its paths.
AsOfPlan PlanAsOf(const std::vector<Entry>& current, const std::vector<VersionRecord>& kept,
                  int64_t as_of_ms);

// When an entry's content became what it is (the wall-clock bits of its
// version's hybrid logical clock).
int64_t ContentBeganUnixMs(const Entry& entry);

}  // namespace replfs

#endif  // REPLFS_TOOLS_AS_OF_PLAN_H_
