#include "storage/startup_scan.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/unique_fd.h"
#include "gtest/gtest.h"
#include "storage/content_hasher.h"
#include "storage/file_blocks.h"
#include "storage/ignore_set.h"
#include "storage/version.h"
#include "tests/support/store_and_recorder.h"

namespace replfs {
namespace {

namespace fs = std::filesystem;
constexpr uint64_t kNode = 0x5ca9;

class StartupScanTest : public testing::StoreAndRecorderTest {
 protected:
  StartupScanTest() : StoreAndRecorderTest("scan-test", kNode) {}

  bool IsLive(const std::string& rel) {
    std::optional<Entry> e = Find(rel);
    return e.has_value() && e->content().kind() != KIND_TOMBSTONE;
  }
  bool IsTombstone(const std::string& rel) {
    std::optional<Entry> e = Find(rel);
    return e.has_value() && e->content().kind() == KIND_TOMBSTONE;
  }

  void MakeTree() {
    fs::create_directories(B("docs/deep/er"));
    WriteFile("top.txt", "top");
    WriteFile("docs/a.txt", "aaa");
    WriteFile("docs/deep/er/b.bin", std::string(6000, 'b'));  // Past the inline limit.
    ASSERT_EQ(::symlink("docs/a.txt", B("link").c_str()), 0);
    ASSERT_EQ(::mkfifo(B("docs/pipe").c_str(), 0600), 0);
  }

};

TEST_F(StartupScanTest, CommitsNewObjects) {
  MakeTree();
  const ScanReport report = Scan();
  const char* paths[] = {"top.txt", "docs", "docs/a.txt", "docs/deep", "docs/deep/er",
                         "docs/deep/er/b.bin", "link", "docs/pipe"};
  for (const char* p : paths) EXPECT_TRUE(IsLive(p)) << p;
  EXPECT_EQ(report.committed, std::size(paths));
  EXPECT_EQ(store_->LastSeq(), std::size(paths));
  EXPECT_EQ(report.deleted, 0u);
  EXPECT_EQ(FileBlockHashes(Find("docs/a.txt")->content()), std::vector<std::string>{Sha256("aaa")});
  EXPECT_EQ(Find("docs/deep/er/b.bin")->content().size(), 6000u);
  EXPECT_EQ(Find("docs/deep/er/b.bin")->content().block_hashes(0), Sha256(std::string(6000, 'b')));
  EXPECT_EQ(Find("link")->content().symlink_target(), "docs/a.txt");
  EXPECT_EQ(Find("docs/pipe")->content().kind(), KIND_FIFO);
  EXPECT_EQ(Find("docs")->content().kind(), KIND_DIR);
}

TEST_F(StartupScanTest, RescanOfUnchangedTreeIsIdempotent) {
  MakeTree();
  Scan();
  const uint64_t last = store_->LastSeq();
  const uint64_t max_hlc = store_->MaxHlc();
  for (int i = 0; i < 3; ++i) {
    const ScanReport again = Scan();
    EXPECT_EQ(again.committed, 0u);
    EXPECT_EQ(again.deleted, 0u);
    EXPECT_EQ(again.rehashed, 0u) << "unchanged local stat must not be re-read";
    EXPECT_EQ(store_->LastSeq(), last);
    EXPECT_EQ(store_->MaxHlc(), max_hlc);
  }
}

TEST_F(StartupScanTest, PicksUpEditMadeInBackingDirectory) {
  MakeTree();
  Scan();
  const Entry before = *Find("docs/a.txt");
  const Entry other = *Find("top.txt");
  const uint64_t last = store_->LastSeq();
  WriteFile("docs/a.txt", "edited behind replfs's back");
  const ScanReport report = Scan();
  EXPECT_EQ(report.committed, 1u);
  EXPECT_EQ(store_->LastSeq(), last + 1);
  const Entry after = *Find("docs/a.txt");
  EXPECT_EQ(FileBlockHashes(after.content()),
            std::vector<std::string>{Sha256("edited behind replfs's back")});
  EXPECT_GT(CompareVersions(after.content().version(), before.content().version()), 0);
  EXPECT_TRUE(VectorDominates(after.content().vector(), before.content().vector()));
  EXPECT_EQ(Find("top.txt")->SerializeAsString(), other.SerializeAsString());

  // A chmod behind our back is an attribute change only.
  ASSERT_EQ(::chmod(B("top.txt").c_str(), 0600), 0);
  Scan();
  const Entry chmodded = *Find("top.txt");
  EXPECT_EQ(chmodded.attributes().mode(), 0600u);
  EXPECT_GT(CompareVersions(chmodded.attributes().version(), other.attributes().version()), 0);
  EXPECT_EQ(CompareVersions(chmodded.content().version(), other.content().version()), 0);
}

TEST_F(StartupScanTest, TombstonesVanishedObjects) {
  MakeTree();
  Scan();
  const uint64_t last = store_->LastSeq();
  fs::remove(B("top.txt"));
  fs::remove_all(B("docs/deep"));
  const ScanReport report = Scan();
  EXPECT_TRUE(IsTombstone("top.txt"));
  EXPECT_TRUE(IsTombstone("docs/deep"));
  EXPECT_TRUE(IsTombstone("docs/deep/er"));
  EXPECT_TRUE(IsTombstone("docs/deep/er/b.bin"));
  EXPECT_TRUE(IsLive("docs/a.txt"));
  EXPECT_EQ(store_->LastSeq(), last + 4);
  EXPECT_GE(report.deleted, 2u);
  // Tombstones stay tombstones on a rescan.
  Scan();
  EXPECT_EQ(store_->LastSeq(), last + 4);
}

TEST_F(StartupScanTest, DirectoryReplacedByFileTombstonesOldChildren) {
  MakeTree();
  Scan();
  fs::remove_all(B("docs"));
  WriteFile("docs", "now a file");
  Scan();
  EXPECT_EQ(Find("docs")->content().kind(), KIND_FILE);
  for (const char* p : {"docs/a.txt", "docs/pipe", "docs/deep", "docs/deep/er/b.bin"}) {
    EXPECT_TRUE(IsTombstone(p)) << p << " still live under what is now a file";
  }
}

TEST_F(StartupScanTest, DirectoryReplacedBySymlinkTombstonesOldChildren) {
  MakeTree();
  Scan();
  // docs becomes a symlink to a directory that has an a.txt too: the old
  // docs/a.txt is still gone (paths never resolve through symlinks).
  fs::rename(B("docs"), B("elsewhere"));
  ASSERT_EQ(::symlink("elsewhere", B("docs").c_str()), 0);
  Scan();
  EXPECT_EQ(Find("docs")->content().kind(), KIND_SYMLINK);
  EXPECT_TRUE(IsTombstone("docs/a.txt"));
  EXPECT_TRUE(IsLive("elsewhere/a.txt"));
}

TEST_F(StartupScanTest, IgnoresHiddenStateFolderOnlyAtRoot) {
  MakeTree();
  WriteFile(".replfs/node_id", "abc");
  fs::create_directories(B("docs/.replfs"));
  WriteFile("docs/.replfs/kept", "a nested folder of that name is ordinary");
  Scan();
  int hidden = 0;
  ASSERT_TRUE(store_
                  ->ScanEntries(".replfs",
                                [&](const Entry&) {
                                  ++hidden;
                                  return true;
                                })
                  .ok());
  EXPECT_EQ(hidden, 0);
  EXPECT_TRUE(IsLive("docs/.replfs/kept"));
}

TEST_F(StartupScanTest, SkipsSockets) {
  MakeTree();
  UniqueFd sock(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  ASSERT_TRUE(sock.valid());
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string path = B("docs/sock");
  ASSERT_LT(path.size(), sizeof(addr.sun_path));
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  ASSERT_EQ(::bind(sock.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  const ScanReport report = Scan();
  EXPECT_EQ(report.skipped, 1u);
  EXPECT_FALSE(Find("docs/sock").has_value());
  EXPECT_TRUE(IsLive("docs/a.txt"));
  // A recorded file replaced by a socket is gone as far as replication goes.
  fs::remove(B("top.txt"));
  const std::string top = B("top.txt");
  std::memcpy(addr.sun_path, top.c_str(), top.size() + 1);
  UniqueFd sock2(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  ASSERT_EQ(::bind(sock2.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  Scan();
  EXPECT_TRUE(IsTombstone("top.txt"));
}

// Paths the replica ignores are neither recorded nor looked into, and a
// recorded path that becomes ignored keeps its entry even when it goes.
TEST_F(StartupScanTest, LeavesIgnoredPathsAlone) {
  MakeTree();
  WriteFile("draft.tmp", "local");
  Scan();
  ASSERT_TRUE(IsLive("draft.tmp"));
  ASSERT_TRUE(IsLive("docs/deep/er/b.bin"));
  absl::StatusOr<IgnorePatterns> patterns =
      IgnorePatterns::Parse({"*.tmp", "deep/", "cache/"});
  ASSERT_TRUE(patterns.ok()) << patterns.status();
  const IgnoreSet ignore(*std::move(patterns));
  recorder_->set_ignore_patterns(&ignore);
  fs::create_directories(B("cache/sub"));
  WriteFile("cache/sub/x", "never recorded");
  WriteFile("new.tmp", "never recorded");
  fs::remove(B("draft.tmp"));
  fs::remove_all(B("docs/deep"));
  const uint64_t last = store_->LastSeq();
  const ScanReport report = Scan();
  EXPECT_EQ(report.ignored, 2u);  // cache/ and new.tmp; their contents not visited.
  EXPECT_EQ(report.deleted, 0u);
  EXPECT_EQ(store_->LastSeq(), last);
  EXPECT_FALSE(Find("cache").has_value());
  EXPECT_FALSE(Find("cache/sub/x").has_value());
  EXPECT_FALSE(Find("new.tmp").has_value());
  EXPECT_TRUE(IsLive("draft.tmp"));
  EXPECT_TRUE(IsLive("docs/deep"));
  EXPECT_TRUE(IsLive("docs/deep/er/b.bin"));
  // Un-ignored again: what is there now is recorded, what is gone deleted.
  recorder_->set_ignore_patterns(nullptr);
  const ScanReport unignored = Scan();
  EXPECT_TRUE(IsLive("cache/sub/x"));
  EXPECT_TRUE(IsLive("new.tmp"));
  EXPECT_TRUE(IsTombstone("draft.tmp"));
  EXPECT_TRUE(IsTombstone("docs/deep/er/b.bin"));
  EXPECT_EQ(unignored.ignored, 0u);
}

// A directory a peer deleted that stays here only for the ignored objects
// inside it (RemoteApplier keeps them) is not recorded again by the scan;
// one that holds anything else, or nothing, is.
TEST_F(StartupScanTest, DeletedDirectoryKeptForIgnoredContentIsNotRecordedAgain) {
  fs::create_directories(B("kept/sub"));
  fs::create_directories(B("mixed"));
  fs::create_directories(B("emptied"));
  WriteFile("kept/page.html", "p");
  WriteFile("kept/sub/more.html", "m");
  WriteFile("mixed/page.html", "p");
  Scan();
  absl::StatusOr<IgnorePatterns> patterns = IgnorePatterns::Parse({"*.tmp", "cache/"});
  ASSERT_TRUE(patterns.ok()) << patterns.status();
  const IgnoreSet ignore(*std::move(patterns));
  recorder_->set_ignore_patterns(&ignore);
  // As the applier leaves them after a peer deleted the three trees: the
  // replicated files gone, the ignored ones and their directories kept.
  for (const char* path :
       {"kept/sub/more.html", "kept/sub", "kept/page.html", "kept", "mixed/page.html", "mixed",
        "emptied"}) {
    ASSERT_TRUE(recorder_->RecordDelete(path).ok()) << path;
  }
  fs::remove(B("kept/page.html"));
  fs::remove(B("kept/sub/more.html"));
  fs::remove(B("mixed/page.html"));
  WriteFile("kept/draft.tmp", "local");
  fs::create_directories(B("kept/sub/cache"));
  WriteFile("kept/sub/cache/x", "local");
  WriteFile("mixed/draft.tmp", "local");
  WriteFile("mixed/new.html", "made here meanwhile");
  ASSERT_TRUE(IsTombstone("kept") && IsTombstone("mixed") && IsTombstone("emptied"));

  const ScanReport report = Scan();
  EXPECT_EQ(report.kept_for_ignored, 1u);
  EXPECT_TRUE(IsTombstone("kept"));
  EXPECT_TRUE(IsTombstone("kept/sub"));
  EXPECT_FALSE(IsLive("kept/sub/cache"));
  EXPECT_TRUE(IsLive("mixed"));
  EXPECT_TRUE(IsLive("mixed/new.html"));
  EXPECT_FALSE(IsLive("mixed/draft.tmp"));
  EXPECT_TRUE(IsLive("emptied"));  // Made again here: nothing says otherwise.

  // Without patterns the same tree is all recorded.
  recorder_->set_ignore_patterns(nullptr);
  const ScanReport unignored = Scan();
  EXPECT_EQ(unignored.kept_for_ignored, 0u);
  EXPECT_TRUE(IsLive("kept"));
  EXPECT_TRUE(IsLive("kept/draft.tmp"));
  EXPECT_TRUE(IsLive("kept/sub/cache/x"));
}

// What a rename takes out of the ignored set is recorded by ScanSubtree;
// what the store already holds as it is costs no new version.
TEST_F(StartupScanTest, ScanSubtreeRecordsWhatTheStoreLacks) {
  MakeTree();
  Scan();
  fs::create_directories(B("docs/out/inner"));
  WriteFile("docs/out/inner/f", "f");
  WriteFile("docs/out/g", "g");
  const uint64_t last = store_->LastSeq();
  absl::StatusOr<ScanReport> report = ScanSubtree(root_.get(), "docs/out", store_.get(),
                                                  recorder_.get());
  ASSERT_TRUE(report.ok()) << report.status();
  for (const char* p : {"docs/out", "docs/out/inner", "docs/out/inner/f", "docs/out/g"}) {
    EXPECT_TRUE(IsLive(p)) << p;
  }
  EXPECT_EQ(store_->LastSeq(), last + 4);
  EXPECT_FALSE(IsTombstone("docs/a.txt"));
  absl::StatusOr<ScanReport> again = ScanSubtree(root_.get(), "docs", store_.get(),
                                                 recorder_.get());
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->committed, 0u);
  EXPECT_EQ(store_->LastSeq(), last + 4);
  absl::StatusOr<ScanReport> gone = ScanSubtree(root_.get(), "no/such/path", store_.get(),
                                                recorder_.get());
  ASSERT_TRUE(gone.ok()) << gone.status();
  EXPECT_EQ(gone->objects_seen, 0u);
}

}  // namespace
}  // namespace replfs
