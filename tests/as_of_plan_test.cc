// PlanAsOf: what `replfs-status --restore PATH --as-of TIME` does to each
// path, from the replica's entries and its kept version records, with no
// replica and no disk.
#include "tools/as_of_plan.h"

#include <cstdint>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace replfs {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Kind = AsOfStep::Kind;

constexpr int64_t kAsOf = 1'765'000'000'000;  // The TIME restored to.
constexpr int64_t kBefore = kAsOf - 60'000;
constexpr int64_t kAfter = kAsOf + 60'000;

// An entry whose content began at `began_ms` (the HLC's wall-clock bits).
Entry Made(const std::string& path, ::replfs::Kind kind, int64_t began_ms) {
  Entry entry;
  entry.set_path(path);
  entry.mutable_content()->set_kind(kind);
  entry.mutable_content()->mutable_version()->set_hlc((static_cast<uint64_t>(began_ms) << 16) | 7);
  entry.mutable_content()->mutable_version()->set_node(0xabc);
  return entry;
}
Entry File(const std::string& path, int64_t began_ms) { return Made(path, KIND_FILE, began_ms); }
Entry Dir(const std::string& path, int64_t began_ms) { return Made(path, KIND_DIR, began_ms); }
Entry Tombstone(const std::string& path, int64_t at_ms) {
  return Made(path, KIND_TOMBSTONE, at_ms);
}

// `path` had content `name` from `began_ms` until `kept_ms`.
VersionRecord Kept(const std::string& path, int64_t began_ms, int64_t kept_ms,
                   const std::string& name) {
  VersionRecord record;
  record.set_path(path);
  record.set_kept_name(name);
  record.set_began_unix_ms(began_ms);
  record.set_kept_unix_ms(kept_ms);
  record.set_size(42);
  return record;
}
VersionRecord NotKept(const std::string& path, int64_t began_ms, int64_t kept_ms,
                      const std::string& reason) {
  VersionRecord record = Kept(path, began_ms, kept_ms, "");
  record.set_not_kept_reason(reason);
  return record;
}

std::vector<std::string> Paths(const AsOfPlan& plan) {
  std::vector<std::string> paths;
  for (const AsOfStep& step : plan.steps) paths.push_back(step.path);
  return paths;
}

TEST(AsOfPlanTest, FileUnchangedSinceIsCountedNotPlanned) {
  const AsOfPlan plan = PlanAsOf({File("www/index.html", kBefore)}, {}, kAsOf);
  EXPECT_TRUE(plan.steps.empty());
  EXPECT_EQ(plan.unchanged, 1u);
}

TEST(AsOfPlanTest, FileWhoseContentBeganExactlyAtTimeIsUnchanged) {
  const AsOfPlan plan = PlanAsOf({File("a", kAsOf)}, {Kept("a", kBefore, kAsOf, "v1")}, kAsOf);
  EXPECT_TRUE(plan.steps.empty());
  EXPECT_EQ(plan.unchanged, 1u);
}

TEST(AsOfPlanTest, ChangedFileGetsTheVersionItHadThen) {
  const AsOfPlan plan =
      PlanAsOf({File("www/index.html", kAfter)},
               {Kept("www/index.html", kBefore, kAfter, "v-then")}, kAsOf);
  ASSERT_EQ(plan.steps.size(), 1u);
  EXPECT_EQ(plan.steps[0].kind, Kind::kRestore);
  EXPECT_EQ(plan.steps[0].path, "www/index.html");
  EXPECT_EQ(plan.steps[0].version.kept_name(), "v-then");
  EXPECT_EQ(plan.unchanged, 0u);
}

TEST(AsOfPlanTest, FileDeletedSinceIsRestored) {
  const AsOfPlan plan = PlanAsOf({Tombstone("gone.txt", kAfter)},
                                 {Kept("gone.txt", kBefore, kAfter, "v-deleted")}, kAsOf);
  ASSERT_EQ(plan.steps.size(), 1u);
  EXPECT_EQ(plan.steps[0].kind, Kind::kRestore);
  EXPECT_EQ(plan.steps[0].version.kept_name(), "v-deleted");
}

TEST(AsOfPlanTest, DeletedFileWithoutAnEntryIsRestoredFromItsRecord) {
  // A purged tombstone leaves only the record.
  const AsOfPlan plan = PlanAsOf({}, {Kept("gone.txt", kBefore, kAfter, "v")}, kAsOf);
  ASSERT_EQ(plan.steps.size(), 1u);
  EXPECT_EQ(plan.steps[0].kind, Kind::kRestore);
}

TEST(AsOfPlanTest, FileCreatedSinceIsToBeRemoved) {
  const AsOfPlan plan = PlanAsOf({File("new.txt", kAfter)}, {}, kAsOf);
  ASSERT_EQ(plan.steps.size(), 1u);
  EXPECT_EQ(plan.steps[0].kind, Kind::kRemoveCreatedSince);
  EXPECT_EQ(plan.steps[0].path, "new.txt");
}

TEST(AsOfPlanTest, SymlinksArePlannedLikeFiles) {
  const AsOfPlan plan = PlanAsOf(
      {Made("link-new", KIND_SYMLINK, kAfter), Made("link-old", KIND_SYMLINK, kBefore)}, {},
      kAsOf);
  ASSERT_EQ(plan.steps.size(), 1u);
  EXPECT_EQ(plan.steps[0].kind, Kind::kRemoveCreatedSince);
  EXPECT_EQ(plan.steps[0].path, "link-new");
  EXPECT_EQ(plan.unchanged, 1u);
}

TEST(AsOfPlanTest, FileDeletedBeforeTimeIsLeftAlone) {
  const AsOfPlan plan = PlanAsOf({Tombstone("old.txt", kBefore)},
                                 {Kept("old.txt", kBefore - 1000, kBefore, "v")}, kAsOf);
  EXPECT_TRUE(plan.steps.empty());
  EXPECT_EQ(plan.unchanged, 0u);
}

TEST(AsOfPlanTest, TombstoneWithoutRecordsIsLeftAlone) {
  const AsOfPlan plan = PlanAsOf({Tombstone("x", kAfter), Tombstone("y", kBefore)}, {}, kAsOf);
  EXPECT_TRUE(plan.steps.empty());
  EXPECT_EQ(plan.unchanged, 0u);
}

TEST(AsOfPlanTest, ContentNotKeptCannotBeRestoredAndSaysWhy) {
  const AsOfPlan plan =
      PlanAsOf({File("big.iso", kAfter)},
               {NotKept("big.iso", kBefore, kAfter, "too large to copy (no reflink)")}, kAsOf);
  ASSERT_EQ(plan.steps.size(), 1u);
  EXPECT_EQ(plan.steps[0].kind, Kind::kCannotRestore);
  EXPECT_THAT(plan.steps[0].why, HasSubstr("was not kept: too large to copy (no reflink)"));
}

TEST(AsOfPlanTest, GapInTheRecordsCannotBeRestored) {
  // The path existed around TIME (a record ends after it), but no record
  // covers TIME itself: what it held then is unknown.
  const AsOfPlan plan = PlanAsOf({File("p", kAfter + 10)},
                                 {Kept("p", kBefore - 5000, kBefore, "early"),
                                  Kept("p", kAsOf + 1, kAfter + 10, "late")},
                                 kAsOf);
  ASSERT_EQ(plan.steps.size(), 1u);
  EXPECT_EQ(plan.steps[0].kind, Kind::kCannotRestore);
  EXPECT_THAT(plan.steps[0].why, HasSubstr("no version covering"));
}

TEST(AsOfPlanTest, GapOnADeletedPathIsNothingToDo) {
  // Nothing is there now and nothing is known of TIME: no step.
  const AsOfPlan plan =
      PlanAsOf({Tombstone("p", kAfter + 10)}, {Kept("p", kAsOf + 1, kAfter + 10, "late")}, kAsOf);
  EXPECT_TRUE(plan.steps.empty());
}

TEST(AsOfPlanTest, SeveralRecordsPickTheOneCoveringTime) {
  const AsOfPlan plan = PlanAsOf({File("f", kAfter + 300)},
                                 {Kept("f", kBefore - 300, kBefore - 200, "v1"),
                                  Kept("f", kBefore - 200, kBefore, "v2"),
                                  Kept("f", kBefore, kAfter, "v3"),
                                  Kept("f", kAfter, kAfter + 300, "v4")},
                                 kAsOf);
  ASSERT_EQ(plan.steps.size(), 1u);
  EXPECT_EQ(plan.steps[0].kind, Kind::kRestore);
  EXPECT_EQ(plan.steps[0].version.kept_name(), "v3");
}

TEST(AsOfPlanTest, OverlappingRecordsPickTheLatestBegun) {
  // Intervals from different nodes' clocks may overlap.
  const AsOfPlan plan = PlanAsOf({File("f", kAfter + 300)},
                                 {Kept("f", kBefore - 500, kAfter, "older"),
                                  Kept("f", kBefore, kAfter + 100, "newer"),
                                  Kept("f", kAsOf + 1, kAfter + 300, "too-late")},
                                 kAsOf);
  ASSERT_EQ(plan.steps.size(), 1u);
  EXPECT_EQ(plan.steps[0].version.kept_name(), "newer");
}

TEST(AsOfPlanTest, RecordEndingExactlyAtTimeIsNotUsed) {
  // Kept at TIME: by TIME the content was gone.
  const AsOfPlan deleted =
      PlanAsOf({Tombstone("f", kAsOf)}, {Kept("f", kBefore, kAsOf, "ended")}, kAsOf);
  EXPECT_TRUE(deleted.steps.empty());

  const AsOfPlan recreated =
      PlanAsOf({File("f", kAfter)}, {Kept("f", kBefore, kAsOf, "ended")}, kAsOf);
  ASSERT_EQ(recreated.steps.size(), 1u);
  EXPECT_EQ(recreated.steps[0].kind, Kind::kRemoveCreatedSince);
}

TEST(AsOfPlanTest, RecordBeginningExactlyAtTimeIsUsed) {
  const AsOfPlan plan =
      PlanAsOf({File("f", kAfter)},
               {Kept("f", kBefore, kAsOf, "before"), Kept("f", kAsOf, kAfter, "at")}, kAsOf);
  ASSERT_EQ(plan.steps.size(), 1u);
  EXPECT_EQ(plan.steps[0].kind, Kind::kRestore);
  EXPECT_EQ(plan.steps[0].version.kept_name(), "at");
}

TEST(AsOfPlanTest, DirectoryStandingWhereAFileWasCannotBeRestored) {
  const AsOfPlan plan =
      PlanAsOf({Dir("p", kAfter)}, {Kept("p", kBefore, kAfter, "file-then")}, kAsOf);
  ASSERT_EQ(plan.steps.size(), 1u);
  EXPECT_EQ(plan.steps[0].kind, Kind::kCannotRestore);
  EXPECT_THAT(plan.steps[0].why, HasSubstr("a directory"));
}

TEST(AsOfPlanTest, DirectoriesCreatedSinceComeDeepestFirst) {
  const AsOfPlan plan = PlanAsOf(
      {Dir("a", kAfter), Dir("a/b", kAfter), Dir("a/b/c", kAfter), Dir("old", kBefore),
       Dir("z", kAfter), Dir("gone", kBefore), Tombstone("gone2", kAfter)},
      {}, kAsOf);
  EXPECT_THAT(plan.directories_created_since, ElementsAre("a/b/c", "a/b", "z", "a"));
  EXPECT_TRUE(plan.steps.empty());
  EXPECT_EQ(plan.unchanged, 0u);  // Directories are not counted.
}

TEST(AsOfPlanTest, FifosAreNotPlanned) {
  const AsOfPlan plan = PlanAsOf({Made("pipe", KIND_FIFO, kAfter)}, {}, kAsOf);
  EXPECT_TRUE(plan.steps.empty());
  EXPECT_EQ(plan.unchanged, 0u);
}

TEST(AsOfPlanTest, StepsComeByPathFromBothInputs) {
  const AsOfPlan plan = PlanAsOf(
      {File("d/new", kAfter), File("b", kBefore), Tombstone("c", kAfter), File("a", kAfter)},
      {Kept("c", kBefore, kAfter, "vc"), Kept("a", kBefore, kAfter, "va"),
       Kept("e", kBefore, kAfter, "ve")},
      kAsOf);
  EXPECT_THAT(Paths(plan), ElementsAre("a", "c", "d/new", "e"));
  EXPECT_EQ(plan.steps[0].kind, Kind::kRestore);
  EXPECT_EQ(plan.steps[1].kind, Kind::kRestore);
  EXPECT_EQ(plan.steps[2].kind, Kind::kRemoveCreatedSince);
  EXPECT_EQ(plan.steps[3].kind, Kind::kRestore);
  EXPECT_EQ(plan.unchanged, 1u);
}

}  // namespace
}  // namespace replfs
