#include "fuse/mount_table.h"

#include <sstream>

#include "fuse/mount_options.h"
#include "gtest/gtest.h"

namespace replfs {
namespace {

TEST(MountTableTest, ReadsEachMountPointByIdAndUndoesTheKernelsEscapes) {
  std::istringstream mountinfo(
      "22 1 0:21 / /proc rw,nosuid - proc proc rw\n"
      "97 22 0:52 / /srv/my\\040site rw - fuse.replfs replfs rw\n"
      "98 22 0:53 / /srv/back\\134slash\\011tab rw - fuse.replfs replfs rw\n"
      "not a mountinfo line\n");
  const auto mounts = MountPointsIn(mountinfo);
  ASSERT_EQ(mounts.size(), 3u);
  EXPECT_EQ(mounts.at(22), "/proc");
  EXPECT_EQ(mounts.at(97), "/srv/my site");
  EXPECT_EQ(mounts.at(98), "/srv/back\\slash\ttab");
}

TEST(MountTableTest, AnEscapeCutShortStaysAsWritten) {
  std::istringstream mountinfo("5 1 0:1 / /a\\04 rw - x x rw\n");
  EXPECT_EQ(MountPointsIn(mountinfo).at(5), "/a\\04");
}

TEST(MountTableTest, IsMountpointReadsThisProcesssTable) {
  EXPECT_TRUE(IsMountpoint("/proc"));
  EXPECT_FALSE(IsMountpoint("/proc/self"));
}

}  // namespace
}  // namespace replfs
