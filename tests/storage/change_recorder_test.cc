#include "storage/change_recorder.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/unique_fd.h"
#include "gtest/gtest.h"
#include "storage/content_hasher.h"
#include "storage/file_blocks.h"
#include "storage/register_compare.h"
#include "storage/version.h"
#include "storage/version_records.h"
#include "tests/support/store_and_recorder.h"

namespace replfs {
namespace {

namespace fs = std::filesystem;
constexpr uint64_t kNode = 0x1111;

// A small file's data as the store holds it: one block of its own size.
std::vector<std::string> HashesOf(const std::string& bytes) { return {Sha256(bytes)}; }
constexpr uint64_t kOtherNode = 0x2222;

class ChangeRecorderTest : public testing::StoreAndRecorderTest {
 protected:
  // A frozen wall clock: versions differ by their HLC counter only.
  ChangeRecorderTest()
      : StoreAndRecorderTest("recorder-test", kNode, [] { return uint64_t{1'700'000'000'000}; }) {}

  ObservedObject Observe(const std::string& rel) {
    absl::StatusOr<ObservedObject> o = ObserveAt(root_.get(), rel.c_str(), nullptr, nullptr);
    EXPECT_TRUE(o.ok()) << rel << ": " << o.status();
    return o.ok() ? *o : ObservedObject{};
  }

  LocalStat StatOf(const std::string& rel) {
    struct stat st;
    EXPECT_EQ(::lstat(B(rel).c_str(), &st), 0) << rel;
    return LocalStatOf(st);
  }

  // Records the object at `rel` and returns whether a version was made.
  bool Record(const std::string& rel) {
    absl::StatusOr<bool> r = recorder_->RecordObject(rel, Observe(rel));
    EXPECT_TRUE(r.ok()) << rel << ": " << r.status();
    return r.ok() && *r;
  }

  // The entry of `rel`, which must exist.
  Entry Get(const std::string& rel) {
    std::optional<Entry> e = Find(rel);
    EXPECT_TRUE(e.has_value()) << "no entry for " << rel;
    return e.value_or(Entry{});
  }

  bool Has(const std::string& rel) { return Find(rel).has_value(); }

  static bool IsTombstone(const Entry& e) { return e.content().kind() == KIND_TOMBSTONE; }

  static uint64_t CounterOf(const Entry& e, uint64_t node) {
    for (const auto& item : e.content().vector()) {
      if (item.node() == node) return item.counter();
    }
    return 0;
  }
};

TEST_F(ChangeRecorderTest, NewObjectGetsBothRegistersVersioned) {
  WriteFile("f", "hello");
  ASSERT_TRUE(Record("f"));
  const Entry e = Get("f");
  EXPECT_EQ(e.seq(), 1u);
  EXPECT_EQ(e.content().kind(), KIND_FILE);
  EXPECT_EQ(e.content().size(), 5u);
  EXPECT_EQ(FileBlockHashes(e.content()), HashesOf("hello"));
  EXPECT_EQ(e.content().size(), 5u);
  EXPECT_EQ(e.content().version().node(), kNode);
  EXPECT_GT(e.content().version().hlc(), 0u);
  EXPECT_EQ(CompareVersions(e.content().version(), e.attributes().version()), 0);
  ASSERT_EQ(e.content().vector_size(), 1);
  // A node's counter is the HLC of its latest change to the path.
  EXPECT_EQ(CounterOf(e, kNode), e.content().version().hlc());
  EXPECT_EQ(e.local_stat().ino(), StatOf("f").ino());
  EXPECT_EQ(store_->MaxHlc(), e.content().version().hlc());

  fs::create_directory(B("d"));
  ::symlink("f", B("link").c_str());
  ASSERT_TRUE(Record("d"));
  ASSERT_TRUE(Record("link"));
  EXPECT_EQ(Get("d").content().kind(), KIND_DIR);
  EXPECT_EQ(Get("link").content().kind(), KIND_SYMLINK);
  EXPECT_EQ(Get("link").content().symlink_target(), "f");
  EXPECT_GT(Get("link").content().version().hlc(), e.content().version().hlc());
  EXPECT_EQ(store_->LastSeq(), 3u);
}

TEST_F(ChangeRecorderTest, UnchangedObjectOnlyRefreshesLocalStat) {
  WriteFile("f", "hello");
  ASSERT_TRUE(Record("f"));
  const Entry before = Get("f");
  ObservedObject again = Observe("f");
  again.local_stat.set_ctime_ns(again.local_stat.ctime_ns() + 12345);  // Touched, not changed.
  absl::StatusOr<bool> r = recorder_->RecordObject("f", again);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(*r);
  EXPECT_EQ(store_->LastSeq(), 1u);
  const Entry after = Get("f");
  EXPECT_EQ(after.seq(), before.seq());
  EXPECT_EQ(after.local_stat().ctime_ns(), again.local_stat.ctime_ns());
  EXPECT_EQ(after.content().SerializeAsString(), before.content().SerializeAsString());
  EXPECT_EQ(after.attributes().SerializeAsString(), before.attributes().SerializeAsString());
}

TEST_F(ChangeRecorderTest, ChmodBumpsOnlyTheAttributeRegister) {
  WriteFile("f", "hello");
  ASSERT_EQ(::chmod(B("f").c_str(), 0644), 0);
  ASSERT_TRUE(Record("f"));
  const Entry before = Get("f");
  ASSERT_EQ(::chmod(B("f").c_str(), 0600), 0);
  ASSERT_TRUE(Record("f"));
  const Entry after = Get("f");
  EXPECT_EQ(after.attributes().mode(), 0600u);
  EXPECT_GT(CompareVersions(after.attributes().version(), before.attributes().version()), 0);
  EXPECT_EQ(CompareVersions(after.content().version(), before.content().version()), 0);
  EXPECT_EQ(CounterOf(after, kNode), CounterOf(before, kNode));  // Content vector untouched.
  EXPECT_GT(after.seq(), before.seq());

  // A user xattr is an attribute change too.
  ASSERT_EQ(::setxattr(B("f").c_str(), "user.color", "blue", 4, 0), 0);
  ASSERT_TRUE(Record("f"));
  const Entry tagged = Get("f");
  ASSERT_EQ(tagged.attributes().xattrs_size(), 1);
  EXPECT_EQ(tagged.attributes().xattrs(0).name(), "user.color");
  EXPECT_EQ(tagged.attributes().xattrs(0).value(), "blue");
  EXPECT_GT(CompareVersions(tagged.attributes().version(), after.attributes().version()), 0);
  EXPECT_EQ(CompareVersions(tagged.content().version(), before.content().version()), 0);
}

TEST_F(ChangeRecorderTest, ContentChangeBumpsContentVersionAndVector) {
  WriteFile("f", "hello");
  ASSERT_TRUE(Record("f"));
  const Entry before = Get("f");
  WriteFile("f", "hello, world");
  ASSERT_TRUE(Record("f"));
  const Entry after = Get("f");
  EXPECT_EQ(FileBlockHashes(after.content()), HashesOf("hello, world"));
  EXPECT_GT(CompareVersions(after.content().version(), before.content().version()), 0);
  EXPECT_EQ(CompareVersions(after.attributes().version(), before.attributes().version()), 0);
  EXPECT_EQ(CounterOf(after, kNode), after.content().version().hlc());
  EXPECT_GT(CounterOf(after, kNode), CounterOf(before, kNode));
  EXPECT_TRUE(VectorDominates(after.content().vector(), before.content().vector()));
  EXPECT_FALSE(VectorDominates(before.content().vector(), after.content().vector()));
}

TEST_F(ChangeRecorderTest, DeleteOfDirectoryTombstonesItsRecordedSubtree) {
  fs::create_directories(B("d/sub"));
  fs::create_directories(B("dx"));
  WriteFile("d/a", "a");
  WriteFile("d/sub/b", "b");
  WriteFile("d.txt", "sibling that sorts before d/");
  for (const char* p : {"d", "d/a", "d/sub", "d/sub/b", "dx", "d.txt"}) ASSERT_TRUE(Record(p));
  const uint64_t seq_before = store_->LastSeq();
  const Entry dx_before = Get("dx");
  fs::remove_all(B("d"));
  ASSERT_TRUE(recorder_->RecordDelete("d").ok());
  EXPECT_EQ(store_->LastSeq(), seq_before + 4);  // One batch, four tombstones.
  std::optional<Version> batch_version;
  std::set<uint64_t> seqs;
  for (const char* p : {"d", "d/a", "d/sub", "d/sub/b"}) {
    const Entry e = Get(p);
    EXPECT_TRUE(IsTombstone(e)) << p;
    EXPECT_GT(e.seq(), seq_before) << p;
    seqs.insert(e.seq());
    EXPECT_EQ(CounterOf(e, kNode), e.content().version().hlc())
        << p << ": tombstone descends from the live entry";
    if (!batch_version) batch_version = e.content().version();
    EXPECT_EQ(CompareVersions(e.content().version(), *batch_version), 0) << p;
  }
  EXPECT_EQ(seqs.size(), 4u);
  EXPECT_EQ(Get("dx").SerializeAsString(), dx_before.SerializeAsString());
  EXPECT_FALSE(IsTombstone(Get("d.txt")));

  // Deleting again, or deleting what was never recorded, commits nothing.
  ASSERT_TRUE(recorder_->RecordDelete("d").ok());
  ASSERT_TRUE(recorder_->RecordDelete("never-there").ok());
  EXPECT_EQ(store_->LastSeq(), seq_before + 4);
  EXPECT_FALSE(Has("never-there"));
}

TEST_F(ChangeRecorderTest, RecreateAfterDeleteDescendsFromTombstone) {
  WriteFile("f", "one");
  ASSERT_TRUE(Record("f"));
  fs::remove(B("f"));
  ASSERT_TRUE(recorder_->RecordDelete("f").ok());
  const Entry tombstone = Get("f");
  WriteFile("f", "two");
  ASSERT_TRUE(Record("f"));
  const Entry reborn = Get("f");
  EXPECT_EQ(reborn.content().kind(), KIND_FILE);
  EXPECT_GT(CompareVersions(reborn.content().version(), tombstone.content().version()), 0);
  EXPECT_GT(CompareVersions(reborn.attributes().version(), tombstone.attributes().version()), 0);
  EXPECT_TRUE(VectorDominates(reborn.content().vector(), tombstone.content().vector()));
  EXPECT_EQ(CounterOf(reborn, kNode), reborn.content().version().hlc());
}

// A delete is no attribute change: the tombstone keeps the register of what
// it deleted, version and all, and names its kind, so a concurrent chmod is
// merged with it by version.
TEST_F(ChangeRecorderTest, ATombstoneKeepsTheAttributeRegisterOfWhatItDeleted) {
  fs::create_directories(B("d"));
  WriteFile("d/f", "data");
  ASSERT_EQ(::chmod(B("d/f").c_str(), 0640), 0);
  ASSERT_EQ(::setxattr(B("d/f").c_str(), "user.color", "blue", 4, 0), 0);
  ASSERT_EQ(::chmod(B("d").c_str(), 0750), 0);
  ASSERT_TRUE(Record("d"));
  ASSERT_TRUE(Record("d/f"));
  const Entry live_dir = Get("d");
  const Entry live_file = Get("d/f");
  fs::remove_all(B("d"));
  ASSERT_TRUE(recorder_->RecordDelete("d").ok());
  for (const Entry* live : {&live_dir, &live_file}) {
    const Entry dead = Get(live->path());
    ASSERT_TRUE(IsTombstone(dead)) << live->path();
    EXPECT_EQ(dead.attributes().kind(), live->content().kind()) << live->path();
    Attributes kept = dead.attributes();
    kept.clear_kind();
    EXPECT_EQ(kept.SerializeAsString(), live->attributes().SerializeAsString()) << live->path();
    EXPECT_LT(CompareVersions(dead.attributes().version(), dead.content().version()), 0);
  }
}

// Once every peer has a tombstone it is purged, and the path's history is
// forgotten here; a peer may still hold it, in a version that descends from
// the tombstone. A write made here after the purge is concurrent with that
// version: its vector must not be dominated by it, or the write would be
// replaced without a conflict copy.
TEST_F(ChangeRecorderTest, WriteAfterPurgedTombstoneIsNotDominatedByTheForgottenHistory) {
  WriteFile("f", "one");
  ASSERT_TRUE(Record("f"));
  WriteFile("f", "two");
  ASSERT_TRUE(Record("f"));
  fs::remove(B("f"));
  ASSERT_TRUE(recorder_->RecordDelete("f").ok());
  const Entry tombstone = Get("f");
  // A peer's write that saw the tombstone.
  google::protobuf::RepeatedPtrField<VersionVectorItem> peer = tombstone.content().vector();
  BumpVector(&peer, kOtherNode, tombstone.content().version().hlc() + 1);
  absl::StatusOr<bool> purged = store_->PurgeTombstone("f", tombstone.seq());
  ASSERT_TRUE(purged.ok() && *purged);
  ASSERT_FALSE(Has("f"));

  WriteFile("f", "three");
  ASSERT_TRUE(Record("f"));
  const Entry after_purge = Get("f");
  EXPECT_FALSE(VectorDominates(peer, after_purge.content().vector()))
      << "the write after the purge looks outdated by the peer's version";
  EXPECT_FALSE(VectorDominates(after_purge.content().vector(), peer));
}

TEST_F(ChangeRecorderTest, RenameFileOverExistingTargetIsOneBatch) {
  WriteFile("a", "content of a");
  WriteFile("b", "content of b");
  ASSERT_EQ(::chmod(B("a").c_str(), 0640), 0);
  ASSERT_TRUE(Record("a"));
  ASSERT_TRUE(Record("b"));
  // Pretend b had history from another node.
  {
    Entry b = Get("b");
    VersionVectorItem* item = b.mutable_content()->add_vector();
    item->set_node(kOtherNode);
    item->set_counter(3);
    std::vector<Entry> batch{b};
    ASSERT_TRUE(store_->Commit(&batch).ok());
  }
  const Entry old_a = Get("a");
  const Entry old_b = Get("b");
  const uint64_t seq_before = store_->LastSeq();
  ASSERT_EQ(::rename(B("a").c_str(), B("b").c_str()), 0);
  ASSERT_TRUE(recorder_->RecordRename("a", "b", false, StatOf("b"), nullptr).ok());
  EXPECT_EQ(store_->LastSeq(), seq_before + 2);
  const Entry a = Get("a");
  const Entry b = Get("b");
  EXPECT_TRUE(IsTombstone(a));
  EXPECT_EQ(a.attributes().kind(), KIND_FILE);
  EXPECT_EQ(a.attributes().mode() & 07777, 0640U);
  EXPECT_TRUE(SameContent(b.content(), old_a.content()));
  EXPECT_TRUE(SameAttributes(b.attributes(), old_a.attributes()));
  EXPECT_EQ(FileBlockHashes(b.content()), HashesOf("content of a"));
  // One version for the whole batch.
  EXPECT_EQ(CompareVersions(a.content().version(), b.content().version()), 0);
  EXPECT_EQ(CompareVersions(b.attributes().version(), b.content().version()), 0);
  EXPECT_GT(CompareVersions(b.content().version(), old_b.content().version()), 0);
  // b's vector: a's history, this change, and what was at b.
  EXPECT_TRUE(VectorDominates(b.content().vector(), old_a.content().vector()));
  EXPECT_TRUE(VectorDominates(b.content().vector(), old_b.content().vector()));
  EXPECT_EQ(CounterOf(b, kOtherNode), 3u);
  EXPECT_TRUE(VectorDominates(a.content().vector(), old_a.content().vector()));
  EXPECT_EQ(b.local_stat().ino(), StatOf("b").ino());
  // The store now matches the disk: recording b again changes nothing.
  EXPECT_FALSE(Record("b"));
  EXPECT_EQ(store_->LastSeq(), seq_before + 2);
}

// What a delete or a rename over a file also writes (the record of the
// version kept aside) is given the entry taken out of the tree and lands in
// the change's own batch.
TEST_F(ChangeRecorderTest, WhatADeleteOrRenameAlsoWritesCommitsWithIt) {
  WriteFile("a", "content of a");
  WriteFile("b", "content of b");
  ASSERT_TRUE(Record("a"));
  ASSERT_TRUE(Record("b"));
  std::vector<std::string> befores;
  const auto also = [&](const char* key) -> ChangeRecorder::AlsoInTransaction {
    return [&befores, key](StoreTransaction& txn, const std::optional<Entry>& before) {
      befores.push_back(before.has_value() && !IsTombstone(*before)
                            ? before->path() + ":" + FileBlockHashes(before->content()).at(0)
                            : "-");
      VersionRecord record;
      record.set_path(key);
      record.set_id("1");
      VersionRecords::Put(txn, record);
    };
  };
  ASSERT_EQ(::rename(B("a").c_str(), B("b").c_str()), 0);
  ASSERT_TRUE(
      recorder_->RecordRename("a", "b", false, StatOf("b"), nullptr, also("x/rename")).ok());
  ASSERT_EQ(::unlink(B("b").c_str()), 0);
  ASSERT_TRUE(recorder_->RecordDelete("b", also("x/delete")).ok());
  // The rename over b was given b's old content; the delete, a's (moved).
  EXPECT_EQ(befores, (std::vector<std::string>{"b:" + HashesOf("content of b")[0],
                                               "b:" + HashesOf("content of a")[0]}));
  // A path the store never held is given nothing before, and its write
  // still commits.
  ASSERT_TRUE(recorder_->RecordDelete("never", also("x/never")).ok());
  EXPECT_EQ(befores.back(), "-");
  std::vector<std::string> recorded;
  const absl::Status scanned = VersionRecords(*store_).Scan(
      "", /*subtree=*/true, "", [&](const VersionRecord& record, absl::string_view) {
        recorded.push_back(record.path());
        return true;
      });
  ASSERT_TRUE(scanned.ok()) << scanned;
  EXPECT_EQ(recorded, (std::vector<std::string>{"x/delete", "x/never", "x/rename"}));
  EXPECT_TRUE(IsTombstone(Get("a")));
  EXPECT_TRUE(IsTombstone(Get("b")));
}

// A file rewritten and then renamed before its writer's commit ran (the
// kernel sends a closed file's release without waiting for it, so the
// rename can reach the daemon first). The rename records the content the
// store holds; it must not also record the rewritten file's stat, or the
// commit that follows, and the start-up scan after a crash, would take the
// stat as proof that nothing changed and the new bytes would never be
// recorded: the renaming replica would keep the new bytes and every other
// replica the old ones.
TEST_F(ChangeRecorderTest, RenameOfAFileWrittenSinceItsRecordLeavesTheWriteToBeRecorded) {
  WriteFile("a", "first");
  ASSERT_TRUE(Record("a"));
  const Entry recorded = Get("a");
  {
    // Rewritten in place, as a writer's O_TRUNC open does: same inode.
    UniqueFd fd(::open(B("a").c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC));
    ASSERT_TRUE(fd.valid());
    const std::string longer = "second, longer content";
    ASSERT_EQ(::write(fd.get(), longer.data(), longer.size()), static_cast<ssize_t>(longer.size()));
  }
  ASSERT_EQ(::rename(B("a").c_str(), B("b").c_str()), 0);
  ASSERT_TRUE(recorder_->RecordRename("a", "b", false, StatOf("b"), nullptr).ok());

  const Entry b = Get("b");
  EXPECT_EQ(FileBlockHashes(b.content()), HashesOf("first"));
  EXPECT_EQ(b.local_stat().size(), recorded.local_stat().size());
  EXPECT_NE(b.local_stat().size(), StatOf("b").size());
  // What a replica runs after a crash now records the rewrite.
  const ScanReport report = Scan();
  EXPECT_EQ(report.committed, 1u);
  EXPECT_EQ(FileBlockHashes(Get("b").content()), HashesOf("second, longer content"));
}

// Renamed unchanged, the object is recorded with its stat after the rename
// (only the ctime moved): the next look finds nothing to read again.
TEST_F(ChangeRecorderTest, RenameOfAnUnchangedFileRecordsItsNewStat) {
  WriteFile("a", "unchanged");
  ASSERT_TRUE(Record("a"));
  ASSERT_EQ(::rename(B("a").c_str(), B("b").c_str()), 0);
  const LocalStat now = StatOf("b");
  ASSERT_TRUE(recorder_->RecordRename("a", "b", false, now, nullptr).ok());
  const Entry b = Get("b");
  EXPECT_EQ(b.local_stat().ino(), now.ino());
  EXPECT_EQ(b.local_stat().size(), now.size());
  EXPECT_EQ(b.local_stat().mtime_ns(), now.mtime_ns());
  EXPECT_EQ(b.local_stat().ctime_ns(), now.ctime_ns());
  EXPECT_EQ(Scan().rehashed, 0u);
}

TEST_F(ChangeRecorderTest, RenameDirectoryMovesRecordedSubtree) {
  fs::create_directories(B("d/y"));
  WriteFile("d/x", "x");
  WriteFile("d/y/z", "z");
  for (const char* p : {"d", "d/x", "d/y", "d/y/z"}) ASSERT_TRUE(Record(p));
  std::vector<Entry> old;
  for (const char* p : {"d", "d/x", "d/y", "d/y/z"}) old.push_back(Get(p));
  const uint64_t seq_before = store_->LastSeq();
  ASSERT_EQ(::rename(B("d").c_str(), B("e").c_str()), 0);
  ASSERT_TRUE(recorder_->RecordRename("d", "e", false, StatOf("e"), nullptr).ok());
  EXPECT_EQ(store_->LastSeq(), seq_before + 8);
  const Version version = Get("e").content().version();
  for (const Entry& o : old) {
    const std::string moved = "e" + o.path().substr(1);
    const Entry dead = Get(o.path());
    const Entry live = Get(moved);
    EXPECT_TRUE(IsTombstone(dead)) << o.path();
    EXPECT_TRUE(SameContent(live.content(), o.content())) << moved;
    EXPECT_TRUE(SameAttributes(live.attributes(), o.attributes())) << moved;
    EXPECT_EQ(CompareVersions(dead.content().version(), version), 0) << o.path();
    EXPECT_EQ(CompareVersions(live.content().version(), version), 0) << moved;
    EXPECT_EQ(CompareVersions(live.attributes().version(), version), 0) << moved;
    EXPECT_TRUE(VectorDominates(live.content().vector(), o.content().vector())) << moved;
    EXPECT_GT(live.seq(), seq_before);
    EXPECT_GT(dead.seq(), seq_before);
  }
  for (const char* p : {"e", "e/x", "e/y", "e/y/z"}) EXPECT_FALSE(Record(p)) << p;
  EXPECT_EQ(store_->LastSeq(), seq_before + 8);
}

TEST_F(ChangeRecorderTest, RenameDirectoryOverEmptyDirectoryMergesVectors) {
  fs::create_directories(B("d"));
  fs::create_directories(B("e"));
  WriteFile("d/x", "x");
  for (const char* p : {"d", "d/x", "e"}) ASSERT_TRUE(Record(p));
  fs::remove(B("e"));  // Recreate e so it has two changes of history.
  ASSERT_TRUE(recorder_->RecordDelete("e").ok());
  fs::create_directories(B("e"));
  ASSERT_TRUE(Record("e"));
  const Entry old_e = Get("e");
  ASSERT_EQ(CounterOf(old_e, kNode), old_e.content().version().hlc());
  ASSERT_EQ(::rename(B("d").c_str(), B("e").c_str()), 0);
  ASSERT_TRUE(recorder_->RecordRename("d", "e", false, StatOf("e"), nullptr).ok());
  const Entry e = Get("e");
  EXPECT_EQ(e.content().kind(), KIND_DIR);
  EXPECT_TRUE(VectorDominates(e.content().vector(), old_e.content().vector()));
  EXPECT_EQ(FileBlockHashes(Get("e/x").content()), HashesOf("x"));
  EXPECT_TRUE(IsTombstone(Get("d")));
  EXPECT_TRUE(IsTombstone(Get("d/x")));
}

TEST_F(ChangeRecorderTest, ExchangeSwapsBothSides) {
  WriteFile("a", "AAA");
  fs::create_directories(B("d"));
  WriteFile("d/x", "inside d");
  for (const char* p : {"a", "d", "d/x"}) ASSERT_TRUE(Record(p));
  const Entry old_a = Get("a");
  const Entry old_d = Get("d");
  const Entry old_dx = Get("d/x");
  const uint64_t seq_before = store_->LastSeq();
  ASSERT_EQ(::renameat2(AT_FDCWD, B("a").c_str(), AT_FDCWD, B("d").c_str(), RENAME_EXCHANGE), 0);
  const LocalStat stat_d = StatOf("d");
  const LocalStat stat_a = StatOf("a");
  ASSERT_TRUE(recorder_->RecordRename("a", "d", true, stat_d, &stat_a).ok());
  // a is now the directory (with a/x), d the file; d/x is gone.
  const Entry a = Get("a");
  const Entry d = Get("d");
  EXPECT_EQ(a.content().kind(), KIND_DIR);
  EXPECT_EQ(d.content().kind(), KIND_FILE);
  EXPECT_EQ(FileBlockHashes(d.content()), HashesOf("AAA"));
  EXPECT_EQ(FileBlockHashes(Get("a/x").content()), HashesOf("inside d"));
  EXPECT_TRUE(IsTombstone(Get("d/x")));
  const Version version = a.content().version();
  for (const char* p : {"a", "d", "a/x", "d/x"}) {
    EXPECT_EQ(CompareVersions(Get(p).content().version(), version), 0) << p;
    EXPECT_GT(Get(p).seq(), seq_before) << p;
  }
  EXPECT_EQ(store_->LastSeq(), seq_before + 4);
  // Each side descends from both what it was and what landed on it.
  EXPECT_TRUE(VectorDominates(a.content().vector(), old_a.content().vector()));
  EXPECT_TRUE(VectorDominates(a.content().vector(), old_d.content().vector()));
  EXPECT_TRUE(VectorDominates(d.content().vector(), old_d.content().vector()));
  EXPECT_TRUE(VectorDominates(Get("d/x").content().vector(), old_dx.content().vector()));
  EXPECT_EQ(a.local_stat().ino(), stat_a.ino());
  EXPECT_EQ(d.local_stat().ino(), stat_d.ino());
  for (const char* p : {"a", "d", "a/x"}) EXPECT_FALSE(Record(p)) << p;
  EXPECT_EQ(store_->LastSeq(), seq_before + 4);
}

TEST_F(ChangeRecorderTest, IgnoredPathsAreNeverRecordedAndKeepWhatWasRecorded) {
  fs::create_directories(B("cache"));
  WriteFile("cache/page.html", "cached");
  WriteFile("scratch.tmp", "tmp");
  WriteFile("index.html", "index");
  WriteFile("access.log", "log");
  ASSERT_TRUE(Record("access.log"));  // Recorded before it was ignored.
  absl::StatusOr<IgnorePatterns> patterns = IgnorePatterns::Parse({"cache/", "*.tmp", "*.log"});
  ASSERT_TRUE(patterns.ok()) << patterns.status();
  const IgnoreSet ignore(*std::move(patterns));
  recorder_->set_ignore_patterns(&ignore);

  EXPECT_FALSE(Record("cache"));
  EXPECT_FALSE(Record("cache/page.html"));
  EXPECT_FALSE(Record("scratch.tmp"));
  EXPECT_TRUE(Record("index.html"));
  EXPECT_FALSE(Has("cache"));
  EXPECT_FALSE(Has("cache/page.html"));
  EXPECT_FALSE(Has("scratch.tmp"));

  // A newly ignored path keeps its last recorded state: its deletion is
  // not recorded.
  fs::remove(B("access.log"));
  ASSERT_TRUE(recorder_->RecordDelete("access.log").ok());
  EXPECT_FALSE(IsTombstone(Get("access.log")));

  // Moved into the ignored set: gone from the replicated tree.
  fs::rename(B("index.html"), B("index.tmp"));
  ASSERT_TRUE(recorder_->RecordRename("index.html", "index.tmp", false, StatOf("index.tmp"),
                                      nullptr)
                  .ok());
  EXPECT_TRUE(IsTombstone(Get("index.html")));
  EXPECT_FALSE(Has("index.tmp"));

  // Moved out of it: nothing stale is carried over (the caller records the
  // object where it lands).
  WriteFile("access.log", "newer than what was recorded");
  fs::rename(B("access.log"), B("access.html"));
  ASSERT_TRUE(recorder_->RecordRename("access.log", "access.html", false,
                                      StatOf("access.html"), nullptr)
                  .ok());
  EXPECT_FALSE(Has("access.html"));
  EXPECT_FALSE(IsTombstone(Get("access.log")));
}

}  // namespace
}  // namespace replfs
