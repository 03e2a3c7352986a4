#include "fuse/inode_table.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "storage/proc_path.h"
#include "tests/support/scratch_dir.h"

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
  // Whether this process can open file handles (CAP_DAC_READ_SEARCH): the
  // tests of inodes that keep no fd need it, and are skipped without it (the
  // unit label also runs as nobody, tools/test.sh).
  bool HandlesWork() {
    return InodeTable(UniqueFd(::open(dir_.path().c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC)))
        .file_handles_work();
  }

  void SetUp() override {
    for (int i = 0; i < kFiles; ++i) {
      std::ofstream(dir_.Path(absl::StrCat("f", i))) << "content " << i;
    }
  }

  // Looks up file i as the kernel would: one O_PATH fd adopted by the table.
  Inode* LookUp(InodeTable& table, int i) {
    const std::string name = absl::StrCat("f", i);
    UniqueFd fd(::openat(table.root()->dir_fd(), name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
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
  FdBudget budget(2);
  InodeTable table(UniqueFd(::open(dir_.path().c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC)));
  std::vector<Inode*> inodes;
  inodes.reserve(kFiles);
  for (int i = 0; i < kFiles; ++i) inodes.push_back(LookUp(table, i));
  const int before = OpenFdCount();
  for (Inode* inode : inodes) {
    absl::MutexLock lock(&inode->io_mu);
    UniqueFd fd = inode->DupReadFd(budget, ProcPath(inode->path_fd().get()));
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
    absl::MutexLock lock(&inodes[4]->io_mu);
    UniqueFd fd = inodes[4]->DupReadFd(budget, ProcPath(inodes[4]->path_fd().get()));
    ASSERT_TRUE(fd.valid());
  }
  EXPECT_EQ(OpenFdCount(), before + 1);
  EXPECT_FALSE(budget.TryTake());
}

// Past its fd budget, an inode keeps a file handle instead of an O_PATH fd
// and opens one per operation, so a tree larger than the fd limit can still
// be cached by the kernel (tools/bench-replication ran the daemon into
// EMFILE with 20,000 files under a limit of 20,000).
TEST_F(InodeTableTest, InodesPastTheFdBudgetReachTheirObjectByHandle) {
  if (!HandlesWork()) GTEST_SKIP() << "open_by_handle_at needs CAP_DAC_READ_SEARCH (root)";
  const int before_table = OpenFdCount();
  InodeTable table(UniqueFd(::open(dir_.path().c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC)),
                   /*non_directory_fds=*/1);
  const int with_root = OpenFdCount();
  EXPECT_EQ(with_root, before_table + 2) << "the root's O_PATH fd and one to open handles with";
  std::vector<Inode*> inodes;
  inodes.reserve(kFiles);
  for (int i = 0; i < kFiles; ++i) inodes.push_back(LookUp(table, i));
  // Only the first file keeps its fd (needs CAP_DAC_READ_SEARCH: root).
  EXPECT_EQ(OpenFdCount(), with_root + 1);
  for (int i = 0; i < kFiles; ++i) {
    const PathFd fd = inodes[static_cast<size_t>(i)]->path_fd();
    ASSERT_TRUE(fd.valid()) << "file " << i << ": " << std::strerror(fd.error());
    struct stat by_fd, by_name;
    ASSERT_EQ(::fstatat(fd.get(), "", &by_fd, AT_EMPTY_PATH), 0);
    ASSERT_EQ(::stat(dir_.Path(absl::StrCat("f", i)).c_str(), &by_name), 0);
    EXPECT_EQ(by_fd.st_ino, by_name.st_ino) << "file " << i;
    // The fd serves the same operations a kept one does.
    char buffer[16] = {};
    UniqueFd readable(::open(ProcPath(fd.get()).c_str(), O_RDONLY | O_CLOEXEC));
    ASSERT_TRUE(readable.valid());
    EXPECT_EQ(::read(readable.get(), buffer, sizeof(buffer) - 1),
              static_cast<ssize_t>(absl::StrCat("content ", i).size()));
    EXPECT_EQ(std::string(buffer), absl::StrCat("content ", i));
  }
  EXPECT_EQ(OpenFdCount(), with_root + 1);
  // Forgetting the inode that kept its fd frees its share for the next.
  table.Forget(inodes[0], 1);
  EXPECT_EQ(OpenFdCount(), with_root);
  Inode* again = LookUp(table, 0);
  EXPECT_EQ(OpenFdCount(), with_root + 1);
  EXPECT_TRUE(again->path_fd().valid());
}

// Without the capability to open file handles (replfs not run as root),
// every inode keeps its fd whatever the budget: none is left unreachable.
TEST_F(InodeTableTest, WithoutFileHandlesEveryInodeKeepsItsFd) {
  if (HandlesWork()) GTEST_SKIP() << "file handles work here (run as root): nothing to fall back";
  InodeTable table(UniqueFd(::open(dir_.path().c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC)),
                   /*non_directory_fds=*/1);
  const int with_root = OpenFdCount();
  std::vector<Inode*> inodes;
  inodes.reserve(kFiles);
  for (int i = 0; i < kFiles; ++i) inodes.push_back(LookUp(table, i));
  EXPECT_EQ(OpenFdCount(), with_root + kFiles);
  for (Inode* inode : inodes) EXPECT_TRUE(inode->path_fd().valid());
}

// An inode that keeps no fd does not pin its inode number: once its file is
// deleted, a new object may get the same number while the kernel still
// holds the old inode. A lookup must then not serve the new object through
// the old inode (found by the POSIX suite on an inode_fds=0 mount under
// load: a new symlink answered ESTALE). The reuse is forged here by giving
// the new object the old one's stat.
TEST_F(InodeTableTest, AReusedInodeNumberGetsANewInode) {
  if (!HandlesWork()) GTEST_SKIP() << "open_by_handle_at needs CAP_DAC_READ_SEARCH (root)";
  InodeTable table(UniqueFd(::open(dir_.path().c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC)),
                   /*non_directory_fds=*/0);
  Inode* old_inode = LookUp(table, 0);
  struct stat old_st;
  ASSERT_EQ(::stat(dir_.Path("f0").c_str(), &old_st), 0);

  // Another object presented with f0's (dev, ino): a lookup of the number
  // alone must not find f0's inode.
  EXPECT_EQ(table.LookedUpExisting(table.root(), "f1", old_st), nullptr);
  UniqueFd f1(::openat(table.root()->dir_fd(), "f1", O_PATH | O_NOFOLLOW | O_CLOEXEC));
  ASSERT_TRUE(f1.valid());
  Inode* new_inode = table.LookedUp(table.root(), "f1", std::move(f1), old_st);
  ASSERT_NE(new_inode, old_inode);
  EXPECT_EQ(table.Find(old_st.st_dev, old_st.st_ino), new_inode);
  const PathFd new_fd = new_inode->path_fd();
  ASSERT_TRUE(new_fd.valid());
  struct stat by_fd, f1_st;
  ASSERT_EQ(::fstatat(new_fd.get(), "", &by_fd, AT_EMPTY_PATH), 0);
  ASSERT_EQ(::stat(dir_.Path("f1").c_str(), &f1_st), 0);
  EXPECT_EQ(by_fd.st_ino, f1_st.st_ino);

  // The old inode still serves the kernel's references until forgotten,
  // and forgetting it leaves the new one in place.
  EXPECT_EQ(table.PathsOf(old_inode), std::vector<std::string>{"f0"});
  table.Forget(old_inode, 1);
  EXPECT_EQ(table.Find(old_st.st_dev, old_st.st_ino), new_inode);
  EXPECT_EQ(table.PathsOf(new_inode), std::vector<std::string>{"f1"});
  table.Forget(new_inode, 1);
  EXPECT_EQ(table.Find(old_st.st_dev, old_st.st_ino), nullptr);
}

}  // namespace
}  // namespace replfs
