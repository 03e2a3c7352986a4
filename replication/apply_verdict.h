#ifndef REPLFS_REPLICATION_APPLY_VERDICT_H_
#define REPLFS_REPLICATION_APPLY_VERDICT_H_

#include <cstdint>
#include <optional>

#include "entry.pb.h"
#include "storage/attribute_registers.h"

namespace replfs {

// What applying a remote entry does to its path. Decided from plain data
// by Resolve; carried out by RemoteApplier's placement, one step each.
enum class Verdict {
  // The local registers win or tie: nothing changes, nothing is logged.
  kIgnore,
  // The content loses to the path's set-aside entry, the attributes beat
  // that entry's: the set-aside entry takes them, as the applied entry
  // would have.
  kFoldIntoSetAside,
  // Claims a content version of this replica newer than any it issued: a
  // peer forging our node id to win LWW. Not applied.
  kRefuseForged,
  // The content wins, but the path is open for writing here: it waits for
  // the last close.
  kDefer,
  // Only the attribute register wins: set on the object there.
  kAttributesOnly,
  // The registers change, nothing on disk does: a tombstone with no
  // directory above it, or attributes of an object that is not there (kept
  // by a tombstone for what may come back) or is a directory standing in
  // for a file its live descendants hide.
  kRecordOnly,
  // The content wins: the object is replaced (or removed, or created).
  kReplace,
  // The content wins over a concurrent local file (neither vector
  // dominates, the content differs): the loser is kept as a conflict copy,
  // then replaced.
  kReplaceKeepingLoser,
  // A live entry beneath a non-directory ancestor: the ancestor becomes a
  // directory again (its content, if a file, kept), then the entry is
  // decided again on the disk as it is then.
  kReviveAncestor,
  // Removing or replacing a directory with live descendants ("Parents"
  // rule): the directory stays, with the implicit attributes.
  kKeepForDescendants,
};

const char* VerdictName(Verdict verdict);

// What is at the entry's path on disk, as far as the decision cares.
enum class ObjectAtPath { kNone, kDirectory, kRegularFile, kOther };

// The disk inside the apply's transaction, gathered by the executor.
struct DiskState {
  // No directory holds the path: an ancestor is missing (a tombstone's
  // ancestors are not created) or is not a directory.
  bool parent_missing = false;
  ObjectAtPath object = ObjectAtPath::kNone;
  // The store lists a live entry beneath the path. Only asked (and only
  // decides anything) when the object is a directory the winning content
  // would remove or replace.
  bool live_descendant = false;
};

struct ResolveInputs {
  const Entry* local = nullptr;   // The path's entry in the store, if any.
  const Entry* remote = nullptr;  // Required.
  // The path's entry set aside whole (not partly applied), unless it is
  // the one being retried: later entries are decided against it as if it
  // had been applied, when it is newer than the local entry.
  const Entry* set_aside = nullptr;
  uint64_t own_node = 0;  // 0: no forged-version check.
  bool open_for_writing = false;
  // Absent: decided before the disk is looked at (to know what to build);
  // winning content is then kReplace, winning attributes kAttributesOnly.
  std::optional<DiskState> disk;
};

struct Resolution {
  Verdict verdict = Verdict::kIgnore;
  bool content_wins = false;
  // The set-aside entry decided it (kIgnore or kFoldIntoSetAside), not the
  // local one.
  bool decided_by_set_aside = false;
  // For every verdict that changes a register: whose content the path
  // holds afterwards (the remote, the local, or the set-aside entry) and
  // the attribute registers it holds with it. Null for kIgnore,
  // kRefuseForged, kDefer.
  const Entry* content_from = nullptr;
  AttributeRegisters registers;
};

// The decision of the convergence contract (DESIGN.md) for one entry:
// per register the higher version wins; a losing or equal entry changes
// nothing. Attribute registers are one per kind (AttributeRegisters): an
// entry whose content loses wins if it brings a newer one of any kind.
// Pure: the same inputs always give the same resolution.
Resolution Resolve(const ResolveInputs& in);

// The entry the path holds once a register-changing resolution is placed
// (without a local stat or sequence number).
Entry ResultingEntry(const Resolution& resolution);

}  // namespace replfs

#endif  // REPLFS_REPLICATION_APPLY_VERDICT_H_
