// A receive-only web server (README.md, "Across datacentres"): a replica
// mounted `-o ro` applies every change its peers make and refuses every
// local change with EROFS, without recording anything of its own.

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "base/unique_fd.h"
#include "gtest/gtest.h"
#include "tests/cluster.h"

namespace replfs::testing {
namespace {

class EdgeReplicaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    REPLFS_ASSERT_OK(cluster_.init_status());
    cluster_.AddArguments(1, {"-o", "ro"});
    REPLFS_ASSERT_OK(cluster_.StartAll());
  }

  std::string Origin(const std::string& path) const { return cluster_.Mount(0, path); }
  std::string Edge(const std::string& path) const { return cluster_.Mount(1, path); }

  void ExpectOnEdge(const std::string& path, const std::string& content) {
    absl::StatusOr<std::string> got = ReadFile(Edge(path));
    ASSERT_TRUE(got.ok()) << path << ": " << got.status();
    EXPECT_EQ(*got, content) << path;
  }

  // The edge pulls from the origin; the origin pulls from nobody.
  Cluster cluster_{2, Topology{{}, {0}}};
};

TEST_F(EdgeReplicaTest, AppliesWhatItsPeerChanges) {
  ASSERT_EQ(::mkdir(Origin("site").c_str(), 0755), 0);
  REPLFS_ASSERT_OK(WriteFile(Origin("site/index.html"), "<h1>v1</h1>"));
  REPLFS_ASSERT_OK(WriteFile(Origin("site/old.html"), "old page"));
  REPLFS_ASSERT_OK(WriteFile(Origin("site/gone.html"), "deleted soon"));
  ASSERT_EQ(::symlink("index.html", Origin("site/home.html").c_str()), 0);
  REPLFS_ASSERT_OK(cluster_.WaitForConvergence());
  ExpectOnEdge("site/index.html", "<h1>v1</h1>");
  ExpectOnEdge("site/home.html", "<h1>v1</h1>");

  // A deploy while the web server holds the page open.
  UniqueFd reader(::open(Edge("site/index.html").c_str(), O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(reader.valid()) << std::strerror(errno);
  REPLFS_ASSERT_OK(WriteFile(Origin("site/index.html"), "<h1>v2, longer</h1>"));
  ASSERT_EQ(::rename(Origin("site/old.html").c_str(), Origin("site/new.html").c_str()), 0);
  ASSERT_EQ(::unlink(Origin("site/gone.html").c_str()), 0);
  ASSERT_EQ(::chmod(Origin("site").c_str(), 0711), 0);
  REPLFS_ASSERT_OK(cluster_.WaitForConvergence());
  ExpectOnEdge("site/index.html", "<h1>v2, longer</h1>");
  ExpectOnEdge("site/home.html", "<h1>v2, longer</h1>");
  ExpectOnEdge("site/new.html", "old page");
  struct stat st;
  EXPECT_NE(::lstat(Edge("site/old.html").c_str(), &st), 0);
  EXPECT_NE(::lstat(Edge("site/gone.html").c_str(), &st), 0);
  ASSERT_EQ(::stat(Edge("site").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0711u);
}

TEST_F(EdgeReplicaTest, RefusesEveryLocalChangeAndRecordsNothing) {
  ASSERT_EQ(::mkdir(Origin("dir").c_str(), 0755), 0);
  REPLFS_ASSERT_OK(WriteFile(Origin("page.html"), "served"));
  REPLFS_ASSERT_OK(cluster_.WaitForConvergence());

  const std::string page = Edge("page.html");
  const std::string dir = Edge("dir");
  const struct timespec now[2] = {{0, UTIME_NOW}, {0, UTIME_NOW}};
  const std::vector<std::pair<std::string, std::function<int()>>> changes = {
      {"create", [&] { return ::open(Edge("new").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644); }},
      {"open for writing", [&] { return ::open(page.c_str(), O_WRONLY | O_CLOEXEC); }},
      {"open O_TRUNC", [&] { return ::open(page.c_str(), O_RDONLY | O_TRUNC | O_CLOEXEC); }},
      {"truncate", [&] { return ::truncate(page.c_str(), 0); }},
      {"unlink", [&] { return ::unlink(page.c_str()); }},
      {"rmdir", [&] { return ::rmdir(dir.c_str()); }},
      {"mkdir", [&] { return ::mkdir(Edge("newdir").c_str(), 0755); }},
      {"rename", [&] { return ::rename(page.c_str(), Edge("renamed").c_str()); }},
      {"symlink", [&] { return ::symlink("page.html", Edge("link").c_str()); }},
      {"link", [&] { return ::link(page.c_str(), Edge("hard").c_str()); }},
      {"mkfifo", [&] { return ::mkfifo(Edge("fifo").c_str(), 0644); }},
      {"chmod", [&] { return ::chmod(page.c_str(), 0600); }},
      {"chown", [&] { return ::chown(page.c_str(), 65534, 65534); }},
      {"utimens", [&] { return ::utimensat(AT_FDCWD, page.c_str(), now, 0); }},
      {"setxattr", [&] { return ::setxattr(page.c_str(), "user.k", "v", 1, 0); }},
      {"removexattr", [&] { return ::removexattr(page.c_str(), "user.k"); }},
  };
  for (const auto& [what, change] : changes) {
    errno = 0;
    const int result = change();
    const int error = errno;
    if (result >= 0 && (what == "create" || what.starts_with("open"))) ::close(result);
    EXPECT_EQ(result, -1) << what << " succeeded on a read-only replica";
    EXPECT_EQ(error, EROFS) << what << ": " << std::strerror(error);
  }
  ExpectOnEdge("page.html", "served");

  // Nothing of the edge's own: a change on the origin still converges both
  // trees to the origin's.
  REPLFS_ASSERT_OK(WriteFile(Origin("after.html"), "later"));
  REPLFS_ASSERT_OK(cluster_.WaitForConvergence());
  ExpectOnEdge("after.html", "later");
  absl::StatusOr<ReplicaStatus> status = cluster_.Status(1);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->commit_failures(), 0u);
  EXPECT_EQ(status->pending_commits(), 0u);
}

}  // namespace
}  // namespace replfs::testing
