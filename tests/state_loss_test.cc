// A replica whose state folder was lost (deleted while its backing files
// remain) rebuilds its store from a scan and re-syncs without overwriting
// the newer data its peers hold.
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "tests/cluster.h"

namespace replfs::testing {
namespace {

TEST(StateLossTest, RebuiltReplicaResyncsWithoutOverwritingNewerData) {
  Cluster cluster(2);
  ASSERT_TRUE(cluster.init_status().ok()) << cluster.init_status();
  REPLFS_ASSERT_OK(cluster.StartAll());
  REPLFS_ASSERT_OK(WriteFile(cluster.Mount(0, "page.html"), "version 1"));
  REPLFS_ASSERT_OK(WriteFile(cluster.Mount(0, "only-old.html"), "kept"));
  REPLFS_ASSERT_OK(cluster.WaitForConvergence());

  // Replica 1 goes down and loses its state folder; meanwhile replica 0
  // moves on.
  REPLFS_ASSERT_OK(cluster.Stop(1));
  std::error_code ec;
  std::filesystem::remove_all(cluster.Backing(1, ".replfs"), ec);
  ASSERT_FALSE(ec) << ec.message();
  // Let the wall clock move past the stale copy's mtime.
  ::usleep(50 * 1000);
  REPLFS_ASSERT_OK(WriteFile(cluster.Mount(0, "page.html"), "version 2, newer"));
  REPLFS_ASSERT_OK(WriteFile(cluster.Mount(0, "new.html"), "made while 1 was down"));

  REPLFS_ASSERT_OK(cluster.Start(1));
  REPLFS_ASSERT_OK(cluster.WaitForConvergence(absl::Seconds(60)));
  absl::StatusOr<std::string> on_0 = ReadFile(cluster.Mount(0, "page.html"));
  absl::StatusOr<std::string> on_1 = ReadFile(cluster.Mount(1, "page.html"));
  ASSERT_TRUE(on_0.ok() && on_1.ok());
  EXPECT_EQ(*on_0, "version 2, newer") << "the rebuilt replica's stale copy won";
  EXPECT_EQ(*on_1, "version 2, newer");
  EXPECT_EQ(ReadFile(cluster.Mount(1, "new.html")).value_or(""), "made while 1 was down");
  EXPECT_EQ(ReadFile(cluster.Mount(1, "only-old.html")).value_or(""), "kept");
  // The rebuilt replica has a new identity and a complete store again.
  absl::StatusOr<ReplicaStatus> status = cluster.Status(1);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_GE(status->entries(), 3u);
}

}  // namespace
}  // namespace replfs::testing
