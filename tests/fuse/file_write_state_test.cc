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

}  // namespace
}  // namespace replfs
