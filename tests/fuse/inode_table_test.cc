#include "fuse/inode_table.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "storage/proc_path.h"
#include "tests/storage/scratch_dir.h"

namespace replfs {
namespace {

int OpenFdCount() {
  int count = 0;
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) return -1;
  while (const dirent* e = ::readdir(dir)) {
    if (e->d_name[0] != '.') ++count;
  }
  ::closedir(dir);
  return count - 1;  // The directory stream's own fd.
}

class InodeTableTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int i = 0; i < kFiles; ++i) {
      std::ofstream(dir_.Path(absl::StrCat("f", i))) << "content " << i;
    }
  }

  // Looks up file i as the kernel would: one O_PATH fd adopted by the table.
  Inode* LookUp(InodeTable& table, int i) {
    const std::string name = absl::StrCat("f", i);
    UniqueFd fd(::openat(table.root()->fd(), name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
    EXPECT_TRUE(fd.valid());
    struct stat st;
    EXPECT_EQ(::fstatat(fd.get(), "", &st, AT_EMPTY_PATH), 0);
    return table.LookedUp(table.root(), name, std::move(fd), st);
  }

  static constexpr int kFiles = 5;
  testing::ScratchDir dir_{"inode-table-test"};
};

// Regression: every inode opened for reading kept a second fd for good, so
// reading 10,000 files once held 20,000 fds and opens failed with EMFILE
// (tools/bench-replication). Cached read fds are now bounded by a budget.
TEST_F(InodeTableTest, CachedReadFdsStayWithinTheirBudget) {
  ReadFdBudget budget(2);
  InodeTable table(UniqueFd(::open(dir_.path().c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC)));
  std::vector<Inode*> inodes;
  for (int i = 0; i < kFiles; ++i) inodes.push_back(LookUp(table, i));
  const int before = OpenFdCount();
  for (Inode* inode : inodes) {
    std::lock_guard lock(inode->mu);
    UniqueFd fd = inode->DupReadFd(budget, ProcPath(inode->fd()));
    ASSERT_TRUE(fd.valid());
    char byte;
    EXPECT_EQ(::pread(fd.get(), &byte, 1, 0), 1);
  }
  // The handles are closed: only the two cached fds remain.
  EXPECT_EQ(OpenFdCount(), before + 2);
  EXPECT_FALSE(budget.TryTake());

  // Forgetting an inode that cached one gives its share back.
  table.Forget(inodes[0], 1);
  // Inode 0's O_PATH fd and its cached read fd are closed.
  EXPECT_EQ(OpenFdCount(), before + 2 - 2);
  EXPECT_TRUE(budget.TryTake());
  budget.Give();
  {
    std::lock_guard lock(inodes[4]->mu);
    UniqueFd fd = inodes[4]->DupReadFd(budget, ProcPath(inodes[4]->fd()));
    ASSERT_TRUE(fd.valid());
  }
  EXPECT_EQ(OpenFdCount(), before + 1);
  EXPECT_FALSE(budget.TryTake());
}

}  // namespace
}  // namespace replfs
