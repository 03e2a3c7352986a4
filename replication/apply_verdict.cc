#include "replication/apply_verdict.h"

#include "storage/attribute_registers.h"
#include "storage/register_compare.h"
#include "storage/version.h"

namespace replfs {
namespace {

bool IsLive(Kind kind) { return kind != KIND_TOMBSTONE; }

// The register decision placed on the disk as it is: `r` wins its content
// or its attributes.
Verdict Place(const Resolution& r, const Entry* local, const DiskState& disk) {
  const Kind kind = r.content_from->content().kind();
  if (disk.parent_missing) return IsLive(kind) ? Verdict::kReviveAncestor : Verdict::kRecordOnly;
  const bool directory_there = disk.object == ObjectAtPath::kDirectory;
  if (!r.content_wins) {
    // Not on a directory standing in for a file that its live descendants
    // hide: that directory has the implicit attributes (found by the
    // convergence simulation, seed 785: a chmod of the hidden file made the
    // directory 0600 on one replica only).
    const bool stands_in = directory_there && kind != KIND_DIR;
    // Only a register of another kind (kept for what may come back) moved:
    // the object's own is as the local entry holds it.
    const Attributes* own = r.registers.Get(kind);
    const bool own_moved =
        own != nullptr &&
        CompareVersions(own->version(), r.content_from->attributes().version()) != 0;
    return disk.object == ObjectAtPath::kNone || stands_in || !own_moved
               ? Verdict::kRecordOnly
               : Verdict::kAttributesOnly;
  }
  // Removing (or replacing) a directory: a live descendant keeps it.
  if (directory_there && kind != KIND_DIR && disk.live_descendant) {
    return Verdict::kKeepForDescendants;
  }
  // A concurrent local version loses: keep it.
  const Content& winner = r.content_from->content();
  if (local != nullptr && local->content().kind() == KIND_FILE &&
      disk.object == ObjectAtPath::kRegularFile && !SameContent(local->content(), winner) &&
      !VectorDominates(winner.vector(), local->content().vector())) {
    return Verdict::kReplaceKeepingLoser;
  }
  return Verdict::kReplace;
}

}  // namespace

const char* VerdictName(Verdict verdict) {
  switch (verdict) {
    case Verdict::kIgnore: return "ignore";
    case Verdict::kFoldIntoSetAside: return "fold into set-aside";
    case Verdict::kRefuseForged: return "refuse forged";
    case Verdict::kDefer: return "defer";
    case Verdict::kAttributesOnly: return "attributes only";
    case Verdict::kRecordOnly: return "record only";
    case Verdict::kReplace: return "replace";
    case Verdict::kReplaceKeepingLoser: return "replace keeping the loser";
    case Verdict::kReviveAncestor: return "revive ancestor";
    case Verdict::kKeepForDescendants: return "keep for descendants";
  }
  return "?";
}

Resolution Resolve(const ResolveInputs& in) {
  const Entry& remote = *in.remote;
  const Entry* local = in.local;
  Resolution r;
  // An entry of this path set aside whole is known, only not on disk: what
  // comes later is decided against it as if it had been applied (per-path
  // LWW must not depend on what a file system could store). One that a
  // newer local version superseded decides nothing.
  const Entry* pending = nullptr;
  if (in.set_aside != nullptr &&
      (local == nullptr ||
       CompareVersions(in.set_aside->content().version(), local->content().version()) > 0)) {
    pending = in.set_aside;
    if (CompareVersions(remote.content().version(), pending->content().version()) <= 0) {
      // Its content loses to the pending entry's. Its attributes may still
      // beat the pending entry's: the pending entry takes them.
      r.decided_by_set_aside = true;
      r.registers = AttributeRegisters::Of(*pending);
      if (r.registers.MergeAll(AttributeRegisters::Of(remote))) {
        r.verdict = Verdict::kFoldIntoSetAside;
        r.content_from = pending;
      }
      return r;
    }
  }
  const bool content_wins =
      local == nullptr ||
      CompareVersions(remote.content().version(), local->content().version()) > 0;
  r.content_wins = content_wins;
  // Every content version this node issues is committed here first, and
  // a register only ever moves to a newer version: one of ours newer than
  // what this replica holds was never issued by it.
  if (content_wins && in.own_node != 0 && remote.content().version().node() == in.own_node) {
    r.verdict = Verdict::kRefuseForged;
    return r;
  }
  // Winning content keeps the newer registers of what it replaces, the
  // local entry's or the pending one's it supersedes; losing content may
  // still bring newer ones.
  const Entry& holder = content_wins ? remote : *local;
  const Entry* other = content_wins ? local : &remote;
  r.registers = AttributeRegisters::Of(holder);
  const bool took_any = other != nullptr && r.registers.MergeAll(AttributeRegisters::Of(*other));
  if (!content_wins && !took_any) return r;  // kIgnore
  // Never replace a file under a local writer, also one it created and has
  // not committed yet: wait for its last close.
  if (content_wins && in.open_for_writing) {
    r.verdict = Verdict::kDefer;
    return r;
  }
  r.content_from = &holder;
  if (pending != nullptr) r.registers.MergeAll(AttributeRegisters::Of(*pending));
  if (!in.disk.has_value()) {
    r.verdict = r.content_wins ? Verdict::kReplace : Verdict::kAttributesOnly;
    return r;
  }
  r.verdict = Place(r, local, *in.disk);
  return r;
}

Entry ResultingEntry(const Resolution& resolution) {
  Entry result = *resolution.content_from;
  result.clear_local_stat();
  result.clear_seq();
  resolution.registers.StoreIn(&result);
  return result;
}

}  // namespace replfs
