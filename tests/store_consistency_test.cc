// Drives a real replica through its mount with scripted file operations,
// then checks that its metadata store describes exactly the backing tree:
// live entries, tombstones, a change log holding each path once, versions
// ordered like the operations, and an idempotent start-up scan.
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/unique_fd.h"
#include "gtest/gtest.h"
#include "storage/metadata_store.h"
#include "storage/version.h"
#include "tests/backing_tree.h"
#include "tests/cluster.h"
#include "tests/support/replica_process.h"

namespace replfs {
namespace {

using testing::BackingObject;
using testing::ReplicaProcess;
using testing::TempDir;

std::string RandomBytes(uint64_t seed, size_t n) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng() & 0xff);
  return s;
}

// The newer of an entry's two registers: the version of its last change.
Version LatestVersion(const Entry& e) {
  return VersionLess(e.content().version(), e.attributes().version()) ? e.attributes().version()
                                                                      : e.content().version();
}

class StoreConsistencyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    replica_ = std::make_unique<ReplicaProcess>(dir_.Sub("backing"), dir_.Sub("mnt"));
    const absl::Status s = replica_->Start();
    ASSERT_TRUE(s.ok()) << s;
  }

  std::string M(const std::string& rel) const { return replica_->MountPath(rel); }

  // open + write + (fsync) + close through the mount. fsync makes the commit
  // synchronous, so the next operation's commit is certainly later.
  void Write(const std::string& rel, const std::string& data, int flags = O_TRUNC,
             off_t offset = -1, bool fsync = true) {
    const uint64_t head_before = fsync ? 0 : HeadSeq();
    UniqueFd fd(::open(M(rel).c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | flags, 0644));
    ASSERT_TRUE(fd.valid()) << rel << ": " << std::strerror(errno);
    const ssize_t n = offset >= 0 ? ::pwrite(fd.get(), data.data(), data.size(), offset)
                                  : ::write(fd.get(), data.data(), data.size());
    ASSERT_EQ(n, static_cast<ssize_t>(data.size())) << rel << ": " << std::strerror(errno);
    if (fsync) {
      ASSERT_EQ(::fsync(fd.get()), 0) << rel;
    }
    ASSERT_EQ(::close(fd.Release()), 0) << rel;
    if (!fsync) WaitForCommitAfter(head_before, rel);
  }

  // After many operations whose last commits come at FUSE release: until
  // nothing is queued and the change log has not moved for 100 ms.
  void WaitUntilQuiet() const {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    uint64_t head = HeadSeq();
    auto unchanged_since = std::chrono::steady_clock::now();
    while (std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      absl::StatusOr<ReplicaStatus> status = testing::AdminStatus(*replica_);
      ASSERT_TRUE(status.ok()) << status.status();
      if (status->head_seq() != head || status->pending_commits() != 0) {
        head = status->head_seq();
        unchanged_since = std::chrono::steady_clock::now();
      } else if (std::chrono::steady_clock::now() - unchanged_since >
                 std::chrono::milliseconds(100)) {
        return;
      }
    }
    ADD_FAILURE() << "the replica kept committing for 20 s";
  }

  // The head of the replica's change log.
  uint64_t HeadSeq() const {
    absl::StatusOr<ReplicaStatus> status = testing::AdminStatus(*replica_);
    EXPECT_TRUE(status.ok()) << status.status();
    return status.ok() ? status->head_seq() : 0;
  }

  // The commit of a plain close happens at FUSE release, which the kernel
  // sends after close() returned: the next step waits until it is in the
  // change log, or it could commit first.
  void WaitForCommitAfter(uint64_t head_before, const std::string& rel) const {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (!CommittedAfter(head_before)) {
      if (std::chrono::steady_clock::now() > deadline) {
        ADD_FAILURE() << rel << ": the commit at its close never came";
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }

  // Whether the log moved past `head_before` and nothing is left to commit.
  // The head alone is not enough: it may move for the commit of an earlier
  // operation that had not landed when `head_before` was read, while the
  // RELEASE (sent after close() returned) is still to come.
  bool CommittedAfter(uint64_t head_before) const {
    absl::StatusOr<ReplicaStatus> status = testing::AdminStatus(*replica_);
    EXPECT_TRUE(status.ok()) << status.status();
    return status.ok() && status->head_seq() > head_before && status->pending_commits() == 0;
  }

  void Ok(int r, const std::string& what) { ASSERT_EQ(r, 0) << what << ": " << std::strerror(errno); }

  // Stops the replica and opens its store.
  std::unique_ptr<MetadataStore> StopAndOpenStore() { return testing::StopAndOpenStore(*replica_); }

  // Stops the replica and checks that its store describes the backing tree
  // exactly; returns the store's entries (none, with a failure recorded, if
  // the store cannot be opened).
  std::map<std::string, Entry> StopAndExpectExactStore() {
    std::unique_ptr<MetadataStore> store = StopAndOpenStore();
    if (store == nullptr) return {};
    std::map<std::string, Entry> entries = testing::ReadAllEntries(*store);
    testing::ExpectStoreDescribesTree(entries, testing::ReadBackingTree(replica_->backing()));
    return entries;
  }

  // Everything the store must satisfy after the script ran.
  void CheckStore(const std::vector<std::string>& deleted,
                  const std::vector<std::string>& changed_in_order) {
    std::unique_ptr<MetadataStore> store = StopAndOpenStore();
    ASSERT_NE(store, nullptr);
    const std::map<std::string, Entry> entries = testing::ReadAllEntries(*store);
    const std::map<std::string, BackingObject> tree = testing::ReadBackingTree(replica_->backing());
    ASSERT_FALSE(tree.empty());
    testing::ExpectStoreDescribesTree(entries, tree);

    for (const std::string& path : deleted) {
      auto it = entries.find(path);
      ASSERT_NE(it, entries.end()) << "no tombstone for deleted " << path;
      EXPECT_EQ(it->second.content().kind(), KIND_TOMBSTONE) << path;
    }

    // The change log: every path exactly once, seqs increasing, and the
    // log's entries are the E/ entries.
    std::map<std::string, int> times_in_log;
    std::vector<Entry> log;
    ASSERT_TRUE(store
                    ->ScanChanges(0,
                                  [&](const Entry& e) {
                                    ++times_in_log[e.path()];
                                    log.push_back(e);
                                    return true;
                                  })
                    .ok());
    EXPECT_EQ(times_in_log.size(), entries.size());
    for (const auto& [path, entry] : entries) {
      EXPECT_EQ(times_in_log[path], 1) << path << " appears in the change log that many times";
    }
    for (size_t i = 1; i < log.size(); ++i) {
      EXPECT_LT(log[i - 1].seq(), log[i].seq());
      // Commits happen one after another in this script, so the version of
      // each entry's last change never decreases along the log.
      EXPECT_LE(CompareVersions(LatestVersion(log[i - 1]), LatestVersion(log[i])), 0)
          << log[i - 1].path() << " (seq " << log[i - 1].seq() << ") vs " << log[i].path()
          << " (seq " << log[i].seq() << ")";
    }
    ASSERT_FALSE(log.empty());
    EXPECT_EQ(log.back().seq(), store->LastSeq());
    // Paths changed later by the script carry strictly greater versions.
    for (size_t i = 1; i < changed_in_order.size(); ++i) {
      const Entry& earlier = entries.at(changed_in_order[i - 1]);
      const Entry& later = entries.at(changed_in_order[i]);
      EXPECT_LT(CompareVersions(LatestVersion(earlier), LatestVersion(later)), 0)
          << changed_in_order[i - 1] << " then " << changed_in_order[i];
      EXPECT_LT(earlier.seq(), later.seq());
    }
    EXPECT_EQ(store->MaxHlc(), LatestVersion(*std::max_element(
                                   log.begin(), log.end(), [](const Entry& a, const Entry& b) {
                                     return VersionLess(LatestVersion(a), LatestVersion(b));
                                   })).hlc());

    // A restart over an unchanged backing dir commits nothing.
    const uint64_t last_seq = store->LastSeq();
    store.reset();
    ASSERT_TRUE(replica_->Start().ok());
    store = StopAndOpenStore();
    ASSERT_NE(store, nullptr);
    EXPECT_EQ(store->LastSeq(), last_seq) << "start-up scan committed changes that did not happen";
    const std::map<std::string, Entry> after = testing::ReadAllEntries(*store);
    ASSERT_EQ(after.size(), entries.size());
    for (const auto& [path, entry] : entries) {
      EXPECT_EQ(after.at(path).content().SerializeAsString(), entry.content().SerializeAsString())
          << path;
      EXPECT_EQ(after.at(path).attributes().SerializeAsString(),
                entry.attributes().SerializeAsString())
          << path;
    }
  }

  TempDir dir_{"replfs-consistency"};
  std::unique_ptr<ReplicaProcess> replica_;
};

TEST_F(StoreConsistencyTest, FilesXattrsAndModes) {
  Write("a.txt", "hello");
  Write("a.txt", " world", O_APPEND);
  Write("big.bin", RandomBytes(1, 2 * (1u << 20) + (1u << 19)));
  Write("big.bin", "patched in the middle", 0, (1 << 20) + 12345);
  Ok(::truncate(M("big.bin").c_str(), (1 << 20) + 700000), "truncate big.bin");
  Write("grow.bin", RandomBytes(2, 100));
  Ok(::truncate(M("grow.bin").c_str(), 3 * (1 << 20) + 5), "extend grow.bin");
  Write("grow.bin", "tail", O_APPEND, -1, /*fsync=*/false);
  Write("inline-to-blocks", "small");
  Write("inline-to-blocks", RandomBytes(3, 9000), O_APPEND);
  Write("blocks-to-inline", RandomBytes(4, 20000));
  Write("blocks-to-inline", "tiny now");  // O_TRUNC rewrite.
  Write("empty", "");
  Ok(::chmod(M("a.txt").c_str(), 0600), "chmod");
  Ok(::chown(M("grow.bin").c_str(), 1234, 5678), "chown");
  Ok(::setxattr(M("a.txt").c_str(), "user.tag", "v1", 2, 0), "setxattr");
  Ok(::setxattr(M("a.txt").c_str(), "user.tag", "version-2", 9, 0), "setxattr again");
  Ok(::setxattr(M("a.txt").c_str(), "user.other", "x", 1, 0), "setxattr other");
  Ok(::removexattr(M("a.txt").c_str(), "user.other"), "removexattr");
  Ok(::mkdir(M("tagged-dir").c_str(), 0750), "mkdir");
  Ok(::setxattr(M("tagged-dir").c_str(), "user.dir", "yes", 3, 0), "setxattr on dir");
  Ok(::symlink("a.txt", M("lnk").c_str()), "symlink");
  Ok(::symlink("nowhere/at/all", M("dangling").c_str()), "dangling symlink");
  Ok(::mkfifo(M("pipe").c_str(), 0640), "mkfifo");
  Write("late.txt", "written last", O_TRUNC, -1, /*fsync=*/false);
  CheckStore({}, {"big.bin", "grow.bin", "a.txt", "tagged-dir", "lnk", "dangling", "pipe",
                  "late.txt"});
  // The script did what it says (checked on the backing dir directly).
  const auto tree = testing::ReadBackingTree(replica_->backing());
  EXPECT_EQ(tree.at("a.txt").bytes, "hello world");
  EXPECT_EQ(tree.at("a.txt").st.st_mode & 07777, 0600u);
  EXPECT_EQ(tree.at("a.txt").user_xattrs,
            (std::map<std::string, std::string>{{"user.tag", "version-2"}}));
  EXPECT_EQ(tree.at("grow.bin").st.st_uid, 1234u);
  EXPECT_EQ(tree.at("grow.bin").bytes.size(), 3u * (1 << 20) + 5 + 4);
  EXPECT_EQ(tree.at("big.bin").bytes.size(), (1u << 20) + 700000);
  EXPECT_EQ(tree.at("lnk").kind, KIND_SYMLINK);
  EXPECT_EQ(tree.at("pipe").kind, KIND_FIFO);
  EXPECT_EQ(tree.at("inline-to-blocks").bytes.size(), 9005u);
  EXPECT_EQ(tree.at("blocks-to-inline").bytes, "tiny now");
}

// A file shrunk and grown again while open: the bytes between the two sizes
// are zeros now, in blocks that were never written through write().
TEST_F(StoreConsistencyTest, ShrinkThenRegrowWhileOpen) {
  const std::string original = RandomBytes(6, size_t{3} << 20);
  Write("file", original);
  const uint64_t head_before = HeadSeq();
  {
    UniqueFd fd(::open(M("file").c_str(), O_RDWR | O_CLOEXEC));
    ASSERT_TRUE(fd.valid());
    Ok(::ftruncate(fd.get(), (1 << 20) / 2), "shrink");
    Ok(::ftruncate(fd.get(), off_t{3} << 20), "regrow");
    Ok(::close(fd.Release()), "close");
  }
  WaitForCommitAfter(head_before, "file");
  CheckStore({}, {});
  std::string expected = original.substr(0, (1 << 20) / 2);
  expected.resize(size_t{3} << 20, '\0');
  EXPECT_EQ(testing::ReadWholeFile(replica_->BackingPath("file")), expected);
}

TEST_F(StoreConsistencyTest, NamespaceOperations) {
  Ok(::mkdir(M("dir").c_str(), 0755), "mkdir dir");
  Ok(::mkdir(M("dir/sub").c_str(), 0755), "mkdir dir/sub");
  Write("dir/sub/f1", "f1");
  Write("dir/f2", RandomBytes(5, 5000));
  Write("a.txt", "content of a");
  Ok(::rename(M("a.txt").c_str(), M("dir/a-moved.txt").c_str()), "rename file");
  Ok(::rename(M("dir").c_str(), M("dir2").c_str()), "rename dir");
  Write("victim", "to be replaced");
  Write("replacer", "the replacement");
  Ok(::rename(M("replacer").c_str(), M("victim").c_str()), "rename over existing");
  Ok(::mkdir(M("gone").c_str(), 0755), "mkdir gone");
  Ok(::mkdir(M("gone/inner").c_str(), 0755), "mkdir gone/inner");
  Write("gone/inner/x", "x");
  Ok(::unlink(M("gone/inner/x").c_str()), "unlink");
  Ok(::rmdir(M("gone/inner").c_str()), "rmdir inner");
  Ok(::rmdir(M("gone").c_str()), "rmdir gone");
  Write("h1", "linked");
  Ok(::link(M("h1").c_str(), M("h2").c_str()), "link");
  Write("h2", "+more", O_APPEND);
  Write("x-left", "left");
  Write("x-right", "right side");
  Ok(::renameat2(AT_FDCWD, M("x-left").c_str(), AT_FDCWD, M("x-right").c_str(), RENAME_EXCHANGE),
     "exchange");
  Ok(::symlink("dir2/sub/f1", M("to-f1").c_str()), "symlink");
  Ok(::unlink(M("to-f1").c_str()), "unlink symlink");
  Write("recreated", "first life");
  Ok(::unlink(M("recreated").c_str()), "unlink recreated");
  Write("recreated", "second life");
  CheckStore({"a.txt", "dir", "dir/sub", "dir/sub/f1", "dir/f2", "dir/a-moved.txt", "replacer",
              "gone", "gone/inner", "gone/inner/x", "to-f1"},
             {"dir2/a-moved.txt", "victim", "gone", "h1", "x-left", "to-f1", "recreated"});
  const auto tree = testing::ReadBackingTree(replica_->backing());
  EXPECT_EQ(tree.at("victim").bytes, "the replacement");
  EXPECT_EQ(tree.at("h1").bytes, "linked+more");
  EXPECT_EQ(tree.at("h2").bytes, "linked+more");
  EXPECT_EQ(tree.at("x-left").bytes, "right side");
  EXPECT_EQ(tree.at("x-right").bytes, "left");
  EXPECT_EQ(tree.at("dir2/sub/f1").bytes, "f1");
  EXPECT_EQ(tree.at("dir2/a-moved.txt").bytes, "content of a");
  EXPECT_EQ(tree.at("recreated").bytes, "second life");
  EXPECT_FALSE(tree.contains("gone"));
}


// close() returns before the kernel sends RELEASE, and the commit of a
// plain close happens at RELEASE: an unlink or rename issued right after
// close() races that commit. The commit must never record a name that the
// unlink or rename already took away (it would resurrect a deleted file in
// the store, and replicate it to every peer).
TEST_F(StoreConsistencyTest, CommitAtReleaseRacingUnlinkAndRename) {
  Ok(::mkdir(M("moved").c_str(), 0755), "mkdir moved");
  // A new file's commit hashes all of it: 1 MiB keeps the commit busy for
  // milliseconds, so the unlink or rename right after close() lands inside
  // it on most rounds, also on an idle machine.
  constexpr int kRounds = 100;
  constexpr size_t kBytes = 1 << 20;
  for (int i = 0; i < kRounds; ++i) {
    const std::string name = absl::StrCat("f", i);
    for (const std::string& rel : {name, absl::StrCat("dir", i, "/x")}) {
      if (rel != name) Ok(::mkdir(M(absl::StrCat("dir", i)).c_str(), 0755), "mkdir");
      UniqueFd fd(::open(M(rel).c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
      ASSERT_TRUE(fd.valid()) << rel << ": " << std::strerror(errno);
      const std::string data = RandomBytes(static_cast<uint64_t>(i), kBytes);
      ASSERT_EQ(::write(fd.get(), data.data(), data.size()), static_cast<ssize_t>(data.size()));
      Ok(::close(fd.Release()), rel);
    }
    switch (i % 3) {
      case 0:
        Ok(::unlink(M(name).c_str()), "unlink");
        break;
      case 1:
        Ok(::rename(M(name).c_str(), M(absl::StrCat("moved/", name)).c_str()), "rename");
        break;
      default:
        Ok(::rename(M(name).c_str(), M(absl::StrCat(name, ".renamed")).c_str()), "rename");
        break;
    }
    // The directory a file was just written in moves away: the file's own
    // path changes without an operation on the file.
    Ok(::rename(M(absl::StrCat("dir", i)).c_str(), M(absl::StrCat("moved/dir", i)).c_str()),
       "rename dir");
  }
  WaitUntilQuiet();
  const std::map<std::string, Entry> entries = StopAndExpectExactStore();
  for (int i = 0; i < kRounds; ++i) {
    const std::string name = absl::StrCat("f", i);
    auto it = entries.find(name);
    if (it != entries.end()) {
      EXPECT_EQ(it->second.content().kind(), KIND_TOMBSTONE) << name << " came back in the store";
    }
    const std::string moved_file = absl::StrCat("moved/dir", i, "/x");
    ASSERT_TRUE(entries.contains(moved_file)) << moved_file;
    EXPECT_EQ(entries.at(moved_file).content().size(), kBytes)
        << moved_file << " was recorded without its content";
  }
}


// Three threads change one small namespace at once through the mount, with
// no pause between operations: writes, appends, truncates, chmods, renames
// of files and directories, unlinks, mkdir/rmdir, links and symlinks, in a
// random order (errors such as ENOENT or ENOTEMPTY are part of the game).
// Whatever interleaving the kernel and the daemon's threads produce, once
// the mount is idle the store must describe the backing tree exactly: a
// commit racing an operation on the same names must never leave a stale
// entry, a resurrected name or content that is not on disk.
TEST_F(StoreConsistencyTest, ConcurrentRandomOperationsLeaveAnExactStore) {
  const uint64_t seed = std::random_device()();
  SCOPED_TRACE(absl::StrCat("seed ", seed));
  const std::vector<std::string> files = {"a", "b", "c", "d0/a", "d0/b", "d1/a", "d1/d2/a", "d1/d2/b"};
  const std::vector<std::string> dirs = {"d0", "d1", "d1/d2", "d3"};
  for (const char* d : {"d0", "d1", "d1/d2"}) Ok(::mkdir(M(d).c_str(), 0755), d);
  constexpr int kThreads = 3;
  constexpr int kOpsPerThread = 400;
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(seed + static_cast<uint64_t>(t));
      auto pick = [&](const std::vector<std::string>& from) {
        return from[std::uniform_int_distribution<size_t>(0, from.size() - 1)(rng)];
      };
      for (int i = 0; i < kOpsPerThread; ++i) {
        const std::string f = pick(files);
        const std::string g = pick(files);
        switch (std::uniform_int_distribution<int>(0, 11)(rng)) {
          case 0:
          case 1:
          case 2: {  // Rewrite: sizes from inline to several blocks.
            UniqueFd fd(::open(M(f).c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
            if (!fd.valid()) break;
            const size_t size = std::uniform_int_distribution<size_t>(0, 3)(rng) == 0
                                    ? std::uniform_int_distribution<size_t>(1 << 20, 3 << 20)(rng)
                                    : std::uniform_int_distribution<size_t>(0, 9000)(rng);
            const std::string data = RandomBytes(rng(), size);
            (void)!::write(fd.get(), data.data(), data.size());
            break;
          }
          case 3: {
            UniqueFd fd(::open(M(f).c_str(), O_WRONLY | O_APPEND | O_CLOEXEC));
            if (fd.valid()) (void)!::write(fd.get(), "appended\n", 9);
            break;
          }
          case 4:
            (void)::truncate(M(f).c_str(),
                             std::uniform_int_distribution<off_t>(0, 2 << 20)(rng));
            break;
          case 5:
            (void)::chmod(M(f).c_str(), std::uniform_int_distribution<int>(0, 1)(rng) != 0 ? 0600 : 0644);
            break;
          case 6:
            (void)::rename(M(f).c_str(), M(g).c_str());
            break;
          case 7:
            (void)::unlink(M(f).c_str());
            break;
          case 8: {
            const std::string d = pick(dirs);
            if (std::uniform_int_distribution<int>(0, 1)(rng) != 0) {
              (void)::mkdir(M(d).c_str(), 0755);
            } else {
              (void)::rmdir(M(d).c_str());
            }
            break;
          }
          case 9:
            (void)::rename(M(pick(dirs)).c_str(), M(pick(dirs)).c_str());
            break;
          case 10:
            (void)::link(M(f).c_str(), M(g).c_str());
            break;
          default:
            (void)::symlink("target", M(f).c_str());
            break;
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  WaitUntilQuiet();
  StopAndExpectExactStore();
}

}  // namespace
}  // namespace replfs
