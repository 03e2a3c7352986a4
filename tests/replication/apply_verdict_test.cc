#include "replication/apply_verdict.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "storage/version.h"

namespace replfs {
namespace {

constexpr uint64_t kLocalNode = 1;
constexpr uint64_t kRemoteNode = 2;

// An entry of "a/b" whose content register is `hlc` from `node`, with a
// vector counting `local_count` for the local node and `remote_count` for
// the remote one, and its attributes as old as its content (a tombstone's
// those of a file it deleted).
Entry MakeEntry(Kind kind, uint64_t hlc, uint64_t node, uint64_t local_count,
                uint64_t remote_count, const std::string& data = "x") {
  Entry e;
  e.set_path("a/b");
  Content* c = e.mutable_content();
  c->set_kind(kind);
  *c->mutable_version() = MakeVersion(hlc, node);
  for (const auto& [n, count] : {std::pair{kLocalNode, local_count}, {kRemoteNode, remote_count}}) {
    if (count == 0) continue;
    VersionVectorItem* item = c->add_vector();
    item->set_node(n);
    item->set_counter(count);
  }
  if (kind == KIND_FILE) {
    c->set_inline_data(data);
    c->set_size(data.size());
  }
  if (kind == KIND_SYMLINK) c->set_symlink_target(data);
  *e.mutable_attributes()->mutable_version() = MakeVersion(hlc, node);
  e.mutable_attributes()->set_mode(0644);
  if (kind == KIND_TOMBSTONE) e.mutable_attributes()->set_kind(KIND_FILE);
  return e;
}

// A tombstone as replicas wrote them before tombstones kept a register.
Entry WithoutRegister(Entry tombstone) {
  tombstone.mutable_attributes()->clear_kind();
  tombstone.mutable_attributes()->clear_mode();
  return tombstone;
}

ObjectAtPath ObjectFor(const std::optional<Kind>& kind) {
  if (!kind.has_value()) return ObjectAtPath::kNone;
  switch (*kind) {
    case KIND_FILE: return ObjectAtPath::kRegularFile;
    case KIND_DIR: return ObjectAtPath::kDirectory;
    case KIND_TOMBSTONE: return ObjectAtPath::kNone;
    default: return ObjectAtPath::kOther;
  }
}

std::string KindName(const std::optional<Kind>& kind) {
  return kind.has_value() ? Kind_Name(*kind) : "none";
}

const std::vector<std::optional<Kind>> kLocalKinds = {std::nullopt, KIND_FILE, KIND_DIR,
                                                      KIND_SYMLINK, KIND_TOMBSTONE};
const std::vector<Kind> kRemoteKinds = {KIND_FILE, KIND_DIR, KIND_SYMLINK, KIND_TOMBSTONE};

// How the remote version relates to the local one.
enum class Relation { kNewer, kOlder, kEqual, kConcurrentNewer, kConcurrentOlder };
const std::vector<Relation> kRelations = {Relation::kNewer, Relation::kOlder, Relation::kEqual,
                                          Relation::kConcurrentNewer,
                                          Relation::kConcurrentOlder};

struct Pair {
  std::optional<Entry> local;
  Entry remote;
};

// Local at hlc 100 with vector {local: 1, remote: 1}. A newer remote saw it
// ({1, 2}); a concurrent one did not ({0, 2}); an older one it descends
// from ({0, 1}).
Pair MakePair(const std::optional<Kind>& local_kind, Kind remote_kind, Relation relation) {
  Pair p;
  if (local_kind.has_value()) p.local = MakeEntry(*local_kind, 100, kLocalNode, 1, 1, "local");
  switch (relation) {
    case Relation::kNewer: p.remote = MakeEntry(remote_kind, 200, kRemoteNode, 1, 2); break;
    case Relation::kOlder: p.remote = MakeEntry(remote_kind, 50, kRemoteNode, 0, 1); break;
    case Relation::kEqual: p.remote = MakeEntry(remote_kind, 100, kLocalNode, 1, 1, "local"); break;
    case Relation::kConcurrentNewer:
      p.remote = MakeEntry(remote_kind, 200, kRemoteNode, 0, 2);
      break;
    case Relation::kConcurrentOlder:
      p.remote = MakeEntry(remote_kind, 50, kRemoteNode, 0, 2);
      break;
  }
  return p;
}

bool RemoteNewer(Relation relation) {
  return relation == Relation::kNewer || relation == Relation::kConcurrentNewer;
}

// The kind of object an entry of MakeEntry's keeps an attribute register for.
Kind Described(Kind kind) { return kind == KIND_TOMBSTONE ? KIND_FILE : kind; }

// The contract, restated per case: the expected verdict for the pair, with
// the object the local entry left on disk.
Verdict Expected(const std::optional<Kind>& local_kind, Kind remote_kind, Relation relation,
                 bool live_descendant) {
  const bool content_wins = !local_kind.has_value() || RemoteNewer(relation);
  // Losing content brings nothing but a register of a kind the local entry
  // has none of: recorded, for what may come back.
  if (!content_wins) {
    return Described(*local_kind) == Described(remote_kind) ? Verdict::kIgnore
                                                            : Verdict::kRecordOnly;
  }
  // The local entry's own version, where this replica holds none: never
  // issued here.
  if (relation == Relation::kEqual) return Verdict::kRefuseForged;  // Attributes are as old as the content.
  if (local_kind == KIND_DIR && remote_kind != KIND_DIR && live_descendant) {
    return Verdict::kKeepForDescendants;
  }
  if (local_kind == KIND_FILE && relation == Relation::kConcurrentNewer) {
    return Verdict::kReplaceKeepingLoser;
  }
  return Verdict::kReplace;
}

TEST(ApplyVerdictTest, EveryPairOfKindsAndVersions) {
  for (const std::optional<Kind>& local_kind : kLocalKinds) {
    for (Kind remote_kind : kRemoteKinds) {
      for (Relation relation : kRelations) {
        for (bool live_descendant : {false, true}) {
          const Pair p = MakePair(local_kind, remote_kind, relation);
          ResolveInputs in;
          in.local = p.local.has_value() ? &*p.local : nullptr;
          in.remote = &p.remote;
          in.own_node = kLocalNode;
          in.disk = DiskState{false, ObjectFor(local_kind), live_descendant};
          const Resolution r = Resolve(in);
          const Verdict expected = Expected(local_kind, remote_kind, relation, live_descendant);
          EXPECT_EQ(VerdictName(r.verdict), std::string(VerdictName(expected)))
              << "local " << KindName(local_kind) << ", remote " << Kind_Name(remote_kind)
              << ", relation " << static_cast<int>(relation) << ", live descendant "
              << live_descendant;
          if (!r.content_wins || r.verdict == Verdict::kRefuseForged) continue;
          ASSERT_EQ(r.content_from, &p.remote);
          const Entry result = ResultingEntry(r);
          EXPECT_EQ(result.content().kind(), remote_kind);
          EXPECT_EQ(CompareVersions(result.content().version(), p.remote.content().version()), 0);
          // Before the disk is looked at, winning content is a replacement.
          in.disk.reset();
          EXPECT_EQ(Resolve(in).verdict, Verdict::kReplace);
        }
      }
    }
  }
}

// Newer attributes with older content are kept whatever the kinds: set on
// a live object of their kind, only recorded elsewhere (for what may come
// back at the path).
TEST(ApplyVerdictTest, NewerAttributesOfAnyKindAreKept) {
  for (const std::optional<Kind>& local_kind : kLocalKinds) {
    if (!local_kind.has_value()) continue;
    for (Kind remote_kind : kRemoteKinds) {
      Pair p = MakePair(local_kind, remote_kind, Relation::kOlder);
      *p.remote.mutable_attributes()->mutable_version() = MakeVersion(300, kRemoteNode);
      p.remote.mutable_attributes()->set_mode(0600);
      ResolveInputs in{&*p.local, &p.remote, nullptr, kLocalNode, false,
                       DiskState{false, ObjectFor(local_kind), false}};
      const Resolution r = Resolve(in);
      const Kind described = Described(remote_kind);
      const bool set_there = *local_kind == described;
      EXPECT_EQ(VerdictName(r.verdict),
                std::string(VerdictName(set_there ? Verdict::kAttributesOnly
                                                  : Verdict::kRecordOnly)))
          << KindName(local_kind) << " " << Kind_Name(remote_kind);
      EXPECT_FALSE(r.content_wins);
      const Entry result = ResultingEntry(r);
      EXPECT_EQ(result.content().SerializeAsString(), p.local->content().SerializeAsString());
      const AttributeRegisters registers = AttributeRegisters::Of(result);
      const Attributes* kept = registers.Get(described);
      ASSERT_NE(kept, nullptr);
      EXPECT_EQ(kept->mode(), 0600U);
      if (*local_kind != KIND_TOMBSTONE && !set_there) {
        EXPECT_EQ(result.attributes().SerializeAsString(), p.local->attributes().SerializeAsString());
      }
    }
  }
}

// Older replicas' tombstones carry no register: any register beats none,
// one they win over is kept, and they change no live object's.
TEST(ApplyVerdictTest, ATombstoneWithoutARegisterTakesAnyAndGivesNone) {
  const Entry bare = WithoutRegister(MakeEntry(KIND_TOMBSTONE, 100, kRemoteNode, 1, 1));
  const Entry older = MakeEntry(KIND_DIR, 50, kRemoteNode, 0, 1);
  Resolution r = Resolve({&bare, &older, nullptr, kLocalNode, false, std::nullopt});
  EXPECT_EQ(r.verdict, Verdict::kAttributesOnly);
  EXPECT_EQ(ResultingEntry(r).attributes().kind(), KIND_DIR);
  const Entry file = MakeEntry(KIND_FILE, 200, kLocalNode, 1, 0);
  EXPECT_EQ(Resolve({&file, &bare, nullptr, kLocalNode, false, std::nullopt}).verdict,
            Verdict::kIgnore);
  const Entry newer_bare = WithoutRegister(MakeEntry(KIND_TOMBSTONE, 300, kRemoteNode, 1, 2));
  r = Resolve({&file, &newer_bare, nullptr, kLocalNode, false, std::nullopt});
  EXPECT_EQ(r.verdict, Verdict::kReplace);
  EXPECT_EQ(ResultingEntry(r).attributes().kind(), KIND_FILE);
  EXPECT_EQ(CompareVersions(ResultingEntry(r).attributes().version(), file.attributes().version()), 0);
}

TEST(ApplyVerdictTest, AttributesOfAnAbsentObjectOrOfADirectoryStandingInAreOnlyRecorded) {
  Pair p = MakePair(KIND_FILE, KIND_FILE, Relation::kOlder);
  *p.remote.mutable_attributes()->mutable_version() = MakeVersion(300, kRemoteNode);
  ResolveInputs in{&*p.local, &p.remote, nullptr, kLocalNode, false,
                   DiskState{false, ObjectAtPath::kNone, false}};
  EXPECT_EQ(Resolve(in).verdict, Verdict::kRecordOnly);
  // Found by the convergence simulation, seed 785.
  in.disk = DiskState{false, ObjectAtPath::kDirectory, true};
  EXPECT_EQ(Resolve(in).verdict, Verdict::kRecordOnly);
  in.disk.reset();
  EXPECT_EQ(Resolve(in).verdict, Verdict::kAttributesOnly);
}

TEST(ApplyVerdictTest, NewerAttributesOfTheLoserAreKept) {
  Pair p = MakePair(KIND_FILE, KIND_FILE, Relation::kNewer);
  *p.local->mutable_attributes()->mutable_version() = MakeVersion(400, kLocalNode);
  p.local->mutable_attributes()->set_mode(0640);
  const Resolution r = Resolve({&*p.local, &p.remote, nullptr, kLocalNode, false, std::nullopt});
  EXPECT_EQ(r.verdict, Verdict::kReplace);
  EXPECT_EQ(ResultingEntry(r).attributes().mode(), 0640U);
  // Not across kinds: the winning content's attributes go with it.
  Pair q = MakePair(KIND_SYMLINK, KIND_FILE, Relation::kNewer);
  *q.local->mutable_attributes()->mutable_version() = MakeVersion(400, kLocalNode);
  q.local->mutable_attributes()->set_mode(0640);
  const Entry result =
      ResultingEntry(Resolve({&*q.local, &q.remote, nullptr, kLocalNode, false, std::nullopt}));
  EXPECT_EQ(result.attributes().mode(), 0644U);
  // The symlink's stays beside it, for a symlink that comes back.
  ASSERT_EQ(result.other_kinds_size(), 1);
  EXPECT_EQ(result.other_kinds(0).kind(), KIND_SYMLINK);
  EXPECT_EQ(result.other_kinds(0).mode(), 0640U);
}

TEST(ApplyVerdictTest, SameContentConcurrentIsReplacedWithoutACopy) {
  Pair p = MakePair(KIND_FILE, KIND_FILE, Relation::kConcurrentNewer);
  p.remote.mutable_content()->set_inline_data("local");
  p.remote.mutable_content()->set_size(5);
  p.remote.mutable_content()->set_mtime_ns(p.local->content().mtime_ns());
  const Resolution r = Resolve({&*p.local, &p.remote, nullptr, kLocalNode, false,
                                DiskState{false, ObjectAtPath::kRegularFile, false}});
  EXPECT_EQ(r.verdict, Verdict::kReplace);
  // A local file the disk does not hold as one has nothing to keep.
  p.remote.mutable_content()->set_inline_data("other");
  EXPECT_EQ(Resolve({&*p.local, &p.remote, nullptr, kLocalNode, false,
                     DiskState{false, ObjectAtPath::kOther, false}})
                .verdict,
            Verdict::kReplace);
}

TEST(ApplyVerdictTest, OpenForWritingDefersWinningContentOnly) {
  const Pair p = MakePair(KIND_FILE, KIND_FILE, Relation::kNewer);
  EXPECT_EQ(Resolve({&*p.local, &p.remote, nullptr, kLocalNode, true, std::nullopt}).verdict,
            Verdict::kDefer);
  EXPECT_EQ(Resolve({nullptr, &p.remote, nullptr, kLocalNode, true, std::nullopt}).verdict,
            Verdict::kDefer);
  Pair q = MakePair(KIND_FILE, KIND_FILE, Relation::kOlder);
  *q.remote.mutable_attributes()->mutable_version() = MakeVersion(300, kRemoteNode);
  EXPECT_EQ(Resolve({&*q.local, &q.remote, nullptr, kLocalNode, true, std::nullopt}).verdict,
            Verdict::kAttributesOnly);
}

TEST(ApplyVerdictTest, RefusesAVersionOfThisReplicaItNeverIssued) {
  const Entry forged = MakeEntry(KIND_FILE, 200, kLocalNode, 2, 0);
  const Entry local = MakeEntry(KIND_FILE, 100, kLocalNode, 1, 0);
  EXPECT_EQ(Resolve({&local, &forged, nullptr, kLocalNode, true, std::nullopt}).verdict,
            Verdict::kRefuseForged);
  EXPECT_EQ(Resolve({nullptr, &forged, nullptr, kLocalNode, false, std::nullopt}).verdict,
            Verdict::kRefuseForged);
  // Without a node id there is nothing to check against.
  EXPECT_EQ(Resolve({&local, &forged, nullptr, 0, false, std::nullopt}).verdict,
            Verdict::kReplace);
  // An old version of ours loses as any other.
  EXPECT_EQ(Resolve({&forged, &local, nullptr, kLocalNode, false, std::nullopt}).verdict,
            Verdict::kIgnore);
}

TEST(ApplyVerdictTest, ALiveEntryBeneathANonDirectoryRevivesTheAncestor) {
  for (Kind remote_kind : kRemoteKinds) {
    const Entry remote = MakeEntry(remote_kind, 200, kRemoteNode, 0, 1);
    const Resolution r = Resolve({nullptr, &remote, nullptr, kLocalNode, false,
                                  DiskState{true, ObjectAtPath::kNone, false}});
    // A tombstone there has nothing on disk to remove.
    EXPECT_EQ(r.verdict, remote_kind == KIND_TOMBSTONE ? Verdict::kRecordOnly
                                                       : Verdict::kReviveAncestor)
        << Kind_Name(remote_kind);
  }
  // Also winning attributes revive it.
  Pair p = MakePair(KIND_FILE, KIND_FILE, Relation::kOlder);
  *p.remote.mutable_attributes()->mutable_version() = MakeVersion(300, kRemoteNode);
  EXPECT_EQ(Resolve({&*p.local, &p.remote, nullptr, kLocalNode, false,
                     DiskState{true, ObjectAtPath::kNone, false}})
                .verdict,
            Verdict::kReviveAncestor);
}

TEST(ApplyVerdictTest, ADirectoryWithLiveDescendantsIsKeptForThem) {
  for (Kind remote_kind : {KIND_TOMBSTONE, KIND_FILE, KIND_SYMLINK}) {
    const Pair p = MakePair(KIND_DIR, remote_kind, Relation::kNewer);
    EXPECT_EQ(Resolve({&*p.local, &p.remote, nullptr, kLocalNode, false,
                       DiskState{false, ObjectAtPath::kDirectory, true}})
                  .verdict,
              Verdict::kKeepForDescendants);
    // A directory standing in for a hidden file is kept as well.
    const Pair q = MakePair(KIND_FILE, remote_kind, Relation::kNewer);
    EXPECT_EQ(Resolve({&*q.local, &q.remote, nullptr, kLocalNode, false,
                       DiskState{false, ObjectAtPath::kDirectory, true}})
                  .verdict,
              Verdict::kKeepForDescendants);
  }
}

TEST(ApplyVerdictTest, LaterEntriesAreDecidedAgainstTheSetAsideEntry) {
  const Entry local = MakeEntry(KIND_FILE, 100, kLocalNode, 1, 0);
  const Entry aside = MakeEntry(KIND_FILE, 300, kRemoteNode, 1, 1);
  // Older content than the set-aside entry: ignored...
  Entry older = MakeEntry(KIND_FILE, 200, kRemoteNode, 1, 1);
  EXPECT_EQ(Resolve({&local, &older, &aside, kLocalNode, false, std::nullopt}).verdict,
            Verdict::kIgnore);
  // ...but its newer attributes go into the set-aside entry.
  *older.mutable_attributes()->mutable_version() = MakeVersion(400, kRemoteNode);
  older.mutable_attributes()->set_mode(0600);
  const Resolution folded = Resolve({&local, &older, &aside, kLocalNode, false, std::nullopt});
  EXPECT_EQ(folded.verdict, Verdict::kFoldIntoSetAside);
  EXPECT_EQ(folded.content_from, &aside);
  EXPECT_EQ(ResultingEntry(folded).attributes().mode(), 0600U);
  // Newer content than the set-aside entry wins, and keeps its newer
  // attributes when they are the newest.
  Entry aside_chmod = aside;
  *aside_chmod.mutable_attributes()->mutable_version() = MakeVersion(600, kRemoteNode);
  aside_chmod.mutable_attributes()->set_mode(0700);
  const Entry newer = MakeEntry(KIND_FILE, 500, kRemoteNode, 1, 2);
  const Resolution r = Resolve({&local, &newer, &aside_chmod, kLocalNode, false, std::nullopt});
  EXPECT_EQ(r.verdict, Verdict::kReplace);
  EXPECT_EQ(ResultingEntry(r).attributes().mode(), 0700U);
  // A set-aside entry a newer local version superseded decides nothing:
  // the local entry does (here the attributes win over its own).
  const Entry newer_local = MakeEntry(KIND_FILE, 350, kLocalNode, 2, 1);
  EXPECT_EQ(Resolve({&newer_local, &older, &aside, kLocalNode, false, std::nullopt}).verdict,
            Verdict::kAttributesOnly);
  const Entry newest_local = MakeEntry(KIND_FILE, 450, kLocalNode, 2, 1);
  EXPECT_EQ(Resolve({&newest_local, &older, &aside, kLocalNode, false, std::nullopt}).verdict,
            Verdict::kIgnore);
}

// A tombstone at `hlc` whose attribute register describes a `kind` object:
// set at `attributes_hlc` with `mode`.
Entry TombstoneKeeping(uint64_t hlc, Kind kind, uint64_t attributes_hlc, uint32_t mode) {
  Entry e = MakeEntry(KIND_TOMBSTONE, hlc, kRemoteNode, 1, 2);
  Attributes* a = e.mutable_attributes();
  a->set_kind(kind);
  *a->mutable_version() = MakeVersion(attributes_hlc, kRemoteNode);
  a->set_mode(mode);
  return e;
}

// A file entry whose content is at `hlc` and attributes at `attributes_hlc`.
Entry FileWithAttributes(uint64_t hlc, uint64_t attributes_hlc, uint32_t mode,
                         uint64_t node = kRemoteNode) {
  Entry e = MakeEntry(KIND_FILE, hlc, node, 1, 1);
  *e.mutable_attributes()->mutable_version() = MakeVersion(attributes_hlc, node);
  e.mutable_attributes()->set_mode(mode);
  return e;
}

TEST(ApplyVerdictTest, AChmodConcurrentWithADeleteGoesIntoTheTombstone) {
  const Entry tombstone = TombstoneKeeping(200, KIND_FILE, 100, 0644);
  const Entry chmod = FileWithAttributes(100, 250, 0600);
  for (const DiskState& disk : {DiskState{false, ObjectAtPath::kNone, false},
                                // A directory kept for live descendants.
                                DiskState{false, ObjectAtPath::kDirectory, true},
                                DiskState{true, ObjectAtPath::kNone, false}}) {
    const Resolution r = Resolve({&tombstone, &chmod, nullptr, kLocalNode, false, disk});
    EXPECT_EQ(VerdictName(r.verdict), std::string(VerdictName(Verdict::kRecordOnly)));
    EXPECT_FALSE(r.content_wins);
    const Entry result = ResultingEntry(r);
    EXPECT_EQ(result.content().SerializeAsString(), tombstone.content().SerializeAsString());
    EXPECT_EQ(result.attributes().kind(), KIND_FILE);
    EXPECT_EQ(result.attributes().mode(), 0600U);
    EXPECT_EQ(CompareVersions(result.attributes().version(), chmod.attributes().version()), 0);
  }
  // Not older than the register it holds, nor the same one again.
  for (uint64_t attributes_hlc : {uint64_t{90}, uint64_t{100}}) {
    const Entry old_chmod = FileWithAttributes(100, attributes_hlc, 0600);
    EXPECT_EQ(Resolve({&tombstone, &old_chmod, nullptr, kLocalNode, false, std::nullopt}).verdict,
              Verdict::kIgnore)
        << attributes_hlc;
  }
}

TEST(ApplyVerdictTest, AWinningTombstoneKeepsTheNewerRegisterOfWhatItDeletes) {
  const Entry chmodded = FileWithAttributes(100, 250, 0600, kLocalNode);
  const Entry tombstone = TombstoneKeeping(200, KIND_FILE, 100, 0644);
  Resolution r = Resolve({&chmodded, &tombstone, nullptr, kLocalNode, false, std::nullopt});
  EXPECT_EQ(r.verdict, Verdict::kReplace);
  EXPECT_EQ(ResultingEntry(r).attributes().kind(), KIND_FILE);
  EXPECT_EQ(ResultingEntry(r).attributes().mode(), 0600U);
  // A newer register it carries wins.
  const Entry newer = TombstoneKeeping(200, KIND_FILE, 300, 0640);
  r = Resolve({&chmodded, &newer, nullptr, kLocalNode, false, std::nullopt});
  EXPECT_EQ(ResultingEntry(r).attributes().mode(), 0640U);
  // A tombstone of an older replica carries none: it takes the local one.
  const Entry bare = WithoutRegister(MakeEntry(KIND_TOMBSTONE, 200, kRemoteNode, 1, 2));
  r = Resolve({&chmodded, &bare, nullptr, kLocalNode, false, std::nullopt});
  EXPECT_EQ(ResultingEntry(r).attributes().kind(), KIND_FILE);
  EXPECT_EQ(ResultingEntry(r).attributes().mode(), 0600U);
  const Entry local_tombstone = TombstoneKeeping(150, KIND_DIR, 120, 0700);
  r = Resolve({&local_tombstone, &bare, nullptr, kLocalNode, false, std::nullopt});
  EXPECT_EQ(ResultingEntry(r).attributes().kind(), KIND_DIR);
  EXPECT_EQ(ResultingEntry(r).attributes().mode(), 0700U);
}

TEST(ApplyVerdictTest, WhatComesBackGetsTheTombstonesNewerRegisterOfItsKind) {
  const Entry tombstone = TombstoneKeeping(200, KIND_FILE, 250, 0600);
  // A write that never saw the chmod (its attributes are older).
  const Entry write = FileWithAttributes(220, 100, 0644);
  Resolution r = Resolve({&tombstone, &write, nullptr, kLocalNode, false, std::nullopt});
  EXPECT_EQ(r.verdict, Verdict::kReplace);
  EXPECT_EQ(ResultingEntry(r).attributes().mode(), 0600U);
  EXPECT_EQ(ResultingEntry(r).attributes().kind(), KIND_UNSPECIFIED);  // A live entry's is its own kind.
  EXPECT_EQ(CompareVersions(ResultingEntry(r).attributes().version(), tombstone.attributes().version()), 0);
  // A re-create made after the chmod: its own attributes are newer.
  const Entry recreate = FileWithAttributes(300, 300, 0644);
  r = Resolve({&tombstone, &recreate, nullptr, kLocalNode, false, std::nullopt});
  EXPECT_EQ(ResultingEntry(r).attributes().mode(), 0644U);
  // Another kind comes back with its own.
  Entry dir = MakeEntry(KIND_DIR, 220, kRemoteNode, 1, 2);
  *dir.mutable_attributes()->mutable_version() = MakeVersion(100, kRemoteNode);
  dir.mutable_attributes()->set_mode(0755);
  r = Resolve({&tombstone, &dir, nullptr, kLocalNode, false, std::nullopt});
  EXPECT_EQ(ResultingEntry(r).attributes().mode(), 0755U);
}

TEST(ApplyVerdictTest, ALosingTombstonesNewerRegisterIsKept) {
  const Entry tombstone = TombstoneKeeping(200, KIND_FILE, 250, 0600);
  const Entry file = FileWithAttributes(300, 100, 0644, kLocalNode);
  Resolution r = Resolve({&file, &tombstone, nullptr, kLocalNode, false,
                          DiskState{false, ObjectAtPath::kRegularFile, false}});
  EXPECT_EQ(r.verdict, Verdict::kAttributesOnly);
  Entry result = ResultingEntry(r);
  EXPECT_EQ(result.content().kind(), KIND_FILE);
  EXPECT_EQ(result.attributes().mode(), 0600U);
  EXPECT_EQ(result.attributes().kind(), KIND_UNSPECIFIED);
  // Another kind's is kept beside the file's, not set on it.
  const Entry dir_tombstone = TombstoneKeeping(200, KIND_DIR, 250, 0700);
  r = Resolve({&file, &dir_tombstone, nullptr, kLocalNode, false,
               DiskState{false, ObjectAtPath::kRegularFile, false}});
  EXPECT_EQ(r.verdict, Verdict::kRecordOnly);
  result = ResultingEntry(r);
  EXPECT_EQ(result.attributes().mode(), 0644U);
  ASSERT_EQ(result.other_kinds_size(), 1);
  EXPECT_EQ(result.other_kinds(0).kind(), KIND_DIR);
  EXPECT_EQ(result.other_kinds(0).mode(), 0700U);
  // A tombstone holds the newest register of any kind.
  const Entry newer_tombstone = TombstoneKeeping(300, KIND_DIR, 120, 0700);
  r = Resolve({&newer_tombstone, &tombstone, nullptr, kLocalNode, false,
               DiskState{false, ObjectAtPath::kNone, false}});
  EXPECT_EQ(r.verdict, Verdict::kRecordOnly);
  result = ResultingEntry(r);
  EXPECT_EQ(CompareVersions(result.content().version(), newer_tombstone.content().version()), 0);
  EXPECT_EQ(result.attributes().kind(), KIND_FILE);
  EXPECT_EQ(result.attributes().mode(), 0600U);
}

TEST(ApplyVerdictTest, EveryVerdictHasAName) {
  for (Verdict v : {Verdict::kIgnore, Verdict::kFoldIntoSetAside, Verdict::kRefuseForged,
                    Verdict::kDefer, Verdict::kAttributesOnly, Verdict::kRecordOnly,
                    Verdict::kReplace, Verdict::kReplaceKeepingLoser, Verdict::kReviveAncestor,
                    Verdict::kKeepForDescendants}) {
    EXPECT_NE(std::string(VerdictName(v)), "?");
  }
}

}  // namespace
}  // namespace replfs
