// No poison entry: an entry a receiver cannot apply exactly never stops
// replication from that peer. Real replfs processes with real FUSE mounts
// replicate over 127.0.0.1; where a receiver must be unable to store
// something, its backing directory is a small file system made for the test.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/cluster.h"

namespace replfs::testing {
namespace {

// 1969-12-31 23:59:59.5 UTC: a legal mtime whose seconds are negative and
// whose nanoseconds are not.
constexpr struct timespec kPreEpoch = {-1, 500'000'000};

bool HasMtime(const std::string& path, const struct timespec& want) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0 && st.st_mtim.tv_sec == want.tv_sec &&
         st.st_mtim.tv_nsec == want.tv_nsec;
}

TEST(PreEpochMtime, ReplicatesAndTheEntriesAfterItArrive) {
  Cluster cluster(2);
  REPLFS_ASSERT_OK(cluster.init_status());
  REPLFS_ASSERT_OK(cluster.StartAll());
  REPLFS_ASSERT_OK(WriteFile(cluster.Mount(0, "old"), "from before 1970\n"));
  const struct timespec times[2] = {kPreEpoch, kPreEpoch};
  ASSERT_EQ(::utimensat(AT_FDCWD, cluster.Mount(0, "old").c_str(), times, 0), 0)
      << std::strerror(errno);
  ASSERT_TRUE(HasMtime(cluster.Mount(0, "old"), kPreEpoch));
  REPLFS_ASSERT_OK(WriteFile(cluster.Mount(0, "after"), "written after it\n"));
  EXPECT_TRUE(WaitUntil(
      [&] {
        return ReadWholeFile(cluster.Mount(1, "after")) == "written after it\n" &&
               HasMtime(cluster.Mount(1, "old"), kPreEpoch);
      },
      absl::Seconds(20)))
      << cluster.Diagnostics();
  EXPECT_EQ(ReadWholeFile(cluster.Mount(1, "old")), "from before 1970\n");
}

}  // namespace
}  // namespace replfs::testing
