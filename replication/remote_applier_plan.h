#ifndef REPLFS_REPLICATION_REMOTE_APPLIER_PLAN_H_
#define REPLFS_REPLICATION_REMOTE_APPLIER_PLAN_H_

// Internal to RemoteApplier (remote_applier.cc decides and builds plans,
// entry_placement.cc places them): not for other users.

#include <sys/stat.h>

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "entry.pb.h"
#include "replication/apply_verdict.h"
#include "replication/object_builder.h"
#include "replication/remote_applier.h"

namespace replfs {

// Every version an entry carries: its content's and each attribute
// register's (those it keeps for other kinds may be its newest).
inline std::vector<const Version*> VersionsIn(const Entry& e) {
  std::vector<const Version*> versions = {&e.content().version(), &e.attributes().version()};
  for (const Attributes& kept : e.other_kinds()) versions.push_back(&kept.version());
  return versions;
}

// A remote entry decided against the store, with the object built for it.
struct RemoteApplier::Plan {
  const Entry* remote = nullptr;
  uint64_t peer = 0;                 // Where it came from, for a set-aside record.
  std::optional<Entry> before;       // The local entry it was decided against.
  std::optional<Entry> set_aside;    // The set-aside entry it was decided against.
  bool content_wins = false;         // Else only the attributes win.
  Entry result;                      // What the path holds once placed.
  bool needs_object = false;         // Content to build before placing.
  bool builds_for_all = false;       // Registered in building_ for its path.
  bool decide_again = false;         // Another puller built this version meanwhile.
  PreparedObject prepared;           // Built content, if any.
  absl::Status build_failure;        // Why building it failed.
  std::optional<Outcome> done;       // Decided without placing anything.
  // A regular file that placing took out of the tree (removed, or replaced
  // by the result): the filesystem learns of it once the gate is released,
  // for the handles that may still be open on it.
  struct RemovedFile {
    struct stat before;       // Its stat while it had the name.
    bool kept_aside = false;  // A link of it was kept in versions/.
  };
  std::optional<RemovedFile> removed_file;

  // What Resolve decides this plan from, but for the path's writers and
  // the disk.
  ResolveInputs Inputs(uint64_t own_node) const {
    ResolveInputs in;
    in.local = before.has_value() ? &*before : nullptr;
    in.remote = remote;
    in.set_aside = set_aside.has_value() ? &*set_aside : nullptr;
    in.own_node = own_node;
    return in;
  }
};

}  // namespace replfs

#endif  // REPLFS_REPLICATION_REMOTE_APPLIER_PLAN_H_
