#include "storage/change_recorder.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <optional>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/strings/str_cat.h"
#include "storage/attribute_registers.h"
#include "storage/beneath.h"
#include "storage/log.h"
#include "storage/register_compare.h"
#include "storage/tombstone.h"
#include "storage/uncovered_ancestor_walk.h"
#include "storage/version.h"

namespace replfs {
namespace {

// The local stat a renamed object is recorded with. The rename itself moves
// only its ctime. If its size or mtime moved too, it was written after its
// content was recorded, and that write's commit comes after the rename
// (the kernel sends a closed file's release without waiting for it): the
// entry keeps the stat of the content it holds, so that this commit, or
// the start-up scan after a crash, sees the difference and reads the file
// again instead of taking the moved stat as proof that nothing changed.
LocalStat MovedObjectStat(const LocalStat& recorded, const LocalStat& now) {
  const bool same_content = recorded.ino() == now.ino() && recorded.size() == now.size() &&
                            recorded.mtime_ns() == now.mtime_ns();
  return same_content ? now : recorded;
}

bool IsLive(const Entry& e) { return e.content().kind() != KIND_TOMBSTONE; }

// Descendant paths of `path` in the store, in key order ("a/" prefix).
absl::Status CollectSubtree(const MetadataStore& store, absl::string_view path,
                            std::vector<Entry>* out) {
  return store.ScanEntries(absl::StrCat(path, "/"), [&](const Entry& e) {
    if (IsLive(e)) out->push_back(e);
    return true;
  });
}

// Stores in `entry`, whose own register is set, the registers of other
// kinds that `old` (the path's entry before, if any) holds.
void KeepRegistersOfOtherKinds(const Entry* old, Entry* entry) {
  AttributeRegisters registers;
  if (old != nullptr) registers = AttributeRegisters::Of(*old);
  registers.Put(entry->content().kind(), entry->attributes());
  registers.StoreIn(entry);
}

// A tombstone that supersedes the live entry `old`: keeps its vector so
// descent is known, and its attribute registers unchanged (a delete is no
// attribute change): a concurrent chmod is merged with them by version, and
// what comes back at the path gets the register that won.
}  // namespace

absl::StatusOr<bool> ChangeRecorder::RecordObject(absl::string_view path,
                                                  const ObservedObject& observed,
                                                  std::optional<uint64_t> hlc) {
  if (Ignored(path, observed.content.kind() == KIND_DIR)) return false;
  bool committed = false;
  bool unchanged = false;
  absl::Status status = store_->Transact([&](StoreTransaction& txn) -> absl::Status {
    absl::StatusOr<std::optional<Entry>> old = txn.Get(path);
    if (!old.ok()) return old.status();
    const bool existed = old->has_value() && IsLive(**old);
    const bool content_changed = !existed || !SameContent((*old)->content(), observed.content);
    const bool attributes_changed =
        !existed || !SameAttributes((*old)->attributes(), observed.attributes);
    if (!content_changed && !attributes_changed) {
      unchanged = true;
      return absl::OkStatus();
    }
    Entry entry;
    entry.set_path(std::string(path));
    const Version version = MakeVersion(hlc ? *hlc : clock_->Now(), node_id_);
    *entry.mutable_content() = observed.content;
    if (content_changed) {
      *entry.mutable_content()->mutable_version() = version;
      if (old->has_value()) *entry.mutable_content()->mutable_vector() = (*old)->content().vector();
      BumpVector(entry.mutable_content()->mutable_vector(), node_id_, version.hlc());
    } else {
      *entry.mutable_content()->mutable_version() = (*old)->content().version();
      *entry.mutable_content()->mutable_vector() = (*old)->content().vector();
    }
    *entry.mutable_attributes() = observed.attributes;
    *entry.mutable_attributes()->mutable_version() =
        attributes_changed ? version : (*old)->attributes().version();
    // The path's registers of other kinds stay for what may come back.
    KeepRegistersOfOtherKinds(old->has_value() ? &**old : nullptr, &entry);
    *entry.mutable_local_stat() = observed.local_stat;
    if (LogEnabled(LogLevel::kDebug)) {
      LogDebug(absl::StrCat("commit ", path, " ", VersionToString(entry.content().version()),
                            " size ", entry.content().size(),
                            content_changed ? "" : " (attributes only)"));
    }
    txn.Put(std::move(entry));
    committed = true;
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  if (unchanged) {
    if (absl::Status s = store_->UpdateLocalStat(path, observed.local_stat); !s.ok()) return s;
  }
  return committed;
}

absl::Status ChangeRecorder::RecordDelete(absl::string_view path,
                                          const AlsoInTransaction& also) {
  return store_->Transact([&](StoreTransaction& txn) -> absl::Status {
    std::vector<Entry> doomed;
    absl::StatusOr<std::optional<Entry>> old = txn.Get(path);
    if (!old.ok()) return old.status();
    if (also) also(txn, *old);
    if (old->has_value() && IsLive(**old)) {
      if (Ignored(path, (*old)->content().kind() == KIND_DIR)) return absl::OkStatus();
      doomed.push_back(**old);
    }
    // Only a directory (or a path whose entry is not live: it may still be
    // kept for descendants) can have entries beneath it.
    const bool may_have_subtree = doomed.empty() || doomed.front().content().kind() == KIND_DIR;
    if (may_have_subtree) {
      if (absl::Status s = CollectSubtree(*store_, path, &doomed); !s.ok()) return s;
    }
    if (doomed.empty()) return absl::OkStatus();
    const Version version = MakeVersion(clock_->Now(), node_id_);
    if (LogEnabled(LogLevel::kDebug)) {
      LogDebug(absl::StrCat("commit delete ", path, " ", VersionToString(version)));
    }
    for (const Entry& e : doomed) txn.Put(TombstoneOf(e, version));
    return absl::OkStatus();
  });
}

absl::Status ChangeRecorder::RecordUncoveredAncestors(int root_fd, absl::string_view path) {
  return ForEachUncoveredAncestor(
      *store_, root_fd, path, [&](UncoveredAncestor& ancestor) -> absl::StatusOr<bool> {
        absl::StatusOr<ObservedObject> observed =
            ObserveAt(ancestor.parent.get(), ancestor.name.c_str(), nullptr, nullptr);
        if (!observed.ok()) return observed.status();
        // Now a live directory: its own ancestors are covered by it.
        if (absl::Status s = RecordObject(ancestor.path, *observed).status(); !s.ok()) return s;
        return false;
      });
}

absl::Status ChangeRecorder::RecordRename(absl::string_view from, absl::string_view to,
                                          bool exchange, const LocalStat& moved_stat,
                                          const LocalStat* exchanged_stat,
                                          const AlsoInTransaction& also_at_to) {
  return store_->Transact([&](StoreTransaction& txn) -> absl::Status {
    // Everything live at and below each side, before the move.
    std::vector<Entry> from_side, to_side;
    for (auto [side, out] : {std::pair{from, &from_side}, std::pair{to, &to_side}}) {
      absl::StatusOr<std::optional<Entry>> top = txn.Get(side);
      if (!top.ok()) return top.status();
      if (out == &to_side && also_at_to) also_at_to(txn, *top);
      if (top->has_value() && IsLive(**top)) out->push_back(**top);
      if (absl::Status s = CollectSubtree(*store_, side, out); !s.ok()) return s;
    }
    const Version version = MakeVersion(clock_->Now(), node_id_);
    // Result keyed by path so each path is written once in the batch.
    absl::btree_map<std::string, Entry> result;
    // Ignored paths keep what the store holds of them: moved into them, an
    // object leaves the replicated tree; an old entry of theirs stays.
    const auto ignored = [&](absl::string_view path, const Entry& e) {
      return Ignored(path, e.content().kind() == KIND_DIR);
    };
    auto move_side = [&](const std::vector<Entry>& moved, absl::string_view src,
                         absl::string_view dst, const LocalStat* top_stat) {
      for (const Entry& e : moved) {
        // An ignored object's entry is what it was before it was ignored,
        // not what it is: the caller records it afresh where it lands.
        if (ignored(e.path(), e)) continue;
        Entry copy = e;
        copy.set_path(absl::StrCat(dst, absl::string_view(e.path()).substr(src.size())));
        if (ignored(copy.path(), copy)) continue;
        // The moved content is a new change at its new path; its vector
        // carries its history so receivers see what it descends from.
        *copy.mutable_content()->mutable_version() = version;
        BumpVector(copy.mutable_content()->mutable_vector(), node_id_, version.hlc());
        *copy.mutable_attributes()->mutable_version() = version;
        // Registers of other kinds belong to the path they were set at.
        copy.clear_other_kinds();
        if (e.path() == src && top_stat != nullptr) {
          *copy.mutable_local_stat() = MovedObjectStat(e.local_stat(), *top_stat);
        }
        result[copy.path()] = std::move(copy);
      }
    };
    // First: whatever was replaced at `to` (rename over a target) or vacated
    // at `from` dies; then the moved entries overwrite the paths they land on.
    for (const std::vector<Entry>* side : {&from_side, &to_side}) {
      for (const Entry& e : *side) {
        if (!ignored(e.path(), e)) result[e.path()] = TombstoneOf(e, version);
      }
    }
    move_side(from_side, from, to, &moved_stat);
    if (exchange) move_side(to_side, to, from, exchanged_stat);
    // Landing on a path that held something: keep its history in the vector,
    // so the new entry is known to descend from what it replaced, and its
    // attribute registers of other kinds.
    for (auto& [path, entry] : result) {
      if (entry.content().kind() == KIND_TOMBSTONE) continue;
      absl::StatusOr<std::optional<Entry>> old = txn.Get(path);
      if (!old.ok()) return old.status();
      if (old->has_value()) {
        MergeVectors(entry.mutable_content()->mutable_vector(), (*old)->content().vector());
        KeepRegistersOfOtherKinds(&**old, &entry);
      }
    }
    for (auto& [path, entry] : result) txn.Put(std::move(entry));
    return absl::OkStatus();
  });
}

}  // namespace replfs
