#include "storage/version_keeper.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "base/unique_fd.h"
#include "gtest/gtest.h"
#include "storage/version_records.h"
#include "tests/support/kept_versions.h"
#include "tests/support/raw_store.h"

namespace replfs {
namespace {

constexpr int64_t kDayMs = int64_t{24} * 3600 * 1000;

class VersionKeeperTest : public testing::RawStoreTest {
 protected:
  void SetUp() override {
    RawStoreTest::SetUp();
    ASSERT_EQ(::mkdir(TreePath().c_str(), 0755), 0);
    tree_ = UniqueFd(::open(TreePath().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    ASSERT_TRUE(tree_.valid());
    OpenKeeper(VersionPolicy());
  }
  void OpenKeeper(const VersionPolicy& policy) {
    keeper_.reset();
    absl::StatusOr<std::unique_ptr<VersionKeeper>> opened =
        VersionKeeper::Open(store_.get(), dir_.Path("versions"), policy);
    ASSERT_TRUE(opened.ok()) << opened.status();
    keeper_ = *std::move(opened);
  }
  std::string TreePath() const { return dir_.Path("tree"); }
  void Write(const std::string& name, const std::string& content) {
    std::ofstream(TreePath() + "/" + name, std::ios::binary | std::ios::trunc) << content;
  }
  static std::string Read(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream content;
    content << in.rdbuf();
    return content.str();
  }
  std::vector<VersionRecord> Records(const std::string& path) {
    return testing::VersionRecordsOf(*store_, path);
  }
  // The stat a caller holds of `name` in the tree.
  struct stat StatOf(const std::string& name) {
    struct stat st {};
    EXPECT_EQ(::fstatat(tree_.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW), 0) << name;
    return st;
  }
  // Keeps `name` (deleted) and records it.
  KeptFile DeleteKeeping(const std::string& name) {
    return testing::KeepAsDeleted(*keeper_, tree_.get(), name);
  }

  UniqueFd tree_;
  std::unique_ptr<VersionKeeper> keeper_;
};

TEST_F(VersionKeeperTest, ADeletedFileIsMovedAsideNotCopiedAndRecorded) {
  Write("page.html", "old page");
  struct stat before;
  ASSERT_EQ(::fstatat(tree_.get(), "page.html", &before, 0), 0);
  const KeptFile kept = DeleteKeeping("page.html");
  ASSERT_TRUE(kept.kept()) << kept.not_kept_reason;
  EXPECT_NE(::faccessat(tree_.get(), "page.html", F_OK, 0), 0) << "the name must be gone";
  struct stat after;
  ASSERT_EQ(::stat(keeper_->KeptPath(kept.id).c_str(), &after), 0);
  EXPECT_EQ(after.st_ino, before.st_ino) << "the same inode, moved";
  EXPECT_EQ(Read(keeper_->KeptPath(kept.id)), "old page");
  const std::vector<VersionRecord> records = Records("page.html");
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].kept_name(), kept.id);
  EXPECT_EQ(records[0].reason(), KEPT_DELETED);
  EXPECT_EQ(records[0].changed_by(), 7u);
  EXPECT_EQ(records[0].size(), 8u);
  EXPECT_LE(records[0].began_unix_ms(), records[0].kept_unix_ms());
  EXPECT_EQ(keeper_->totals().kept, 1u);
  EXPECT_EQ(keeper_->totals().bytes, 8u);
}

TEST_F(VersionKeeperTest, AVersionBeganWhenItsEntrysVersionWasMade) {
  Write("f", "x");
  Entry entry;
  entry.set_path("f");
  entry.mutable_content()->set_kind(KIND_FILE);
  const uint64_t made_ms = static_cast<uint64_t>(absl::ToUnixMillis(absl::Now())) - 5000;
  entry.mutable_content()->mutable_version()->set_hlc(made_ms << 16);
  entry.mutable_content()->mutable_version()->set_node(42);
  Transact([&](StoreTransaction& txn) { txn.Put(entry); });
  DeleteKeeping("f");
  const std::vector<VersionRecord> records = Records("f");
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].began_unix_ms(), static_cast<int64_t>(made_ms));
  EXPECT_EQ(records[0].version().node(), 42u);
}

TEST_F(VersionKeeperTest, AFileRenamedOverIsKeptByALink) {
  Write("index.html", "v1");
  Write(".tmp", "v2");
  const KeptFile kept = keeper_->LinkAside(tree_.get(), "index.html", StatOf("index.html"));
  ASSERT_TRUE(kept.kept()) << kept.not_kept_reason;
  ASSERT_EQ(::renameat(tree_.get(), ".tmp", tree_.get(), "index.html"), 0);
  EXPECT_EQ(Read(TreePath() + "/index.html"), "v2");
  EXPECT_EQ(Read(keeper_->KeptPath(kept.id)), "v1");
}

// A symbolic link is kept as the link itself, never its target, whether
// it is deleted (moved aside) or renamed over (linked aside); the record
// says it is a link and counts its target's length.
TEST_F(VersionKeeperTest, ASymbolicLinkIsKeptAsALink) {
  Write("target.html", "the target");
  ASSERT_EQ(::symlinkat("target.html", tree_.get(), "deleted"), 0);
  ASSERT_EQ(::symlinkat("target.html", tree_.get(), "replaced"), 0);
  const KeptFile deleted = DeleteKeeping("deleted");
  const KeptFile replaced = keeper_->LinkAside(tree_.get(), "replaced", StatOf("replaced"));
  for (const KeptFile* kept : {&deleted, &replaced}) {
    ASSERT_TRUE(kept->kept()) << kept->not_kept_reason;
    EXPECT_TRUE(kept->symlink);
    EXPECT_EQ(kept->size, 11u);
    struct stat st;
    ASSERT_EQ(::lstat(keeper_->KeptPath(kept->id).c_str(), &st), 0);
    EXPECT_TRUE(S_ISLNK(st.st_mode));
    char target[64] = {};
    ASSERT_EQ(::readlink(keeper_->KeptPath(kept->id).c_str(), target, sizeof(target) - 1), 11);
    EXPECT_STREQ(target, "target.html");
  }
  EXPECT_NE(::faccessat(tree_.get(), "deleted", F_OK, AT_SYMLINK_NOFOLLOW), 0);
  EXPECT_EQ(Read(TreePath() + "/target.html"), "the target");
  const std::vector<VersionRecord> records = Records("deleted");
  ASSERT_EQ(records.size(), 1u);
  EXPECT_TRUE(records[0].symlink());
  EXPECT_EQ(records[0].size(), 11u);
  // A reopen stats the kept link itself (a relative target dangles there).
  OpenKeeper(VersionPolicy());
  EXPECT_EQ(keeper_->totals().kept, 1u);
}

TEST_F(VersionKeeperTest, ATruncatedFileIsCopiedAsideUpToTheCopyLimit) {
  Write("small", "twelve bytes");
  UniqueFd small(::openat(tree_.get(), "small", O_RDONLY | O_CLOEXEC));
  const KeptFile copied = keeper_->CopyAside(small.get());
  ASSERT_TRUE(copied.kept()) << copied.not_kept_reason;
  EXPECT_EQ(Read(keeper_->KeptPath(copied.id)), "twelve bytes");

  VersionPolicy tight;
  tight.copy_max_bytes = 4;
  OpenKeeper(tight);
  UniqueFd again(::openat(tree_.get(), "small", O_RDONLY | O_CLOEXEC));
  const KeptFile refused = keeper_->CopyAside(again.get());
  // Where the file system cannot clone (tmpfs, ext4), a file over the
  // limit is not copied; the record says so.
  if (!refused.kept()) {
    EXPECT_NE(refused.not_kept_reason.find("copy limit"), std::string::npos)
        << refused.not_kept_reason;
    ASSERT_TRUE(keeper_->Record(refused, "small", KEPT_TRUNCATED, 1).ok());
    EXPECT_EQ(keeper_->totals().not_kept, 1u);
    const std::vector<VersionRecord> records = Records("small");
    ASSERT_EQ(records.size(), 1u);
    EXPECT_TRUE(records[0].kept_name().empty());
    EXPECT_FALSE(records[0].id().empty());
  }
}

TEST_F(VersionKeeperTest, KeepVersionsZeroKeepsNothing) {
  VersionPolicy off;
  off.keep_days = 0;
  OpenKeeper(off);
  Write("f", "content");
  const KeptFile kept = keeper_->MoveAside(tree_.get(), "f", StatOf("f"));
  EXPECT_FALSE(kept.kept());
  EXPECT_EQ(kept.kept_unix_ms, 0);
  EXPECT_EQ(::faccessat(tree_.get(), "f", F_OK, 0), 0) << "the caller unlinks";
  ASSERT_TRUE(keeper_->Record(kept, "f", KEPT_DELETED, 1).ok());
  EXPECT_TRUE(Records("").empty());
  // A reload turns keeping on and off for the next capture.
  keeper_->SetPolicy(VersionPolicy());
  EXPECT_TRUE(keeper_->MoveAside(tree_.get(), "f", StatOf("f")).kept());
  Write("g", "content");
  keeper_->SetPolicy(off);
  EXPECT_FALSE(keeper_->LinkAside(tree_.get(), "g", StatOf("g")).kept());
}

TEST_F(VersionKeeperTest, PruneDropsVersionsPastTheirAge) {
  Write("a", "1");
  const KeptFile kept = DeleteKeeping("a");
  const int64_t now = absl::ToUnixMillis(absl::Now());
  absl::StatusOr<uint64_t> dropped = keeper_->Prune(now + 6 * kDayMs);
  ASSERT_TRUE(dropped.ok()) << dropped.status();
  EXPECT_EQ(*dropped, 0u) << "younger than 7 days";
  dropped = keeper_->Prune(now + 8 * kDayMs);
  ASSERT_TRUE(dropped.ok()) << dropped.status();
  EXPECT_EQ(*dropped, 1u);
  EXPECT_TRUE(Records("").empty());
  EXPECT_NE(::access(keeper_->KeptPath(kept.id).c_str(), F_OK), 0);
  EXPECT_EQ(keeper_->totals().kept, 0u);
  EXPECT_EQ(keeper_->totals().bytes, 0u);
}

TEST_F(VersionKeeperTest, PruneDropsTheOldestPastTheCap) {
  VersionPolicy capped;
  capped.max_bytes = 250;
  OpenKeeper(capped);
  std::vector<KeptFile> kept;
  for (const char* name : {"first", "second", "third"}) {
    Write(name, std::string(100, 'x'));
    kept.push_back(DeleteKeeping(name));
    absl::SleepFor(absl::Milliseconds(2));  // Distinct kept times.
  }
  absl::StatusOr<uint64_t> dropped = keeper_->Prune(absl::ToUnixMillis(absl::Now()));
  ASSERT_TRUE(dropped.ok()) << dropped.status();
  EXPECT_EQ(*dropped, 1u);
  EXPECT_TRUE(Records("first").empty());
  EXPECT_EQ(Records("second").size(), 1u);
  EXPECT_EQ(Records("third").size(), 1u);
  EXPECT_EQ(keeper_->totals().bytes, 200u);
  EXPECT_NE(::access(keeper_->KeptPath(kept[0].id).c_str(), F_OK), 0);
}

TEST_F(VersionKeeperTest, ReopeningCountsWhatIsKept) {
  Write("a", "12345");
  DeleteKeeping("a");
  OpenKeeper(VersionPolicy());
  EXPECT_EQ(keeper_->totals().kept, 1u);
  EXPECT_EQ(keeper_->totals().bytes, 5u);
}

TEST_F(VersionKeeperTest, ReopeningDropsRecordsWhoseKeptFileIsGone) {
  Write("dropped", "its file was removed, its record not");
  const KeptFile dropped = DeleteKeeping("dropped");
  Write("kept", "12345");
  DeleteKeeping("kept");
  // Kept by nothing (versions of a truncation past the copy limit): a
  // record that names no file, which must stay.
  VersionPolicy no_copies;
  no_copies.copy_max_bytes = 0;
  OpenKeeper(no_copies);
  Write("truncated", "too big to copy");
  UniqueFd truncated(::open((TreePath() + "/truncated").c_str(), O_RDWR | O_CLOEXEC));
  ASSERT_TRUE(truncated.valid());
  const KeptFile not_kept = keeper_->CopyAside(truncated.get());
  ASSERT_FALSE(not_kept.kept());
  ASSERT_TRUE(keeper_->Record(not_kept, "truncated", KEPT_TRUNCATED, 7).ok());
  // What a crash leaves between a files-first drop's unlink and its commit.
  ASSERT_EQ(::unlink(keeper_->KeptPath(dropped.id).c_str()), 0);

  OpenKeeper(VersionPolicy());
  EXPECT_TRUE(Records("dropped").empty()) << "a restore would offer a file that is gone";
  EXPECT_EQ(Records("kept").size(), 1u);
  EXPECT_EQ(Records("truncated").size(), 1u);
  EXPECT_EQ(keeper_->totals().kept, 1u);
  EXPECT_EQ(keeper_->totals().bytes, 5u);
  EXPECT_EQ(keeper_->totals().not_kept, 1u);
}

TEST_F(VersionKeeperTest, TheTotalsCountOnlyRecordsThatCommitted) {
  Write("a", "12345");
  const KeptFile kept = keeper_->MoveAside(tree_.get(), "a", StatOf("a"));
  ASSERT_TRUE(kept.kept());
  const absl::Status failed = store_->Transact([&](StoreTransaction& txn) {
    keeper_->Queue(txn, kept, "a", std::nullopt, KEPT_DELETED, 7);
    return absl::AbortedError("the change failed after queueing its version");
  });
  ASSERT_FALSE(failed.ok());
  EXPECT_TRUE(Records("a").empty());
  EXPECT_EQ(keeper_->totals().kept, 0u);
  EXPECT_EQ(keeper_->totals().bytes, 0u);
  const absl::Status committed = store_->Transact([&](StoreTransaction& txn) {
    keeper_->Queue(txn, kept, "a", std::nullopt, KEPT_DELETED, 7);
    return absl::OkStatus();
  });
  ASSERT_TRUE(committed.ok()) << committed;
  EXPECT_EQ(keeper_->totals().kept, 1u);
  EXPECT_EQ(keeper_->totals().bytes, 5u);
}

TEST_F(VersionKeeperTest, SweepRemovesOnlyFilesNoRecordNames) {
  Write("a", "kept");
  const KeptFile kept = DeleteKeeping("a");
  Write("b", "captured, never recorded");
  const KeptFile stray = keeper_->MoveAside(tree_.get(), "b", StatOf("b"));
  ASSERT_TRUE(stray.kept());
  std::ofstream(dir_.Path("versions") + "/not-an-id") << "junk";
  absl::StatusOr<uint64_t> swept = keeper_->SweepUnrecorded();
  ASSERT_TRUE(swept.ok()) << swept.status();
  EXPECT_EQ(*swept, 2u);
  EXPECT_EQ(::access(keeper_->KeptPath(kept.id).c_str(), F_OK), 0);
  EXPECT_NE(::access(keeper_->KeptPath(stray.id).c_str(), F_OK), 0);
}

}  // namespace
}  // namespace replfs
