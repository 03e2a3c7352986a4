// Crash safety: data goes to the backing file first, the entry second; a
// replfs killed in between must, at its next start, bring the store in line
// with the backing directory (DESIGN.md, "Crash safety").
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "base/unique_fd.h"
#include "gtest/gtest.h"
#include "storage/metadata_store.h"
#include "storage/version.h"
#include "tests/backing_tree.h"
#include "tests/support/replica_process.h"

namespace replfs {
namespace {

using testing::ReplicaProcess;
using testing::TempDir;
using Clock = std::chrono::steady_clock;

// Deterministic content of a streamed file: 1 to 48 KiB derived from its name.
std::string ContentFor(const std::string& name) {
  std::mt19937_64 rng(std::hash<std::string>{}(name));
  std::string data(1024 * (1 + rng() % 48) + rng() % 1000, '\0');
  for (char& c : data) c = static_cast<char>(rng() & 0xff);
  return data;
}

// Writes files `prefix`0, `prefix`1, ... into the directory `dir_fd` (on the
// mount) until an operation fails (the replica died), `max_files` were
// written or `deadline` passed. Relative to a directory fd so that after the
// mount is gone nothing can land in the bare mountpoint directory.
class StreamWriter {
 public:
  StreamWriter(UniqueFd dir_fd, std::string prefix, int max_files, Clock::time_point deadline)
      : dir_fd_(std::move(dir_fd)), prefix_(std::move(prefix)), max_files_(max_files),
        deadline_(deadline) {
    thread_ = std::thread([this] { Run(); });
  }
  ~StreamWriter() { Join(); }

  void Join() {
    if (thread_.joinable()) thread_.join();
  }
  int closed_count() const { return closed_count_.load(); }
  // Names whose close() returned 0. Call after Join().
  const std::vector<std::string>& closed() const { return closed_; }

 private:
  void Run() {
    for (int i = 0; i < max_files_ && Clock::now() < deadline_; ++i) {
      const std::string name = prefix_ + std::to_string(i);
      const std::string data = ContentFor(name);
      const int fd = ::openat(dir_fd_.get(), name.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
                              0644);
      if (fd < 0) break;
      bool ok = true;
      for (size_t done = 0; done < data.size() && ok;) {
        const size_t chunk = std::min<size_t>(8192, data.size() - done);
        const ssize_t n = ::write(fd, data.data() + done, chunk);
        if (n <= 0) {
          ok = false;
        } else {
          done += static_cast<size_t>(n);
        }
      }
      if (::close(fd) != 0 || !ok) break;
      closed_.push_back(name);  // Only this thread touches it until Join().
      ++closed_count_;
    }
    // Let go of the mount at once, so the unmount after a kill is not busy.
    dir_fd_.Reset();
  }

  UniqueFd dir_fd_;
  std::string prefix_;
  int max_files_;
  Clock::time_point deadline_;
  std::vector<std::string> closed_;
  std::atomic<int> closed_count_{0};
  std::thread thread_;
};

class CrashTest : public ::testing::Test {
 protected:
  void SetUp() override {
    replica_ = std::make_unique<ReplicaProcess>(dir_.Sub("backing"), dir_.Sub("mnt"));
    const absl::Status s = replica_->Start();
    ASSERT_TRUE(s.ok()) << s;
  }

  std::unique_ptr<MetadataStore> StopAndOpenStore() { return testing::StopAndOpenStore(*replica_); }

  void WriteBacking(const std::string& rel, const std::string& data) {
    std::ofstream out(replica_->BackingPath(rel), std::ios::binary | std::ios::trunc);
    out << data;
  }

  void WriteThroughMount(const std::string& rel, const std::string& data) {
    UniqueFd fd(::open(replica_->MountPath(rel).c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
                       0644));
    ASSERT_TRUE(fd.valid()) << rel << ": " << std::strerror(errno);
    ASSERT_EQ(::write(fd.get(), data.data(), data.size()), static_cast<ssize_t>(data.size()));
    ASSERT_EQ(::close(fd.Release()), 0);
  }

  TempDir dir_{"replfs-crash"};
  std::unique_ptr<ReplicaProcess> replica_;
};

TEST_F(CrashTest, FilesClosedBeforeKillAreInBackingAndStore) {
  ASSERT_EQ(::mkdir(replica_->MountPath("stream").c_str(), 0755), 0);
  std::vector<std::string> closed;
  // Kill after different amounts of progress; each round restarts on the
  // same backing dir, so later rounds also start up after a crash.
  const int kill_after[] = {5, 40, 120};
  for (int round = 0; round < 3; ++round) {
    SCOPED_TRACE(::testing::Message() << "round " << round);
    UniqueFd dir_fd(::open(replica_->MountPath("stream").c_str(),
                           O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    ASSERT_TRUE(dir_fd.valid()) << std::strerror(errno);
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    StreamWriter writer(std::move(dir_fd), "r" + std::to_string(round) + "-", 100000, deadline);
    while (writer.closed_count() < kill_after[round] && Clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    const int closed_before_kill = writer.closed_count();
    replica_->Kill();  // Mid-stream: the writer is still going.
    writer.Join();
    ASSERT_GE(closed_before_kill, kill_after[round]) << "writer too slow: " << replica_->Log();
    // The writer must have been stopped by the kill, not by its limits.
    EXPECT_LT(writer.closed_count(), 100000);
    // Only closes that returned before the kill was sent are promises the
    // kernel made with the replica alive. (A close racing the kill may
    // return 0 with its data dropped: see CloseAfterReplicaDiedReportsError.)
    closed.insert(closed.end(), writer.closed().begin(),
                  writer.closed().begin() + closed_before_kill);
    const absl::Status restarted = replica_->Start();
    ASSERT_TRUE(restarted.ok()) << restarted;
  }

  std::unique_ptr<MetadataStore> store = StopAndOpenStore();
  ASSERT_NE(store, nullptr);
  const std::map<std::string, Entry> entries = testing::ReadAllEntries(*store);
  for (const std::string& name : closed) {
    SCOPED_TRACE(name);
    const std::string rel = "stream/" + name;
    const std::string expected = ContentFor(name);
    const std::string on_disk = testing::ReadWholeFile(replica_->BackingPath(rel));
    EXPECT_EQ(on_disk.size(), expected.size());
    EXPECT_TRUE(on_disk == expected) << "content differs";
    auto it = entries.find(rel);
    ASSERT_NE(it, entries.end()) << "no entry for a file closed before the kill";
    ASSERT_EQ(it->second.content().kind(), KIND_FILE);
    testing::ExpectContentIs(it->second, expected);
  }
  // Beyond the closed files (e.g. one half-written when the kill came): the
  // store describes whatever the backing dir holds, and the log is intact.
  testing::ExpectStoreDescribesTree(entries, testing::ReadBackingTree(replica_->backing()));
  std::map<std::string, int> in_log;
  ASSERT_TRUE(store->ScanChanges(0, [&](const Entry& e) {
    ++in_log[e.path()];
    return true;
  }).ok());
  EXPECT_EQ(in_log.size(), entries.size());
  for (const auto& [path, count] : in_log) EXPECT_EQ(count, 1) << path;
}

// Data written into the kernel's writeback cache and closed after the
// replica died never reaches the backing dir; close() must then fail rather
// than report success. The kernel only learns of the dead connection on
// close if it sends FLUSH, which it stops doing for good once the daemon
// answered one FLUSH with ENOSYS (no flush handler).
TEST_F(CrashTest, CloseAfterReplicaDiedReportsError) {
  for (int trial = 0; trial < 2; ++trial) {
    SCOPED_TRACE(::testing::Message() << "trial " << trial);
    WriteThroughMount("warm-" + std::to_string(trial), "a first close while alive");
    const std::string name = "late-" + std::to_string(trial);
    const std::string data = ContentFor(name);
    UniqueFd fd(::open(replica_->MountPath(name).c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
                       0644));
    ASSERT_TRUE(fd.valid()) << std::strerror(errno);
    ASSERT_EQ(::write(fd.get(), data.data(), data.size()), static_cast<ssize_t>(data.size()));
    replica_->Kill();
    const int closed = ::close(fd.Release());
    const std::string on_disk = testing::ReadWholeFile(replica_->BackingPath(name));
    EXPECT_TRUE(closed != 0 || on_disk == data)
        << "close() returned 0 but the backing file holds " << on_disk.size() << " of "
        << data.size() << " bytes";
    const absl::Status restarted = replica_->Start();
    ASSERT_TRUE(restarted.ok()) << restarted;
  }
}

TEST_F(CrashTest, EditsMadeWhileStoppedAreCommittedAtStart) {
  WriteThroughMount("edited.txt", "version one");
  WriteThroughMount("same-size.txt", "AAAA");
  WriteThroughMount("removed.txt", "bye");
  WriteThroughMount("chmodded.txt", "mode changes");
  ASSERT_EQ(::mkdir(replica_->MountPath("sub").c_str(), 0755), 0);
  WriteThroughMount("sub/big.bin", std::string(3 << 20, 'x'));
  std::map<std::string, Entry> before;
  uint64_t seq_before = 0;
  {
    std::unique_ptr<MetadataStore> store = StopAndOpenStore();
    ASSERT_NE(store, nullptr);
    before = testing::ReadAllEntries(*store);
    seq_before = store->LastSeq();
  }
  ASSERT_TRUE(before.contains("edited.txt"));
  ASSERT_TRUE(before.contains("sub/big.bin"));

  // Behind replfs's back, while it is stopped.
  WriteBacking("edited.txt", "version two, longer");
  WriteBacking("same-size.txt", "BBBB");
  ASSERT_EQ(::unlink(replica_->BackingPath("removed.txt").c_str()), 0);
  ASSERT_EQ(::chmod(replica_->BackingPath("chmodded.txt").c_str(), 0600), 0);
  WriteBacking("added.txt", "new while stopped");
  {
    std::fstream big(replica_->BackingPath("sub/big.bin"), std::ios::in | std::ios::out | std::ios::binary);
    big.seekp((1 << 20) + 5);
    big << "a change in block one";
  }

  ASSERT_TRUE(replica_->Start().ok());
  std::unique_ptr<MetadataStore> store = StopAndOpenStore();
  ASSERT_NE(store, nullptr);
  const std::map<std::string, Entry> after = testing::ReadAllEntries(*store);
  EXPECT_GT(store->LastSeq(), seq_before);
  for (const char* path : {"edited.txt", "same-size.txt", "sub/big.bin"}) {
    SCOPED_TRACE(path);
    const Entry& old_entry = before.at(path);
    const Entry& new_entry = after.at(path);
    EXPECT_GT(CompareVersions(new_entry.content().version(), old_entry.content().version()), 0);
    EXPECT_TRUE(VectorDominates(new_entry.content().vector(), old_entry.content().vector()));
    EXPECT_FALSE(VectorDominates(old_entry.content().vector(), new_entry.content().vector()));
    EXPECT_GT(new_entry.seq(), seq_before);
  }
  testing::ExpectContentIs(after.at("edited.txt"), "version two, longer");
  testing::ExpectContentIs(after.at("same-size.txt"), "BBBB");
  EXPECT_EQ(after.at("removed.txt").content().kind(), KIND_TOMBSTONE);
  testing::ExpectContentIs(after.at("added.txt"), "new while stopped");
  const Entry& chmodded = after.at("chmodded.txt");
  EXPECT_EQ(chmodded.attributes().mode(), 0600u);
  EXPECT_GT(CompareVersions(chmodded.attributes().version(),
                            before.at("chmodded.txt").attributes().version()), 0);
  EXPECT_EQ(CompareVersions(chmodded.content().version(),
                            before.at("chmodded.txt").content().version()), 0);
  testing::ExpectStoreDescribesTree(after, testing::ReadBackingTree(replica_->backing()));
}

}  // namespace
}  // namespace replfs
