// Concurrent writes and local writers: real replicas, real mounts.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "base/unique_fd.h"
#include "gtest/gtest.h"
#include "tests/cluster.h"

namespace replfs::testing {
namespace {

class ReplicationConflictTest : public ::testing::Test {
 protected:
  void SetUp() override {
    REPLFS_ASSERT_OK(cluster_.init_status());
    REPLFS_ASSERT_OK(cluster_.StartAll());
  }
  Cluster cluster_{3};
};

absl::Status WriteAllTo(int fd, const std::string& content) {
  if (::ftruncate(fd, 0) != 0) return absl::ErrnoToStatus(errno, "ftruncate");
  if (::pwrite(fd, content.data(), content.size(), 0) != static_cast<ssize_t>(content.size())) {
    return absl::ErrnoToStatus(errno, "pwrite");
  }
  return absl::OkStatus();
}

// A and B write different content to the same file, each holding its file
// open until both wrote, so neither saw the other's version first: the
// writes are concurrent. Every replica ends with the same winner; the
// loser is kept as a conflict copy (never inside the mount).
TEST_F(ReplicationConflictTest, ConcurrentWritesConvergeToOneWinnerAndKeepTheLoser) {
  REPLFS_ASSERT_OK(WriteFile(cluster_.Mount(0, "contested"), "original\n"));
  REPLFS_ASSERT_OK(cluster_.WaitForConvergence());

  const std::string from_a = "written on A\n" + std::string(6000, 'a');  // Not inline.
  const std::string from_b = "written on B\n";
  UniqueFd on_a(::open(cluster_.Mount(0, "contested").c_str(), O_RDWR));
  UniqueFd on_b(::open(cluster_.Mount(1, "contested").c_str(), O_RDWR));
  ASSERT_TRUE(on_a.valid() && on_b.valid());
  REPLFS_ASSERT_OK(WriteAllTo(on_a.get(), from_a));
  REPLFS_ASSERT_OK(WriteAllTo(on_b.get(), from_b));
  ASSERT_EQ(::close(on_a.Release()), 0);
  ASSERT_EQ(::close(on_b.Release()), 0);

  REPLFS_ASSERT_OK(cluster_.WaitForConvergence());
  absl::StatusOr<std::string> winner = ReadFile(cluster_.Mount(0, "contested"));
  ASSERT_TRUE(winner.ok()) << winner.status();
  ASSERT_TRUE(*winner == from_a || *winner == from_b) << "neither write won: " << *winner;
  const std::string& loser = *winner == from_a ? from_b : from_a;

  // The loser's content survives as a conflict copy on some replica (at
  // least at its origin), reported by the admin endpoint.
  bool loser_kept = false;
  const bool listed = WaitUntil(
      [&] {
        for (int i = 0; i < cluster_.size() && !loser_kept; ++i) {
          absl::StatusOr<ConflictsReply> conflicts = cluster_.Conflicts(i);
          if (!conflicts.ok()) continue;
          for (const ConflictCopy& copy : conflicts->conflicts()) {
            if (copy.path() != "contested") continue;
            absl::StatusOr<std::string> kept =
                ReadFile(cluster_.replica(i).StateDir() + "/" + copy.copy_path());
            if (kept.ok() && *kept == loser) loser_kept = true;
          }
        }
        return loser_kept;
      },
      absl::Seconds(10));
  EXPECT_TRUE(listed) << "no replica lists the losing version as a conflict copy\n"
                      << cluster_.Diagnostics();
  // Conflict copies never show inside the mount.
  for (int i = 0; i < cluster_.size(); ++i) {
    absl::StatusOr<std::vector<std::string>> digest = TreeDigest(cluster_.Mount(i), "");
    ASSERT_TRUE(digest.ok()) << digest.status();
    EXPECT_EQ(digest->size(), 1u) << "replica " << i << " shows more than the file: "
                                  << DigestDiff(*digest, {});
  }
  uint64_t counted = 0;
  for (int i = 0; i < cluster_.size(); ++i) {
    absl::StatusOr<ReplicaStatus> status = cluster_.Status(i);
    ASSERT_TRUE(status.ok()) << status.status();
    counted += status->conflicts();
  }
  EXPECT_GE(counted, 1u);
}

// A file held open for writing on B is not replaced by A's newer version
// while open; after the last close the replicas converge on A's version.
TEST_F(ReplicationConflictTest, RemoteVersionWaitsForTheLocalWriterToClose) {
  REPLFS_ASSERT_OK(WriteFile(cluster_.Mount(0, "busy"), "version 1\n"));
  REPLFS_ASSERT_OK(cluster_.WaitForConvergence());

  UniqueFd writer(::open(cluster_.Mount(1, "busy").c_str(), O_WRONLY | O_APPEND));
  ASSERT_TRUE(writer.valid());
  REPLFS_ASSERT_OK(WriteFile(cluster_.Mount(0, "busy"), "version 2 from A\n"));
  // B learns of A's version and defers it (admin Status: deferred).
  const bool deferred = WaitUntil(
      [&] {
        absl::StatusOr<ReplicaStatus> status = cluster_.Status(1);
        return status.ok() && status->deferred() > 0;
      },
      absl::Seconds(30));
  ASSERT_TRUE(deferred) << "B never deferred A's version\n" << cluster_.Diagnostics();
  // C is not writing: it takes A's version.
  ASSERT_TRUE(WaitUntil([&] {
    absl::StatusOr<std::string> c = ReadFile(cluster_.Mount(2, "busy"));
    return c.ok() && *c == "version 2 from A\n";
  }, absl::Seconds(30))) << cluster_.Diagnostics();
  // B's file stays as it was for as long as it is open.
  for (int check = 0; check < 10; ++check) {
    absl::StatusOr<std::string> b = ReadFile(cluster_.Mount(1, "busy"));
    ASSERT_TRUE(b.ok()) << b.status();
    EXPECT_EQ(*b, "version 1\n") << "replaced under an open writer";
    absl::SleepFor(absl::Milliseconds(100));
  }
  ASSERT_EQ(::close(writer.Release()), 0);
  REPLFS_ASSERT_OK(cluster_.WaitForConvergence());
  for (int i = 0; i < cluster_.size(); ++i) {
    absl::StatusOr<std::string> got = ReadFile(cluster_.Mount(i, "busy"));
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(*got, "version 2 from A\n") << "replica " << i;
  }
  absl::StatusOr<ReplicaStatus> status = cluster_.Status(1);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->deferred(), 0u);
}

// The same while B writes too: B's own write, committed at its close after
// it saw A's version, is newer and wins everywhere; A's version was
// concurrent with it and is kept as a conflict copy (at A, its origin),
// not lost.
TEST_F(ReplicationConflictTest, LocalWriterThatWroteWinsAfterClose) {
  REPLFS_ASSERT_OK(WriteFile(cluster_.Mount(0, "busy"), "version 1\n"));
  REPLFS_ASSERT_OK(cluster_.WaitForConvergence());
  UniqueFd writer(::open(cluster_.Mount(1, "busy").c_str(), O_WRONLY | O_APPEND));
  ASSERT_TRUE(writer.valid());
  ASSERT_EQ(::write(writer.get(), "B's addition\n", 13), 13);
  REPLFS_ASSERT_OK(WriteFile(cluster_.Mount(0, "busy"), "version 2 from A\n"));
  ASSERT_TRUE(WaitUntil([&] {
    absl::StatusOr<ReplicaStatus> status = cluster_.Status(1);
    return status.ok() && status->deferred() > 0;
  }, absl::Seconds(30))) << cluster_.Diagnostics();
  absl::StatusOr<std::string> b = ReadFile(cluster_.Mount(1, "busy"));
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(*b, "version 1\nB's addition\n");
  ASSERT_EQ(::close(writer.Release()), 0);
  REPLFS_ASSERT_OK(cluster_.WaitForConvergence());
  for (int i = 0; i < cluster_.size(); ++i) {
    absl::StatusOr<std::string> got = ReadFile(cluster_.Mount(i, "busy"));
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(*got, "version 1\nB's addition\n") << "replica " << i;
  }
  const bool kept = WaitUntil([&] {
    absl::StatusOr<ConflictsReply> conflicts = cluster_.Conflicts(0);
    if (!conflicts.ok()) return false;
    for (const ConflictCopy& copy : conflicts->conflicts()) {
      absl::StatusOr<std::string> content =
          ReadFile(cluster_.replica(0).StateDir() + "/" + copy.copy_path());
      if (copy.path() == "busy" && content.ok() && *content == "version 2 from A\n") return true;
    }
    return false;
  }, absl::Seconds(10));
  EXPECT_TRUE(kept) << "A's concurrent version was lost\n" << cluster_.Diagnostics();
}

}  // namespace
}  // namespace replfs::testing
