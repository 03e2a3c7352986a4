// RemoteApplier against a store and a backing directory, without a mount:
// what applying entries does to the clock, and to paths it ignores.
#include "replication/remote_applier.h"

#include <sys/stat.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "gtest/gtest.h"
#include "storage/filesystem_hooks.h"
#include "storage/ignore_set.h"
#include "storage/version.h"
#include "tests/support/applier_fixture.h"

namespace replfs {
namespace {

constexpr uint64_t kLocalNode = 0xa11ce;
constexpr uint64_t kRemoteNode = 0xb0b;

class RemoteApplierTest : public testing::ApplierFixture {
 protected:
  RemoteApplierTest() : ApplierFixture("replfs-remote-applier", kLocalNode) {}

  void SetUp() override {
    ApplierFixture::SetUp();
    MakeApplier(&hooks_);
  }

  // A remote tombstone of "f" keeping a file's register and, for other
  // kinds, a directory's at `kept_hlc`.
  Entry TombstoneKeeping(uint64_t kept_hlc) {
    Entry e;
    e.set_path("f");
    e.mutable_content()->set_kind(KIND_TOMBSTONE);
    const uint64_t now = clock_.Now();
    *e.mutable_content()->mutable_version() = MakeVersion(now, kRemoteNode);
    *e.mutable_attributes()->mutable_version() = MakeVersion(now, kRemoteNode);
    e.mutable_attributes()->set_kind(KIND_FILE);
    e.mutable_attributes()->set_mode(0644);
    Attributes* kept = e.add_other_kinds();
    *kept->mutable_version() = MakeVersion(kept_hlc, kRemoteNode);
    kept->set_kind(KIND_DIR);
    kept->set_mode(0700);
    return e;
  }

  NoFilesystemHooks hooks_;
};

// A register kept for another kind may be an entry's newest version: what
// this replica changes after seeing it must beat it (a directory made here
// then must not take the kept register's mode), and one far ahead is a
// clock far ahead.
TEST_F(RemoteApplierTest, KeptRegistersAdvanceTheClockAndAreCheckedAgainstIt) {
  const uint64_t ahead = clock_.Now() + (uint64_t{5000} << 16);  // 5 s ahead.
  ApplyStats stats;
  ASSERT_TRUE(applier_->ApplyBatch({TombstoneKeeping(ahead)}, nullptr, &stats).ok());
  EXPECT_EQ(stats.applied, 1u);
  EXPECT_GT(clock_.Now(), ahead);
  const uint64_t far_ahead = clock_.Now() + (uint64_t{3600} * 1000 << 16);  // An hour.
  EXPECT_FALSE(applier_->ApplyBatch({TombstoneKeeping(far_ahead)}, nullptr, &stats).ok());
}

// A remote entry of `path`: a directory, or a tombstone, at `hlc`.
Entry RemoteDirectoryEntry(const std::string& path, bool live, uint64_t hlc) {
  Entry e;
  e.set_path(path);
  e.mutable_content()->set_kind(live ? KIND_DIR : KIND_TOMBSTONE);
  *e.mutable_content()->mutable_version() = MakeVersion(hlc, kRemoteNode);
  *e.mutable_attributes()->mutable_version() = MakeVersion(hlc, kRemoteNode);
  e.mutable_attributes()->set_kind(KIND_DIR);
  e.mutable_attributes()->set_mode(0755);
  return e;
}

class IgnoringApplierTest : public testing::ApplierFixture {
 protected:
  IgnoringApplierTest() : ApplierFixture("replfs-ignoring-applier", kLocalNode) {}

  void SetUp() override {
    ApplierFixture::SetUp();
    absl::StatusOr<IgnorePatterns> patterns = IgnorePatterns::Parse({"*.tmp", "/local/"});
    ASSERT_TRUE(patterns.ok()) << patterns.status();
    ignore_.Replace(*std::move(patterns));
    MakeApplier(&hooks_, &ignore_);
  }

  bool Exists(const std::string& rel) const {
    struct stat st;
    return ::lstat(B(rel).c_str(), &st) == 0;
  }

  IgnoreSet ignore_;
  NoFilesystemHooks hooks_;
};

// Entries for ignored paths change nothing here, neither on disk nor in
// the store: the paths are this replica's own.
TEST_F(IgnoringApplierTest, EntriesForIgnoredPathsAreNotApplied) {
  ASSERT_EQ(::mkdir(B("local").c_str(), 0755), 0);
  WriteFile("local/mine", "mine");
  WriteFile("notes.tmp", "mine");
  const uint64_t hlc = clock_.Now();
  ApplyStats stats;
  ASSERT_TRUE(applier_
                  ->ApplyBatch({RemoteDirectoryEntry("a.tmp", true, hlc),
                                RemoteDirectoryEntry("local/sub", true, hlc),
                                RemoteDirectoryEntry("notes.tmp", false, hlc),
                                RemoteDirectoryEntry("local", false, hlc),
                                RemoteDirectoryEntry("shared", true, hlc)},
                               nullptr, &stats)
                  .ok());
  EXPECT_EQ(stats.applied, 1u);
  EXPECT_TRUE(Exists("shared"));
  EXPECT_FALSE(Exists("a.tmp"));
  EXPECT_FALSE(Exists("local/sub"));
  EXPECT_TRUE(Exists("notes.tmp"));
  EXPECT_TRUE(Exists("local/mine"));
  for (const char* path : {"a.tmp", "local/sub", "notes.tmp", "local"}) {
    EXPECT_FALSE(Find(path).has_value()) << path;
  }
}

// A directory deleted by a peer goes, except for the ignored paths inside
// it: those stay, and the directories holding them.
TEST_F(IgnoringApplierTest, DeletedDirectoryKeepsTheIgnoredPathsInside) {
  ApplyStats stats;
  const uint64_t created = clock_.Now();
  ASSERT_TRUE(applier_
                  ->ApplyBatch({RemoteDirectoryEntry("site", true, created),
                                RemoteDirectoryEntry("site/sub", true, created),
                                RemoteDirectoryEntry("gone", true, created)},
                               nullptr, &stats)
                  .ok());
  WriteFile("site/sub/build.tmp", "mine");
  ASSERT_EQ(::mkdir(B("site/empty").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir(B("gone/plain").c_str(), 0755), 0);
  const uint64_t deleted = clock_.Now();
  ASSERT_TRUE(applier_
                  ->ApplyBatch({RemoteDirectoryEntry("site/sub", false, deleted),
                                RemoteDirectoryEntry("site", false, deleted),
                                RemoteDirectoryEntry("gone", false, deleted)},
                               nullptr, &stats)
                  .ok());
  EXPECT_TRUE(Exists("site/sub/build.tmp"));
  EXPECT_FALSE(Exists("site/empty"));
  EXPECT_FALSE(Exists("gone"));
  for (const char* path : {"site", "site/sub", "gone"}) {
    std::optional<Entry> entry = Find(path);
    ASSERT_TRUE(entry.has_value()) << path;
    EXPECT_EQ(entry->content().kind(), KIND_TOMBSTONE) << path;
  }
}

}  // namespace
}  // namespace replfs
