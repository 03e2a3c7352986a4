// The kernel's io-mode rule under real use: with kernel passthrough every
// open of one inode must share its io mode and backing file, and an open
// that breaks this fails with EIO. Readers and writers of one file at once,
// in every order, mmap, sendfile, a remote version replacing a file under
// open readers, and the commit of writers whose writes the daemon never
// sees, on two real replicas. On the fuse_io/ run (passthrough off) the
// same operations must behave the same.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "base/unique_fd.h"
#include "fuse/kernel_features.h"
#include "gtest/gtest.h"
#include "tests/cluster.h"

namespace replfs::testing {
namespace {

using Clock = std::chrono::steady_clock;

// Reads all of `fd` from offset 0 (pread: leaves the file offset alone).
std::string ReadAllAt(int fd) {
  std::string out;
  char buffer[65536];
  for (off_t at = 0;;) {
    const ssize_t n = ::pread(fd, buffer, sizeof(buffer), at);
    EXPECT_GE(n, 0) << std::strerror(errno);
    if (n <= 0) break;
    out.append(buffer, static_cast<size_t>(n));
    at += n;
  }
  return out;
}

void WriteAll(int fd, const std::string& data) {
  ASSERT_EQ(::write(fd, data.data(), data.size()), static_cast<ssize_t>(data.size()))
      << std::strerror(errno);
}

// On the FUSE path the kernel's writeback cache holds written bytes until
// it writes them back (fdatasync would commit at once): force only that.
void WriteBack(int fd) {
  ASSERT_EQ(::sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
                                            SYNC_FILE_RANGE_WAIT_AFTER),
            0)
      << std::strerror(errno);
}

UniqueFd OpenOk(const std::string& path, int flags, mode_t mode = 0644) {
  UniqueFd fd(::open(path.c_str(), flags | O_CLOEXEC, mode));
  EXPECT_TRUE(fd.valid()) << path << ": " << std::strerror(errno);
  return fd;
}

class IoModeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    REPLFS_ASSERT_OK(cluster_.init_status());
    REPLFS_ASSERT_OK(cluster_.StartAll());
  }

  std::string A(const std::string& path) const { return cluster_.Mount(0, path); }
  std::string B(const std::string& path) const { return cluster_.Mount(1, path); }

  // Waits (up to 20 s) until replica 1's mount shows `content` at `path`.
  void ExpectOnBSoon(const std::string& path, const std::string& content) {
    const auto deadline = Clock::now() + std::chrono::seconds(20);
    absl::StatusOr<std::string> got;
    while (Clock::now() < deadline) {
      got = ReadFile(B(path));
      if (got.ok() && *got == content) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ADD_FAILURE() << path << " on B: "
                  << (got.ok() ? absl::StrCat(got->size(), " bytes, not the expected ",
                                              content.size())
                               : got.status().ToString())
                  << "\n"
                  << cluster_.Diagnostics();
  }

  Cluster cluster_{2};
};

TEST_F(IoModeTest, StatusShowsTheDataPathInUse) {
  absl::StatusOr<ReplicaStatus> status = cluster_.Status(0);
  ASSERT_TRUE(status.ok()) << status.status();
  const char* forced = std::getenv("REPLFS_TEST_DATA_PATH");
  if (forced != nullptr && std::string(forced) == "fuse") {
    EXPECT_EQ(status->data_path(), "fuse");
    EXPECT_EQ(status->data_path_reason(), "-o passthrough=off");
    return;
  }
  // Where nothing known stands in the way, this kernel must negotiate it.
  UniqueFd backing(::open(cluster_.Backing(0).c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  ASSERT_TRUE(backing.valid());
  const std::string blocker = PassthroughBlocker(backing.get());
  EXPECT_EQ(status->data_path(), blocker.empty() ? "passthrough" : "fuse") << blocker;
}

TEST_F(IoModeTest, ReaderThenWriterThenReaderSeeOneFile) {
  REPLFS_ASSERT_OK(WriteFile(A("f"), "old content"));
  UniqueFd reader = OpenOk(A("f"), O_RDONLY);
  EXPECT_EQ(ReadAllAt(reader.get()), "old content");
  // A truncating writer while a reader is open (a deploy over Apache).
  UniqueFd writer = OpenOk(A("f"), O_WRONLY | O_TRUNC);
  WriteAll(writer.get(), "new");
  EXPECT_EQ(ReadAllAt(reader.get()), "new");
  UniqueFd second_reader = OpenOk(A("f"), O_RDONLY);
  EXPECT_EQ(ReadAllAt(second_reader.get()), "new");
  UniqueFd read_write = OpenOk(A("f"), O_RDWR);
  ASSERT_EQ(::pwrite(read_write.get(), "N", 1, 0), 1) << std::strerror(errno);
  EXPECT_EQ(ReadAllAt(second_reader.get()), "New");
  EXPECT_EQ(ReadAllAt(read_write.get()), "New");
  writer.Reset();
  read_write.Reset();
  reader.Reset();
  second_reader.Reset();
  ExpectOnBSoon("f", "New");
}

TEST_F(IoModeTest, WriterFirstThenReadersInEveryMode) {
  UniqueFd writer = OpenOk(A("g"), O_RDWR | O_CREAT | O_EXCL);
  WriteAll(writer.get(), "written first");
  UniqueFd reader = OpenOk(A("g"), O_RDONLY);
  EXPECT_EQ(ReadAllAt(reader.get()), "written first");
  UniqueFd direct = OpenOk(A("g"), O_RDONLY | O_DIRECT);
  UniqueFd appender = OpenOk(A("g"), O_WRONLY | O_APPEND);
  WriteAll(appender.get(), "+more");
  EXPECT_EQ(ReadAllAt(reader.get()), "written first+more");
  EXPECT_EQ(ReadAllAt(writer.get()), "written first+more");
  writer.Reset();
  appender.Reset();
  ExpectOnBSoon("g", "written first+more");
}

TEST_F(IoModeTest, TailFollowsALogBeingAppended) {
  // A log bigger than a block, appended by a writer that keeps it open,
  // read by a `tail -f` that keeps its own fd and offset.
  std::string log(3 * 1024 * 1024 + 5, 'L');
  REPLFS_ASSERT_OK(WriteFile(A("app.log"), log));
  UniqueFd tail = OpenOk(A("app.log"), O_RDONLY);
  ASSERT_EQ(::lseek(tail.get(), 0, SEEK_END), static_cast<off_t>(log.size()));
  UniqueFd logger = OpenOk(A("app.log"), O_WRONLY | O_APPEND);
  std::string followed;
  for (int i = 0; i < 20; ++i) {
    const std::string line = absl::StrCat("line ", i, "\n");
    WriteAll(logger.get(), line);
    log += line;
    char buffer[256];
    const ssize_t n = ::read(tail.get(), buffer, sizeof(buffer));
    ASSERT_GT(n, 0) << std::strerror(errno);
    followed.append(buffer, static_cast<size_t>(n));
  }
  EXPECT_EQ(followed, log.substr(3 * 1024 * 1024 + 5));
  logger.Reset();
  tail.Reset();
  ExpectOnBSoon("app.log", log);
}

TEST_F(IoModeTest, SharedMmapSeesWritesAndItsWritesReplicate) {
  REPLFS_ASSERT_OK(WriteFile(A("m"), std::string(8192, 'a')));
  UniqueFd mapped_fd = OpenOk(A("m"), O_RDWR);
  void* map = ::mmap(nullptr, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, mapped_fd.get(), 0);
  ASSERT_NE(map, MAP_FAILED) << std::strerror(errno);
  char* bytes = static_cast<char*>(map);
  {
    // A write through another fd shows in the mapping.
    UniqueFd writer = OpenOk(A("m"), O_WRONLY);
    ASSERT_EQ(::pwrite(writer.get(), "WRITE", 5, 100), 5) << std::strerror(errno);
  }
  EXPECT_EQ(std::string(bytes + 100, 5), "WRITE");
  // A store through the mapping shows to readers and reaches the peer.
  const std::string stored = "MAPPED";
  stored.copy(bytes, stored.size());
  ASSERT_EQ(::msync(map, 8192, MS_SYNC), 0) << std::strerror(errno);
  UniqueFd reader = OpenOk(A("m"), O_RDONLY);
  std::string expected(8192, 'a');
  expected.replace(0, 6, "MAPPED");
  expected.replace(100, 5, "WRITE");
  EXPECT_EQ(ReadAllAt(reader.get()), expected);
  ASSERT_EQ(::munmap(map, 8192), 0);
  mapped_fd.Reset();
  ExpectOnBSoon("m", expected);
}

TEST_F(IoModeTest, SendfileFromTheMount) {
  std::string content(1024 * 1024 + 333, '\0');
  for (size_t i = 0; i < content.size(); ++i) content[i] = static_cast<char>(i * 31);
  REPLFS_ASSERT_OK(WriteFile(A("sent"), content));
  UniqueFd in = OpenOk(A("sent"), O_RDONLY);
  const std::string copy_path = cluster_.Backing(0) + ".sendfile-copy";
  UniqueFd out = OpenOk(copy_path, O_WRONLY | O_CREAT | O_TRUNC);
  size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = ::sendfile(out.get(), in.get(), nullptr, content.size() - done);
    ASSERT_GT(n, 0) << std::strerror(errno);
    done += static_cast<size_t>(n);
  }
  out.Reset();
  absl::StatusOr<std::string> copied = ReadFile(copy_path);
  ::unlink(copy_path.c_str());
  ASSERT_TRUE(copied.ok()) << copied.status();
  EXPECT_TRUE(*copied == content);
}

TEST_F(IoModeTest, RemoteVersionReplacesAFileUnderOpenReaders) {
  const std::string old_content(size_t{64} * 1024, 'o');
  REPLFS_ASSERT_OK(WriteFile(A("page.html"), old_content));
  ExpectOnBSoon("page.html", old_content);
  // B serves the page: an open fd and a mapping, as Apache with EnableMMAP.
  UniqueFd served = OpenOk(B("page.html"), O_RDONLY);
  void* map = ::mmap(nullptr, old_content.size(), PROT_READ, MAP_SHARED, served.get(), 0);
  ASSERT_NE(map, MAP_FAILED) << std::strerror(errno);
  const std::string new_content(size_t{32} * 1024, 'n');
  REPLFS_ASSERT_OK(WriteFile(A("page.html"), new_content));
  ExpectOnBSoon("page.html", new_content);
  // The open fd and the mapping keep the version they opened, whole.
  EXPECT_EQ(ReadAllAt(served.get()), old_content);
  EXPECT_EQ(std::string(static_cast<const char*>(map), old_content.size()), old_content);
  ASSERT_EQ(::munmap(map, old_content.size()), 0);
  // And a writer on B after the replace writes the new file.
  {
    UniqueFd appender = OpenOk(B("page.html"), O_WRONLY | O_APPEND);
    WriteAll(appender.get(), "!");
  }
  absl::StatusOr<std::string> on_b = ReadFile(B("page.html"));
  ASSERT_TRUE(on_b.ok()) << on_b.status();
  EXPECT_EQ(*on_b, new_content + "!");
}

TEST_F(IoModeTest, WriterKeptOpenIsCommittedOnceQuiet) {
  // An O_RDWR writer may mmap: its writes are not seen by the daemon on the
  // passthrough path, and the idle committer must still record them.
  UniqueFd writer = OpenOk(A("kept-open"), O_RDWR | O_CREAT);
  WriteAll(writer.get(), "first state");
  WriteBack(writer.get());
  ExpectOnBSoon("kept-open", "first state");
  ASSERT_EQ(::pwrite(writer.get(), "FIRST", 5, 0), 5) << std::strerror(errno);
  WriteBack(writer.get());
  ExpectOnBSoon("kept-open", "FIRST state");
  // The same for a writer whose writes the daemon sees (an appender).
  UniqueFd appender = OpenOk(A("kept-open"), O_WRONLY | O_APPEND);
  WriteAll(appender.get(), " and more");
  WriteBack(appender.get());
  ExpectOnBSoon("kept-open", "FIRST state and more");
}

TEST_F(IoModeTest, FsyncCommitsBeforeItReturns) {
  std::string big(size_t{6} << 20, 'x');  // Bigger than any inline file.
  UniqueFd writer = OpenOk(A("synced"), O_WRONLY | O_CREAT | O_TRUNC);
  WriteAll(writer.get(), big);
  ASSERT_EQ(::fsync(writer.get()), 0) << std::strerror(errno);
  // Committed before fsync returned: no pending commit while still open.
  absl::StatusOr<ReplicaStatus> status = cluster_.Status(0);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->pending_commits(), 0u);
  ExpectOnBSoon("synced", big);
}

// A process that keeps a file open for writing outlives a killed daemon:
// with passthrough the kernel still hands its writes to the backing file.
// The next daemon finds it and records what it writes, while it writes and
// when it closes. On FUSE I/O the late write or its close fails instead.
TEST_F(IoModeTest, AWriterThatOutlivesItsDaemonIsRecordedByTheNextOne) {
  absl::StatusOr<ReplicaStatus> status = cluster_.Status(0);
  ASSERT_TRUE(status.ok()) << status.status();
  const bool passthrough = status->data_path() == "passthrough";
  UniqueFd writer = OpenOk(A("long.log"), O_WRONLY | O_CREAT);
  WriteAll(writer.get(), "one\n");
  cluster_.Kill(0);
  REPLFS_ASSERT_OK(cluster_.Start(0));
  const ssize_t written = ::write(writer.get(), "two\n", 4);
  if (!passthrough) {
    // The writeback cache may take the write; its close then reports the loss.
    const int closed = ::close(writer.Release());
    EXPECT_TRUE(written < 0 || closed != 0) << "a write through a dead FUSE connection and its "
                                               "close both reported success";
    return;
  }
  ASSERT_EQ(written, 4) << std::strerror(errno);
  // Held open and quiet: the idle commit.
  ExpectOnBSoon("long.log", "one\ntwo\n");
  WriteAll(writer.get(), "three\n");
  ASSERT_EQ(::close(writer.Release()), 0) << std::strerror(errno);
  ExpectOnBSoon("long.log", "one\ntwo\nthree\n");
}

}  // namespace
}  // namespace replfs::testing
