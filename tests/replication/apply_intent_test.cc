// A process killed between an apply's change to the backing directory and
// its commit: the start-up recovery must settle the apply from its
// write-ahead intent, so that the scan that follows does not take the
// applied remote version for a newer local edit (which would dominate, and
// silently drop, the local version the apply replaced).
#include "replication/apply_intent.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/unique_fd.h"
#include "gtest/gtest.h"
#include "replication/remote_applier.h"
#include "storage/apply_intents.h"
#include "storage/change_recorder.h"
#include "storage/filesystem_hooks.h"
#include "storage/hlc.h"
#include "storage/register_compare.h"
#include "storage/startup_scan.h"
#include "storage/version.h"
#include "tests/support/store_and_recorder.h"

namespace replfs {
namespace {

namespace fs = std::filesystem;
constexpr uint64_t kLocalNode = 0xa11ce;
constexpr uint64_t kRemoteNode = 0xb0b;

class ApplyIntentTest : public testing::StoreAndRecorderTest {
 protected:
  ApplyIntentTest() : StoreAndRecorderTest("replfs-intent", kLocalNode) {}

  static void WriteFileAt(const std::string& path, const std::string& data) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << data;
  }

  // Commits the file at `rel` as a local change, as a close through the
  // mount does.
  void RecordLocal(const std::string& rel, const std::string& data) {
    WriteFile(rel, data);
    absl::StatusOr<ObservedObject> observed = ObserveAt(root_.get(), rel.c_str(), nullptr, nullptr);
    ASSERT_TRUE(observed.ok()) << observed.status();
    ASSERT_TRUE(recorder_->RecordObject(rel, *observed).ok());
  }

  // A remote entry for `rel` that beats the local one and did not see it
  // (a concurrent write on another node): content `data`, observed from a
  // file of the peer's.
  Entry RemoteFile(const std::string& rel, const std::string& data) {
    const std::string peer_file = dir_.Path("peer-file");
    WriteFileAt(peer_file, data);
    struct stat st;
    EXPECT_EQ(::stat(peer_file.c_str(), &st), 0);
    UniqueFd fd(::open(peer_file.c_str(), O_PATH | O_CLOEXEC));
    absl::StatusOr<ObservedObject> observed = ObserveObject(fd.get(), st, nullptr, nullptr);
    EXPECT_TRUE(observed.ok()) << observed.status();
    Entry e;
    e.set_path(rel);
    *e.mutable_content() = observed->content;
    if (!data.empty()) {  // As the feed sends a small file: inline.
      e.mutable_content()->clear_block_hashes();
      e.mutable_content()->set_is_inline(true);
      e.mutable_content()->set_inline_data(data);
    }
    *e.mutable_attributes() = observed->attributes;
    const uint64_t hlc = clock_.Now() + 1000;
    e.mutable_content()->mutable_version()->set_hlc(hlc);
    e.mutable_content()->mutable_version()->set_node(kRemoteNode);
    VersionVectorItem* item = e.mutable_content()->add_vector();
    item->set_node(kRemoteNode);
    item->set_counter(1);
    e.mutable_attributes()->mutable_version()->set_hlc(hlc);
    e.mutable_attributes()->mutable_version()->set_node(kRemoteNode);
    return e;
  }

  // What an apply persisted before touching the disk.
  void PutIntent(const Entry& result, uint64_t placed_ino) {
    ApplyIntent intent;
    *intent.mutable_result() = result;
    intent.set_placed_ino(placed_ino);
    ASSERT_TRUE(store_
                    ->Transact([&](StoreTransaction& txn) {
                      ApplyIntents::Put(txn, intent);
                      return absl::OkStatus();
                    })
                    .ok());
  }

  // Replaces `rel` by a new file holding `data`, as the apply's rename
  // into place does. Returns the new file's inode.
  uint64_t PlaceFile(const std::string& rel, const std::string& data) {
    const std::string temp = B(".replfs/tmp/apply-1");
    WriteFileAt(temp, data);
    struct stat st;
    EXPECT_EQ(::stat(temp.c_str(), &st), 0);
    EXPECT_EQ(::rename(temp.c_str(), B(rel).c_str()), 0);
    return st.st_ino;
  }

  int Intents() {
    int n = 0;
    EXPECT_TRUE(ApplyIntents(*store_).Scan([&](const ApplyIntent&) {
                  ++n;
                  return true;
                }).ok());
    return n;
  }

  IntentRecovery Recover() {
    absl::StatusOr<IntentRecovery> r = RecoverInterruptedApplies(root_.get(), store_.get());
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : IntentRecovery{};
  }
};

TEST_F(ApplyIntentTest, ReplacementThatReachedTheDiskIsCommittedAsTheRemoteVersion) {
  RecordLocal("f", "local version");
  const Entry remote = RemoteFile("f", "remote version, longer");
  PutIntent(remote, PlaceFile("f", "remote version, longer"));
  // Killed here: the disk has the remote file, the store the local entry.

  const IntentRecovery recovery = Recover();
  EXPECT_EQ(recovery.finished, 1);
  EXPECT_EQ(recovery.abandoned, 0);
  EXPECT_EQ(Intents(), 0);
  const ScanReport scan = Scan();
  EXPECT_EQ(scan.committed, 0u) << "the scan took the applied remote file for a local edit";
  std::optional<Entry> e = Find("f");
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->content().version().node(), kRemoteNode);
  EXPECT_EQ(e->content().version().hlc(), remote.content().version().hlc());
  EXPECT_TRUE(SameContent(e->content(), remote.content()));
}

TEST_F(ApplyIntentTest, RemovalThatReachedTheDiskIsCommittedAsTheRemoteTombstone) {
  RecordLocal("f", "local version");
  Entry tombstone = RemoteFile("f", "");
  tombstone.mutable_content()->Clear();
  tombstone.mutable_content()->set_kind(KIND_TOMBSTONE);
  tombstone.mutable_content()->mutable_version()->set_hlc(clock_.Now() + 1000);
  tombstone.mutable_content()->mutable_version()->set_node(kRemoteNode);
  PutIntent(tombstone, 0);
  ASSERT_EQ(::unlink(B("f").c_str()), 0);

  EXPECT_EQ(Recover().finished, 1);
  EXPECT_EQ(Scan().deleted, 0u) << "the scan tombstoned the removed file as a local delete";
  std::optional<Entry> e = Find("f");
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->content().kind(), KIND_TOMBSTONE);
  EXPECT_EQ(e->content().version().node(), kRemoteNode);
}

TEST_F(ApplyIntentTest, ApplyThatNeverReachedTheDiskIsAbandonedAndChangesNothing) {
  RecordLocal("f", "local version");
  const std::optional<Entry> before = Find("f");
  ASSERT_TRUE(before.has_value());
  // The temp object was built (inode 1 stands for it) but not renamed.
  PutIntent(RemoteFile("f", "remote version"), 1);

  const IntentRecovery recovery = Recover();
  EXPECT_EQ(recovery.finished, 0);
  EXPECT_EQ(recovery.abandoned, 1);
  EXPECT_EQ(Intents(), 0);
  EXPECT_EQ(Scan().committed, 0u);
  std::optional<Entry> e = Find("f");
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->seq(), before->seq());
  EXPECT_EQ(e->content().version().node(), kLocalNode);
}

TEST_F(ApplyIntentTest, CompletedApplyLeavesNoIntentBehind) {
  RecordLocal("f", "local version");
  NoFilesystemHooks hooks;
  ApplierOptions options;
  options.hidden_name = ".replfs";
  options.temp_dir = B(".replfs/tmp");
  options.conflicts_dir = B(".replfs/conflicts");
  RemoteApplier applier(root_.get(), store_.get(), &clock_, &hooks, options);
  ApplyStats stats;
  const Entry remote = RemoteFile("f", "remote version");
  const absl::Status applied = applier.ApplyBatch({remote}, nullptr, &stats);
  ASSERT_TRUE(applied.ok()) << applied;
  EXPECT_EQ(stats.applied, 1u);
  EXPECT_EQ(stats.conflicts, 1u);  // The concurrent local version was kept.
  EXPECT_EQ(Intents(), 0);
  EXPECT_EQ(Recover().finished, 0);
  EXPECT_EQ(Scan().committed, 0u);
}

}  // namespace
}  // namespace replfs
