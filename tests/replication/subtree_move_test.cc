// A rename reaching a receiver: which commits of a batch are moves
// (FindSubtreeMoves), and how RemoteApplier applies one, against a store
// and a backing directory without a mount: one rename(2) when the
// receiver's subtree is what the sender moved, entry by entry otherwise,
// and a move cut short by a crash settled by the start-up recovery.
#include "replication/subtree_move.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "replication/apply_intent.h"
#include "replication/feed_entry.h"
#include "replication/remote_applier.h"
#include "storage/apply_intents.h"
#include "storage/attribute_registers.h"
#include "storage/filesystem_hooks.h"
#include "storage/version.h"
#include "tests/support/applier_fixture.h"

namespace replfs {
namespace {

constexpr uint64_t kLocalNode = 0xa11ce;
constexpr uint64_t kRemoteNode = 0xb0b;

Entry Live(const std::string& path, Kind kind, uint64_t hlc) {
  Entry e;
  e.set_path(path);
  e.mutable_content()->set_kind(kind);
  *e.mutable_content()->mutable_version() = MakeVersion(hlc, kRemoteNode);
  *e.mutable_attributes()->mutable_version() = MakeVersion(hlc, kRemoteNode);
  return e;
}

Entry Dead(const std::string& path, uint64_t hlc) { return Live(path, KIND_TOMBSTONE, hlc); }

std::vector<const Entry*> Pointers(const std::vector<Entry>& entries) {
  std::vector<const Entry*> out;
  out.reserve(entries.size());
  for (const Entry& e : entries) out.push_back(&e);
  return out;
}

TEST(FindSubtreeMovesTest, FindsADirectoryRenameAmongOtherCommits) {
  const std::vector<Entry> batch = {
      Live("before", KIND_FILE, 1),
      Dead("site", 2), Dead("site/a", 2), Dead("site/sub", 2), Dead("site/sub/b", 2),
      Live("www", KIND_DIR, 2), Live("www/a", KIND_FILE, 2), Live("www/sub", KIND_DIR, 2),
      Live("www/sub/b", KIND_FILE, 2),
      Live("after", KIND_FILE, 3)};
  const std::vector<SubtreeMove> moves = FindSubtreeMoves(Pointers(batch));
  ASSERT_EQ(moves.size(), 1u);
  const SubtreeMove& move = moves[0];
  EXPECT_EQ(move.from, "site");
  EXPECT_EQ(move.to, "www");
  EXPECT_EQ(move.begin, 1u);
  EXPECT_EQ(move.end, 9u);
  ASSERT_EQ(move.entries.size(), 4u);
  EXPECT_EQ(move.entries[0].tombstone->path(), "site");
  EXPECT_EQ(move.entries[0].live->path(), "www");
  std::map<std::string, std::string> pairs;
  for (const MovedEntry& m : move.entries) pairs[m.tombstone->path()] = m.live->path();
  EXPECT_EQ(pairs["site/sub/b"], "www/sub/b");
  EXPECT_EQ(pairs["site/a"], "www/a");
}

TEST(FindSubtreeMovesTest, FindsAFileRename) {
  const std::vector<Entry> batch = {Live("new.html", KIND_FILE, 5), Dead("old.html", 5)};
  const std::vector<SubtreeMove> moves = FindSubtreeMoves(Pointers(batch));
  ASSERT_EQ(moves.size(), 1u);
  EXPECT_EQ(moves[0].from, "old.html");
  EXPECT_EQ(moves[0].to, "new.html");
}

TEST(FindSubtreeMovesTest, OtherCommitShapesAreNotMoves) {
  const std::vector<std::vector<Entry>> not_moves = {
      // An exchange: both names stay live.
      {Live("a", KIND_FILE, 1), Live("b", KIND_FILE, 1)},
      // A rename over a file that had something beneath it... a tombstone
      // more than the names that arrive.
      {Dead("a", 1), Dead("b/old", 1), Live("b", KIND_FILE, 1)},
      // Cut across batches: a moved name without its tombstone.
      {Dead("d", 1), Live("e", KIND_DIR, 1), Live("e/x", KIND_FILE, 1)},
      // Names that do not correspond.
      {Dead("d", 1), Dead("d/x", 1), Live("e", KIND_DIR, 1), Live("e/y", KIND_FILE, 1)},
      // Two removals and two creations with no common root.
      {Dead("p", 1), Dead("q", 1), Live("r", KIND_FILE, 1), Live("s", KIND_FILE, 1)},
      // Separate commits (versions differ) are never one move.
      {Dead("a", 1), Live("b", KIND_FILE, 2)},
      // Into its own subtree.
      {Dead("a", 1), Live("a/b", KIND_FILE, 1)},
  };
  for (const std::vector<Entry>& batch : not_moves) {
    EXPECT_TRUE(FindSubtreeMoves(Pointers(batch)).empty()) << batch[0].path();
  }
}

// Counts what an applier's hooks were told.
class RecordingHooks final : public FilesystemHooks {
 public:
  void InvalidatePath(const std::string& path) override { invalidated.push_back(path); }
  bool IsOpenForWriting(const std::string&) override { return false; }
  bool HasUncommittedChanges(const std::string& path) override { return path == busy; }
  void PathMoved(const std::string& from, const std::string& to) override {
    moved.push_back(absl::StrCat(from, "->", to));
  }
  void FileRemoved(const std::string&, const struct stat&, bool) override {}
  std::unique_lock<std::shared_mutex> BlockLocalChanges() override {
    return std::unique_lock(gate_);
  }

  std::string busy;
  std::vector<std::string> invalidated;
  std::vector<std::string> moved;

 private:
  std::shared_mutex gate_;
};

class MoveApplyTest : public testing::ApplierFixture {
 protected:
  MoveApplyTest() : ApplierFixture("replfs-subtree-move", kLocalNode) {}

  void SetUp() override {
    ApplierFixture::SetUp();
    MakeApplier(&hooks_);
    ASSERT_EQ(::mkdir(B("site").c_str(), 0755), 0);
    ASSERT_EQ(::mkdir(B("site/css").c_str(), 0750), 0);
    WriteFile("site/index.html", "<h1>home</h1>");
    WriteFile("site/css/main.css", "body{}");
    Scan();
  }

  // The commit a peer that renamed `from` to `to` sends, as its recorder
  // writes it (ChangeRecorder::RecordRename): the tombstones of the old
  // names, the same content at the new ones, one new version.
  std::vector<Entry> RenameCommit(const std::string& from, const std::string& to) {
    // Newer than any local change the test makes after building it (a
    // test's writes and scan can take tens of milliseconds under the
    // sanitizers), and within the applier's limit on clocks ahead.
    constexpr uint64_t kPeerAheadMs = 5000;
    const Version version = MakeVersion(clock_.Now() + (kPeerAheadMs << 16), kRemoteNode);
    std::vector<Entry> commit;
    for (const std::string& rel : {std::string(), std::string("/css"),
                                   std::string("/css/main.css"), std::string("/index.html")}) {
      std::optional<Entry> local = Find(from + rel);
      EXPECT_TRUE(local.has_value()) << from + rel;
      if (!local.has_value()) continue;
      Entry dead;
      dead.set_path(local->path());
      dead.mutable_content()->set_kind(KIND_TOMBSTONE);
      *dead.mutable_content()->mutable_version() = version;
      *dead.mutable_content()->mutable_vector() = local->content().vector();
      BumpVector(dead.mutable_content()->mutable_vector(), kRemoteNode, version.hlc());
      AttributeRegisters::Of(*local).StoreIn(&dead);
      commit.push_back(dead);
      Entry moved = *local;
      moved.set_path(to + rel);
      moved.clear_local_stat();
      moved.clear_seq();
      *moved.mutable_content()->mutable_version() = version;
      BumpVector(moved.mutable_content()->mutable_vector(), kRemoteNode, version.hlc());
      *moved.mutable_attributes()->mutable_version() = version;
      // Small files travel inline, as a feed sends them.
      absl::StatusOr<Entry> sent = FeedEntry(moved, *store_, root_.get());
      EXPECT_TRUE(sent.ok()) << sent.status();
      commit.push_back(sent.ok() ? *std::move(sent) : moved);
    }
    return commit;
  }

  ino_t InodeOf(const std::string& rel) const {
    struct stat st;
    return ::lstat(B(rel).c_str(), &st) == 0 ? st.st_ino : 0;
  }

  size_t Intents() const {
    size_t n = 0;
    EXPECT_TRUE(ApplyIntents(*store_).Scan([&](const ApplyIntent&) { return ++n > 0; }).ok());
    return n;
  }

  RecordingHooks hooks_;
};

TEST_F(MoveApplyTest, AMatchingSubtreeMovesByOneRename) {
  const ino_t dir = InodeOf("site"), page = InodeOf("site/index.html");
  const std::vector<Entry> commit = RenameCommit("site", "www");
  ApplyStats stats;
  ASSERT_TRUE(applier_->ApplyBatch(commit, nullptr, &stats).ok());
  EXPECT_EQ(stats.applied, commit.size());
  // The very objects, now under the new name: nothing was built.
  EXPECT_EQ(InodeOf("www"), dir);
  EXPECT_EQ(InodeOf("www/index.html"), page);
  EXPECT_EQ(InodeOf("site"), 0u);
  struct stat css;
  ASSERT_EQ(::lstat(B("www/css").c_str(), &css), 0);
  EXPECT_EQ(css.st_mode & 07777, 0750u);
  for (const Entry& sent : commit) {
    std::optional<Entry> now = Find(sent.path());
    ASSERT_TRUE(now.has_value()) << sent.path();
    EXPECT_EQ(CompareVersions(now->content().version(), sent.content().version()), 0);
    EXPECT_EQ(now->content().kind(), sent.content().kind()) << sent.path();
  }
  EXPECT_EQ(Find("www/index.html")->local_stat().ino(), page);
  EXPECT_EQ(Intents(), 0u);
  EXPECT_EQ(hooks_.moved, std::vector<std::string>{"site->www"});
  // Applied again (a peer resends it): every entry is old news.
  ApplyStats again;
  ASSERT_TRUE(applier_->ApplyBatch(commit, nullptr, &again).ok());
  EXPECT_EQ(again.applied, 0u);
  EXPECT_EQ(InodeOf("www/index.html"), page);
}

TEST_F(MoveApplyTest, ChangedAttributesAreSetOnTheMovedObject) {
  std::vector<Entry> commit = RenameCommit("site", "www");
  for (Entry& e : commit) {
    if (e.path() == "www/index.html") e.mutable_attributes()->set_mode(0600);
  }
  ApplyStats stats;
  ASSERT_TRUE(applier_->ApplyBatch(commit, nullptr, &stats).ok());
  struct stat st;
  ASSERT_EQ(::lstat(B("www/index.html").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(Find("www/index.html")->local_stat().ctime_ns(),
            int64_t{st.st_ctim.tv_sec} * 1000000000 + st.st_ctim.tv_nsec);
}

// Something beneath the old name that the store does not list (a local-only
// object, or one created behind the store's back) is not carried along: the
// entries are applied one by one, building the new names.
TEST_F(MoveApplyTest, AnUnlistedObjectBeneathIsNotCarriedAlong) {
  ASSERT_EQ(::mkfifo(B("site/local-only").c_str(), 0600), 0);
  const ino_t page = InodeOf("site/index.html");
  ApplyStats stats;
  ASSERT_TRUE(applier_->ApplyBatch(RenameCommit("site", "www"), nullptr, &stats).ok());
  EXPECT_TRUE(hooks_.moved.empty());
  EXPECT_NE(InodeOf("www/index.html"), 0u);
  EXPECT_NE(InodeOf("www/index.html"), page);
  EXPECT_EQ(InodeOf("www/local-only"), 0u);
}

TEST_F(MoveApplyTest, AFileWithUncommittedChangesIsNotMoved) {
  hooks_.busy = "site/index.html";
  ApplyStats stats;
  ASSERT_TRUE(applier_->ApplyBatch(RenameCommit("site", "www"), nullptr, &stats).ok());
  EXPECT_TRUE(hooks_.moved.empty());
}

// A concurrent local edit beneath the old name: the per-entry path keeps
// it (a conflict copy or the newer version), so the move is not taken.
TEST_F(MoveApplyTest, AConcurrentLocalEditIsLeftToThePerEntryPath) {
  const std::vector<Entry> commit = RenameCommit("site", "www");
  WriteFile("site/index.html", "<h1>edited here</h1>");
  Scan();
  ApplyStats stats;
  ASSERT_TRUE(applier_->ApplyBatch(commit, nullptr, &stats).ok());
  EXPECT_TRUE(hooks_.moved.empty());
  EXPECT_EQ(stats.conflicts, 1u);
  EXPECT_EQ(Find("www/index.html")->content().size(), std::string("<h1>home</h1>").size());
}

// The write-ahead intents of a move: when the rename did not happen, the
// recovery abandons every one of them (the old names stay live); when it
// did, it commits them all.
TEST_F(MoveApplyTest, RecoveryTellsADoneMoveFromOneThatDidNotHappen) {
  const std::vector<Entry> commit = RenameCommit("site", "www");
  auto write_intents = [&] {
    ASSERT_TRUE(store_
                    ->Transact([&](StoreTransaction& txn) {
                      for (const Entry& e : commit) {
                        ApplyIntent intent;
                        *intent.mutable_result() = e;
                        if (e.content().kind() == KIND_TOMBSTONE) {
                          intent.set_placed_ino(Find(e.path())->local_stat().ino());
                        }
                        ApplyIntents::Put(txn, intent);
                      }
                      return absl::OkStatus();
                    })
                    .ok());
  };
  write_intents();
  absl::StatusOr<IntentRecovery> recovered = RecoverInterruptedApplies(root_.get(), store_.get());
  ASSERT_TRUE(recovered.ok()) << recovered.status();
  EXPECT_EQ(recovered->abandoned, static_cast<int>(commit.size()));
  EXPECT_EQ(Find("site")->content().kind(), KIND_DIR);
  EXPECT_EQ(Find("site/css/main.css")->content().kind(), KIND_FILE);
  EXPECT_FALSE(Find("www").has_value());

  write_intents();
  ASSERT_EQ(::rename(B("site").c_str(), B("www").c_str()), 0);
  recovered = RecoverInterruptedApplies(root_.get(), store_.get());
  ASSERT_TRUE(recovered.ok()) << recovered.status();
  EXPECT_EQ(recovered->finished, static_cast<int>(commit.size()));
  EXPECT_EQ(Find("site")->content().kind(), KIND_TOMBSTONE);
  EXPECT_EQ(Find("www/css/main.css")->content().kind(), KIND_FILE);
  EXPECT_EQ(Find("www/css/main.css")->local_stat().ino(), InodeOf("www/css/main.css"));
}

}  // namespace
}  // namespace replfs
