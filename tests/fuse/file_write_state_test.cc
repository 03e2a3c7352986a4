#include "fuse/file_write_state.h"

#include <sys/stat.h>

#include <cstdint>
#include <optional>

#include "gtest/gtest.h"

namespace replfs {
namespace {

// A commit queued for an earlier change of the same object must not record
// a later metadata change ahead of the records queued in between (for
// other paths): it gives up, and the later change's own commit records.
TEST(FileWriteStateTest, ACommitDecidedBeforeAMetadataChangeGivesUp) {
  FileWriteState writes;
  writes.MarkMetadataChanging();
  const std::optional<uint64_t> first = writes.GenerationUnlessBeingWritten(true);
  ASSERT_TRUE(first.has_value());
  writes.MarkMetadataChanging();
  const std::optional<uint64_t> second = writes.GenerationUnlessBeingWritten(true);
  ASSERT_TRUE(second.has_value());
  EXPECT_FALSE(writes.TakeForCommit(*first).has_value());
  EXPECT_TRUE(writes.Changed()) << "the change still waits for its own commit";
  EXPECT_TRUE(writes.TakeForCommit(*second).has_value());
  EXPECT_FALSE(writes.Changed());
}

// Between the change and its commit the object counts as uncommitted (the
// status's pending commits), as a written file does.
TEST(FileWriteStateTest, AMetadataChangeCountsAsUncommittedUntilItsCommit) {
  FileWriteState writes;
  EXPECT_FALSE(writes.Changed());
  writes.MarkMetadataChanging();
  EXPECT_TRUE(writes.Changed());
  const std::optional<uint64_t> generation = writes.GenerationUnlessBeingWritten(true);
  ASSERT_TRUE(generation.has_value());
  EXPECT_TRUE(writes.TakeForCommit(*generation).has_value());
  EXPECT_FALSE(writes.Changed());
}

// On a file open for writing the change waits for the last close, which
// commits at the generation the change left.
TEST(FileWriteStateTest, AMetadataChangeOfAnOpenFileCommitsAtTheLastClose) {
  FileWriteState writes;
  struct stat st {};
  writes.CountWriter(/*truncating=*/false, /*writes_unseen=*/false, st);
  writes.MarkMetadataChanging();
  EXPECT_FALSE(writes.GenerationUnlessBeingWritten(true).has_value());
  const FileWriteState::ClosedWriter closed = writes.CloseWriter(/*writes_unseen=*/false);
  EXPECT_TRUE(closed.last_writer);
  ASSERT_TRUE(closed.commit_at.has_value());
  EXPECT_TRUE(writes.TakeForCommit(*closed.commit_at).has_value());
}

// The idle committer polls the stat of a file whose writes it cannot see.
// A poll that lands after the writer's close (it checked for writers just
// before) must not move the generation: the close has decided its commit,
// nothing else would commit the file, and it would stay unrecorded.
TEST(FileWriteStateTest, AStatPolledAfterTheLastUnseenWriterClosedLeavesItsCommitStanding) {
  FileWriteState writes;
  struct stat opened {};
  writes.CountWriter(/*truncating=*/true, /*writes_unseen=*/true, opened);
  const FileWriteState::ClosedWriter closed = writes.CloseWriter(/*writes_unseen=*/true);
  ASSERT_TRUE(closed.commit_at.has_value());
  struct stat written = opened;
  written.st_size = 1024;
  written.st_mtim.tv_sec = 1;
  writes.NoteStat(written);
  EXPECT_TRUE(writes.TakeForCommit(*closed.commit_at).has_value());
  EXPECT_FALSE(writes.Changed());
}

// While the writer is open, a poll that finds the file moved marks it
// changed, and the close commits at the generation after it.
TEST(FileWriteStateTest, AStatPolledWhileTheUnseenWriterIsOpenIsCommittedAtItsClose) {
  FileWriteState writes;
  struct stat opened {};
  writes.CountWriter(/*truncating=*/false, /*writes_unseen=*/true, opened);
  const std::optional<uint64_t> before = writes.GenerationIfChanged();
  struct stat written = opened;
  written.st_size = 1024;
  writes.NoteStat(written);
  EXPECT_NE(writes.GenerationIfChanged(), before);
  const FileWriteState::ClosedWriter closed = writes.CloseWriter(/*writes_unseen=*/true);
  ASSERT_TRUE(closed.commit_at.has_value());
  EXPECT_TRUE(writes.TakeForCommit(*closed.commit_at).has_value());
}

}  // namespace
}  // namespace replfs
