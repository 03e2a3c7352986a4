#include "storage/state_dir.h"

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "tests/support/scratch_dir.h"

namespace replfs {
namespace {

namespace fs = std::filesystem;

void WriteText(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
}

class StateDirTest : public ::testing::Test {
 protected:
  std::string StatePath() const { return dir_.Path(".replfs"); }
  testing::ScratchDir dir_{"state-test"};
};

TEST_F(StateDirTest, CreatesLayoutAndNodeId) {
  absl::StatusOr<std::unique_ptr<StateDir>> state = StateDir::Open(StatePath());
  ASSERT_TRUE(state.ok()) << state.status();
  EXPECT_NE((*state)->node_id(), 0u);
  EXPECT_EQ((*state)->path(), StatePath());
  EXPECT_TRUE(fs::is_directory((*state)->TempPath()));
  EXPECT_TRUE(fs::is_directory((*state)->ConflictsPath()));
  EXPECT_TRUE(fs::exists(StatePath() + "/layout_version"));
  absl::StatusOr<uint64_t> read = ReadNodeId(StatePath());  // Works while locked.
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(*read, (*state)->node_id());
}

TEST_F(StateDirTest, NodeIdPersistsAcrossOpens) {
  uint64_t first = 0;
  {
    absl::StatusOr<std::unique_ptr<StateDir>> state = StateDir::Open(StatePath());
    ASSERT_TRUE(state.ok()) << state.status();
    first = (*state)->node_id();
  }
  absl::StatusOr<std::unique_ptr<StateDir>> again = StateDir::Open(StatePath());
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ((*again)->node_id(), first);
  // Another folder gets another id.
  absl::StatusOr<std::unique_ptr<StateDir>> other = StateDir::Open(dir_.Path("other"));
  ASSERT_TRUE(other.ok()) << other.status();
  EXPECT_NE((*other)->node_id(), first);
}

TEST_F(StateDirTest, SecondOpenFailsWhileFirstIsHeld) {
  absl::StatusOr<std::unique_ptr<StateDir>> first = StateDir::Open(StatePath());
  ASSERT_TRUE(first.ok()) << first.status();
  absl::StatusOr<std::unique_ptr<StateDir>> second = StateDir::Open(StatePath());
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(second.status().message().find("already running"), absl::string_view::npos)
      << second.status();
  EXPECT_NE(second.status().message().find(StatePath()), absl::string_view::npos)
      << second.status();
  first->reset();  // Releasing the first frees the folder.
  absl::StatusOr<std::unique_ptr<StateDir>> third = StateDir::Open(StatePath());
  EXPECT_TRUE(third.ok()) << third.status();
}

TEST_F(StateDirTest, RefusesOtherLayoutVersion) {
  fs::create_directories(StatePath());
  WriteText(StatePath() + "/layout_version", "2\n");
  absl::StatusOr<std::unique_ptr<StateDir>> state = StateDir::Open(StatePath());
  ASSERT_FALSE(state.ok());
  EXPECT_EQ(state.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(state.status().message().find("layout version 2"), absl::string_view::npos)
      << state.status();
  // Refusing must not rewrite the folder.
  std::ifstream in(StatePath() + "/layout_version");
  std::string text;
  in >> text;
  EXPECT_EQ(text, "2");
  EXPECT_FALSE(fs::exists(StatePath() + "/node_id"));
}

TEST_F(StateDirTest, RefusesCorruptNodeId) {
  fs::create_directories(StatePath());
  WriteText(StatePath() + "/node_id", "not hex\n");
  absl::StatusOr<std::unique_ptr<StateDir>> state = StateDir::Open(StatePath());
  ASSERT_FALSE(state.ok());
  EXPECT_EQ(state.status().code(), absl::StatusCode::kDataLoss) << state.status();
  WriteText(StatePath() + "/node_id", "0\n");  // Zero is not a node id.
  EXPECT_FALSE(StateDir::Open(StatePath()).ok());
}

TEST_F(StateDirTest, ReadNodeIdOfMissingFolderIsNotFound) {
  EXPECT_EQ(ReadNodeId(dir_.Path("missing")).status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace replfs
