// Differential POSIX test: every script of posix_diff_scripts.cc runs once
// in a native directory and once on a real replfs mount (both on the same
// local filesystem); the transcripts (return values, errno) and the
// resulting trees (modes, owners, sizes, contents, symlink targets, user
// xattrs) must be identical. The backing directory must hold the same tree
// too: what the mount shows is what replicates. Every script runs on a
// second mount too, whose files are reached by file handle instead of a
// kept fd (-o inode_fds=0: what a tree larger than the fd limit gets).
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "tests/posix_diff_scripts.h"
#include "tests/posix_script.h"
#include "tests/support/replica_process.h"
#include "tests/tree_snapshot.h"

namespace replfs::testing {
namespace {

// Lines of context shown around the first difference.
constexpr size_t kContext = 4;

std::string Excerpt(const std::vector<std::string>& lines, size_t center) {
  std::string out;
  const size_t begin = center > kContext ? center - kContext : 0;
  const size_t end = std::min(lines.size(), center + kContext + 1);
  for (size_t i = begin; i < end; ++i) {
    absl::StrAppend(&out, i == center ? "  > " : "    ", i + 1, ": ", lines[i].substr(0, 300),
                    "\n");
  }
  if (center >= lines.size()) absl::StrAppend(&out, "  > ", center + 1, ": <end>\n");
  return out;
}

// Fails, naming the script and the first differing line, unless equal.
void ExpectSameLines(const std::string& script, const std::string& what,
                     const std::vector<std::string>& native, const std::string& other_name,
                     const std::vector<std::string>& other) {
  if (native == other) return;
  size_t first = 0;
  while (first < native.size() && first < other.size() && native[first] == other[first]) ++first;
  ADD_FAILURE() << "script " << script << ": " << what << " differs first at line "
                << first + 1 << " (native has " << native.size() << " lines, " << other_name
                << " " << other.size() << ")\n"
                << "native:\n"
                << Excerpt(native, first) << other_name << ":\n"
                << Excerpt(other, first);
}

size_t CountErrorLines(const std::string& log) {
  size_t count = 0;
  for (absl::string_view line : absl::StrSplit(log, '\n')) {
    if (absl::StartsWith(line, "replfs error:")) ++count;
  }
  return count;
}

class PosixDiffTest : public ::testing::TestWithParam<Script> {
 protected:
  // One mount for the whole suite; every script works in its own subdirectory.
  static void SetUpTestSuite() {
    // Both runs see the same umask, whatever the caller's was.
    ::umask(022);
    dir_ = new TempDir("replfs-posix");
    // Non-root steps must reach the script roots: the temp dir is 0700.
    ::chmod(dir_->path().c_str(), 0755);
    native_ = new std::string(dir_->Sub("native"));
    const std::string backing = dir_->Sub("backing");
    const std::string mountpoint = dir_->Sub("mnt");
    const std::string handle_backing = dir_->Sub("handle-backing");
    const std::string handle_mountpoint = dir_->Sub("handle-mnt");
    for (const std::string& path :
         {*native_, backing, mountpoint, handle_backing, handle_mountpoint}) {
      ::chmod(path.c_str(), 0755);
    }
    replica_ = new ReplicaProcess(backing, mountpoint);
    by_handle_ = new ReplicaProcess(handle_backing, handle_mountpoint, {"-o", "inode_fds=0"});
    start_status_ = new absl::Status(replica_->Start());
    if (start_status_->ok()) *start_status_ = by_handle_->Start();
  }

  static void TearDownTestSuite() {
    for (ReplicaProcess** replica : {&replica_, &by_handle_}) {
      if (*replica == nullptr) continue;
      const absl::Status stopped = (*replica)->Stop();
      if (start_status_->ok() && !stopped.ok()) ADD_FAILURE() << "stopping replfs: " << stopped;
      delete *replica;
      *replica = nullptr;
    }
    delete start_status_;
    start_status_ = nullptr;
    delete native_;
    native_ = nullptr;
    delete dir_;
    dir_ = nullptr;
  }

  void SetUp() override { ASSERT_TRUE(start_status_->ok()) << *start_status_; }

  // Creates `root` world-writable (a shared docroot), as the script's root.
  static void MakeScriptRoot(const std::string& root) {
    ASSERT_EQ(::mkdir(root.c_str(), 0777), 0) << root << ": " << ErrnoName(errno);
    ASSERT_EQ(::chmod(root.c_str(), 0777), 0) << root << ": " << ErrnoName(errno);
  }

  static std::vector<std::string> Run(const Script& script, const std::string& root) {
    Recorder recorder(root);
    script.run(recorder);
    return recorder.transcript();
  }

  static TempDir* dir_;
  static std::string* native_;
  // Runs `script` on `replica`'s mount and compares it with the native run.
  static void ExpectSameAsNative(const Script& script, ReplicaProcess& replica,
                                 const std::vector<std::string>& native,
                                 const std::vector<std::string>& native_tree) {
    const std::string mount_root = replica.MountPath(script.name);
    const std::string backing_root = replica.BackingPath(script.name);
    ASSERT_NO_FATAL_FAILURE(MakeScriptRoot(mount_root));
    const size_t errors_before = CountErrorLines(replica.Log());

    const std::vector<std::string> mounted = Run(script, mount_root);
    ExpectSameLines(script.name, "transcript", native, "mount", mounted);

    absl::StatusOr<std::vector<std::string>> mount_tree = SnapshotTree(mount_root);
    absl::StatusOr<std::vector<std::string>> backing_tree = SnapshotTree(backing_root);
    ASSERT_TRUE(mount_tree.ok()) << mount_tree.status();
    ASSERT_TRUE(backing_tree.ok()) << backing_tree.status();
    ExpectSameLines(script.name, "tree through the mount", native_tree, "mount", *mount_tree);
    ExpectSameLines(script.name, "tree in the backing directory", native_tree, "backing",
                    *backing_tree);

    // A failed commit means the change would not replicate.
    const std::string log = replica.Log();
    EXPECT_EQ(CountErrorLines(log), errors_before) << "replfs logged errors:\n" << log;
  }

  static ReplicaProcess* replica_;
  static ReplicaProcess* by_handle_;
  static absl::Status* start_status_;
};

TempDir* PosixDiffTest::dir_ = nullptr;
std::string* PosixDiffTest::native_ = nullptr;
ReplicaProcess* PosixDiffTest::replica_ = nullptr;
ReplicaProcess* PosixDiffTest::by_handle_ = nullptr;
absl::Status* PosixDiffTest::start_status_ = nullptr;

TEST_P(PosixDiffTest, SameAsNative) {
  const Script& script = GetParam();
  const std::string native_root = absl::StrCat(*native_, "/", script.name);
  ASSERT_NO_FATAL_FAILURE(MakeScriptRoot(native_root));
  const std::vector<std::string> native = Run(script, native_root);
  absl::StatusOr<std::vector<std::string>> native_tree = SnapshotTree(native_root);
  ASSERT_TRUE(native_tree.ok()) << native_tree.status();
  {
    SCOPED_TRACE("mount whose inodes keep their fds");
    ExpectSameAsNative(script, *replica_, native, *native_tree);
  }
  {
    SCOPED_TRACE("mount whose files are reached by file handle (-o inode_fds=0)");
    ExpectSameAsNative(script, *by_handle_, native, *native_tree);
  }
}

INSTANTIATE_TEST_SUITE_P(posix, PosixDiffTest, ::testing::ValuesIn(PosixDiffScripts()),
                         [](const ::testing::TestParamInfo<Script>& param_info) {
                           return std::string(param_info.param.name);
                         });

}  // namespace
}  // namespace replfs::testing
