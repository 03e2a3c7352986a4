// No poison entry: an entry a receiver cannot apply exactly never stops
// replication from that peer. It is applied without what the receiver's
// file system refuses, or set aside whole: kept with its reason, shown by
// replfs-status, retried, and decided against by later entries of its path
// as if it had been applied. Real replfs processes with real FUSE mounts
// replicate over 127.0.0.1; where a receiver must be unable to store
// something, its backing directory is a small file system made for the
// test; where no honest replica would send it, a fake peer does.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "storage/content_hasher.h"
#include "tests/cluster.h"
#include "tests/fake_peer.h"
#include "tests/small_filesystem.h"
#include "tests/support/child_process.h"

namespace replfs::testing {
namespace {

// 1969-12-31 23:59:59.5 UTC: a legal mtime whose seconds are negative and
// whose nanoseconds are not.
constexpr struct timespec kPreEpoch = {-1, 500'000'000};

bool HasMtime(const std::string& path, const struct timespec& want) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0 && st.st_mtim.tv_sec == want.tv_sec &&
         st.st_mtim.tv_nsec == want.tv_nsec;
}

std::string XattrValue(const std::string& path, const std::string& name) {
  std::string value(1 << 17, '\0');
  const ssize_t n = ::lgetxattr(path.c_str(), name.c_str(), value.data(), value.size());
  value.resize(n < 0 ? 0 : static_cast<size_t>(n));
  return value;
}

std::string Readlink(const std::string& path) {
  std::string target(8192, '\0');
  const ssize_t n = ::readlink(path.c_str(), target.data(), target.size());
  target.resize(n < 0 ? 0 : static_cast<size_t>(n));
  return target;
}

// What a replica reports about the entries it set aside from one peer.
PeerStatus PeerOf(const absl::StatusOr<ReplicaStatus>& status, const std::string& address) {
  if (status.ok()) {
    for (const PeerStatus& peer : status->peers()) {
      if (peer.address() == address) return peer;
    }
  }
  return PeerStatus();
}

std::string Describe(const PeerStatus& peer) {
  std::vector<std::string> lines;
  for (const SetAsideProblem& problem : peer.set_aside()) {
    lines.push_back(absl::StrCat(problem.path(), ": ", problem.reason(),
                                 problem.partial() ? " (partial)" : ""));
  }
  return absl::StrCat(peer.set_aside_entries(), " set aside [", absl::StrJoin(lines, "; "), "]");
}

// `replfs-status ARGS` with stdout to a file in `scratch`; killed (by its
// PID) after 30 s. Returns what it printed.
std::string RunReplfsStatus(const std::string& scratch, const std::vector<std::string>& args) {
  static int counter = 0;
  const std::string out_path = absl::StrCat(scratch, "/status-", ++counter, ".out");
  std::vector<std::string> argv = {REPLFS_STATUS_BINARY_PATH};
  argv.insert(argv.end(), args.begin(), args.end());
  testing::ChildOptions output;
  output.stdout_path = out_path;
  testing::RunChild(argv, output, absl::Seconds(30));
  return ReadWholeFile(out_path);
}

TEST(PreEpochMtime, ReplicatesAndTheEntriesAfterItArrive) {
  Cluster cluster(2);
  REPLFS_ASSERT_OK(cluster.init_status());
  REPLFS_ASSERT_OK(cluster.StartAll());
  REPLFS_ASSERT_OK(WriteFile(cluster.Mount(0, "old"), "from before 1970\n"));
  const struct timespec times[2] = {kPreEpoch, kPreEpoch};
  ASSERT_EQ(::utimensat(AT_FDCWD, cluster.Mount(0, "old").c_str(), times, 0), 0)
      << std::strerror(errno);
  ASSERT_TRUE(HasMtime(cluster.Mount(0, "old"), kPreEpoch));
  REPLFS_ASSERT_OK(WriteFile(cluster.Mount(0, "after"), "written after it\n"));
  EXPECT_TRUE(WaitUntil(
      [&] {
        return ReadWholeFile(cluster.Mount(1, "after")) == "written after it\n" &&
               HasMtime(cluster.Mount(1, "old"), kPreEpoch);
      },
      absl::Seconds(20)))
      << cluster.Diagnostics();
  EXPECT_EQ(ReadWholeFile(cluster.Mount(1, "old")), "from before 1970\n");
}

// Replica 0 writes on an ordinary file system; replica 1's backing
// directory is a small one made for each test. The cluster stops before
// the small file system is unmounted.
class SmallReceiverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster_ = std::make_unique<Cluster>(2);
    REPLFS_ASSERT_OK(cluster_->init_status());
  }
  void TearDown() override {
    cluster_.reset();
    receiver_fs_.reset();
    sender_fs_.reset();
  }
  std::string SenderAddress() const { return absl::StrCat("127.0.0.1:", cluster_->port(0)); }
  PeerStatus ReceiverView() const { return PeerOf(cluster_->Status(1), SenderAddress()); }

  TempDir scratch_{"replfs-small-fs"};
  std::unique_ptr<Cluster> cluster_;
  std::unique_ptr<SmallFilesystem> receiver_fs_;
  std::unique_ptr<SmallFilesystem> sender_fs_;
};

// A symlink target is stored in the file system's blocks: with 1 KiB blocks
// ext4 refuses targets of 1 KiB and more (ENAMETOOLONG), which the sender's
// 4 KiB blocks hold. The entry is set aside, the entries after it arrive,
// status names it, and the sender's next version of the path replaces it.
TEST_F(SmallReceiverTest, SymlinkTargetTooLongForTheReceiverIsSetAsideThenSuperseded) {
  absl::StatusOr<std::unique_ptr<SmallFilesystem>> fs = SmallFilesystem::Ext4Image(
      scratch_.path() + "/receiver.img", cluster_->Backing(1), 64 << 20, 1024);
  REPLFS_ASSERT_OK(fs.status());
  receiver_fs_ = *std::move(fs);
  REPLFS_ASSERT_OK(cluster_->StartAll());

  const std::string long_target(1500, 't');
  ASSERT_EQ(::symlink(long_target.c_str(), cluster_->Mount(0, "long").c_str()), 0)
      << std::strerror(errno);
  REPLFS_ASSERT_OK(WriteFile(cluster_->Mount(0, "after"), "after the long symlink\n"));
  ASSERT_TRUE(WaitUntil(
      [&] {
        return ReadWholeFile(cluster_->Mount(1, "after")) == "after the long symlink\n" &&
               ReceiverView().set_aside_entries() == 1;
      },
      absl::Seconds(20)))
      << Describe(ReceiverView()) << cluster_->Diagnostics();
  EXPECT_FALSE(PathExists(cluster_->Mount(1, "long")));
  const PeerStatus seen = ReceiverView();
  ASSERT_EQ(seen.set_aside_size(), 1) << Describe(seen);
  EXPECT_EQ(seen.set_aside(0).path(), "long");
  EXPECT_FALSE(seen.set_aside(0).partial());
  EXPECT_NE(seen.set_aside(0).reason().find("File name too long"), std::string::npos)
      << seen.set_aside(0).reason();
  EXPECT_GT(seen.set_aside(0).next_attempt_unix_ms(), 0) << "not retried";
  // The checkpoint moved past it: nothing of the sender's log is pending.
  EXPECT_EQ(seen.lag_entries(), 0u) << seen.ShortDebugString();
  // replfs-status shows it, as text and as JSON, and calls the replica degraded.
  const std::string text = RunReplfsStatus(scratch_.path(), {cluster_->Mount(1)});
  EXPECT_NE(text.find("set aside 1 entries from this peer"), std::string::npos) << text;
  EXPECT_NE(text.find("long: "), std::string::npos) << text;
  const std::string json = RunReplfsStatus(scratch_.path(), {"--json", cluster_->Mount(1)});
  EXPECT_NE(json.find("\"set_aside_entries\": \"1\""), std::string::npos) << json;
  EXPECT_NE(json.find("File name too long"), std::string::npos) << json;

  // A newer version of the path supersedes it.
  ASSERT_EQ(::unlink(cluster_->Mount(0, "long").c_str()), 0);
  ASSERT_EQ(::symlink("short", cluster_->Mount(0, "long").c_str()), 0);
  EXPECT_TRUE(WaitUntil(
      [&] {
        return Readlink(cluster_->Mount(1, "long")) == "short" &&
               ReceiverView().set_aside_entries() == 0;
      },
      absl::Seconds(20)))
      << Describe(ReceiverView()) << cluster_->Diagnostics();
}

// tmpfs charges xattrs to its inode space (1 KiB per allowed inode): with
// 64 inodes a 60,000-byte xattr does not fit. The file is applied without
// it, status says what was dropped, and once the receiver's file system is
// given room (remounted with more inodes) the retry stores it.
TEST_F(SmallReceiverTest, XattrTheReceiverCannotStoreIsDroppedThenStoredOnceItCan) {
  absl::StatusOr<std::unique_ptr<SmallFilesystem>> sender =
      SmallFilesystem::Tmpfs(cluster_->Backing(0), "size=256m");
  REPLFS_ASSERT_OK(sender.status());
  sender_fs_ = *std::move(sender);
  absl::StatusOr<std::unique_ptr<SmallFilesystem>> receiver =
      SmallFilesystem::Tmpfs(cluster_->Backing(1), "size=256m,nr_inodes=64");
  REPLFS_ASSERT_OK(receiver.status());
  receiver_fs_ = *std::move(receiver);
  REPLFS_ASSERT_OK(cluster_->StartAll());

  const std::string big(60'000, 'x');
  REPLFS_ASSERT_OK(WriteFile(cluster_->Mount(0, "tagged"), "tagged content\n"));
  ASSERT_EQ(::setxattr(cluster_->Mount(0, "tagged").c_str(), "user.big", big.data(), big.size(), 0),
            0)
      << std::strerror(errno);
  REPLFS_ASSERT_OK(WriteFile(cluster_->Mount(0, "after"), "after the big xattr\n"));
  ASSERT_TRUE(WaitUntil(
      [&] {
        const PeerStatus peer = ReceiverView();
        return ReadWholeFile(cluster_->Mount(1, "after")) == "after the big xattr\n" &&
               peer.set_aside_size() == 1 && !peer.set_aside(0).dropped().empty();
      },
      absl::Seconds(20)))
      << Describe(ReceiverView()) << cluster_->Diagnostics();
  EXPECT_EQ(ReadWholeFile(cluster_->Mount(1, "tagged")), "tagged content\n");
  EXPECT_EQ(XattrValue(cluster_->Backing(1, "tagged"), "user.big"), "");
  const PeerStatus seen = ReceiverView();
  EXPECT_EQ(seen.set_aside(0).path(), "tagged");
  EXPECT_TRUE(seen.set_aside(0).partial());
  EXPECT_NE(seen.set_aside(0).dropped(0).find("xattr user.big"), std::string::npos)
      << Describe(seen);

  REPLFS_ASSERT_OK(receiver_fs_->Remount("nr_inodes=100000"));
  EXPECT_TRUE(WaitUntil(
      [&] {
        return XattrValue(cluster_->Backing(1, "tagged"), "user.big") == big &&
               ReceiverView().set_aside_entries() == 0;
      },
      absl::Seconds(40)))
      << Describe(ReceiverView()) << cluster_->Diagnostics();
}

// ---- A fake peer: what no honest replica sends, or not in this order ----

class FakePeerSetAsideTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = std::make_unique<TempDir>("replfs-set-aside");
    backing_ = root_->Sub("backing");
    mount_ = root_->Sub("mnt");
    REPLFS_ASSERT_OK(fake_.Start());
    absl::StatusOr<int> port = FreeLoopbackPort();
    REPLFS_ASSERT_OK(port.status());
    replica_ = std::make_unique<ReplicaProcess>(
        backing_, mount_,
        std::vector<std::string>{
            "-o", absl::StrCat("listen=127.0.0.1:", *port, ",peers=", fake_.address(),
                               ",log_level=info")});
  }
  void TearDown() override {
    replica_.reset();
    small_fs_.reset();
    root_.reset();
  }
  PeerStatus View() const { return PeerOf(AdminStatus(backing_), fake_.address()); }
  std::string Diagnostics() const {
    return absl::StrCat("\nstatus: ", View().ShortDebugString(), "\nlog:\n", replica_->Log());
  }
  // Plays `batches` (each a list of entries) on every stream from now on,
  // with seqs continuing from the batches played before.
  void Play(const std::vector<std::vector<Entry>>& batches) {
    ChangesScript script;
    for (const std::vector<Entry>& batch : batches) {
      script.messages.push_back(BatchBytes(batch, next_seq_));
      next_seq_ += batch.size();
    }
    fake_.SetScript(script);
  }
  std::string Read(const std::string& path) const { return ReadWholeFile(mount_ + "/" + path); }

  std::unique_ptr<TempDir> root_;
  std::string backing_, mount_;
  FakePeer fake_;
  std::unique_ptr<ReplicaProcess> replica_;
  std::unique_ptr<SmallFilesystem> small_fs_;  // At backing_, when a test needs one.
  uint64_t next_seq_ = 1;
};

std::string RandomBlock(uint64_t seed, size_t size) {
  std::mt19937_64 rng(seed);
  std::string data(size, '\0');
  for (char& c : data) c = static_cast<char>(rng());
  return data;
}

// xattrs in namespaces replfs never replicates (security.capability would
// make a peer's binary privileged on this machine) are left out and
// recorded; the rest of the entry applies and the stream goes on.
TEST_F(FakePeerSetAsideTest, XattrsOfNamespacesNotReplicatedAreLeftOutAndRecorded) {
  Entry tagged = InlineFileEntry("tagged", "tagged\n", HlcFromNow());
  for (const char* name : {"security.capability", "trusted.replfs-test"}) {
    Xattr* x = tagged.mutable_attributes()->add_xattrs();
    x->set_name(name);
    x->set_value(std::string(20, '\1'));
  }
  Xattr* user = tagged.mutable_attributes()->add_xattrs();
  user->set_name("user.kept");
  user->set_value("kept");
  Play({{tagged}, {InlineFileEntry("after", "after\n", HlcFromNow())}});
  REPLFS_ASSERT_OK(replica_->Start());
  ASSERT_TRUE(WaitUntil(
      [&] { return Read("after") == "after\n" && View().set_aside_entries() == 1; },
      absl::Seconds(20)))
      << Diagnostics();
  EXPECT_EQ(Read("tagged"), "tagged\n");
  EXPECT_EQ(XattrValue(backing_ + "/tagged", "user.kept"), "kept");
  EXPECT_EQ(XattrValue(backing_ + "/tagged", "security.capability"), "");
  EXPECT_EQ(XattrValue(backing_ + "/tagged", "trusted.replfs-test"), "");
  const PeerStatus seen = View();
  EXPECT_EQ(seen.rejected_entries(), 0u) << Diagnostics();
  ASSERT_EQ(seen.set_aside_size(), 1);
  EXPECT_TRUE(seen.set_aside(0).partial());
  EXPECT_EQ(seen.set_aside(0).dropped_size(), 2) << Describe(seen);
  EXPECT_EQ(seen.set_aside(0).next_attempt_unix_ms(), 0) << "retrying cannot help";
}

// A peer that no longer serves an entry's blocks (its file changed since)
// does not hold up the entries behind it. Until the set-aside entry
// applies, later entries of its path are decided against it: an older
// version is ignored, and newer attributes are kept for it; once the
// blocks are served it applies with them; a newer version supersedes it.
TEST_F(FakePeerSetAsideTest, EntryWhoseBlocksAreNotServedIsSetAsideAndDecidesItsPath) {
  const std::string block = RandomBlock(1, kBlockSize / 2 + 4097);
  const uint64_t v1 = HlcFromNow(absl::Seconds(-30));
  const uint64_t v2 = HlcFromNow(absl::Seconds(-20));
  const uint64_t v3 = HlcFromNow(absl::Seconds(-10));
  Play({{BlockFileEntry("p", block.size(), {Sha256(block)}, v2)},
        {InlineFileEntry("after", "after\n", v2)}});
  REPLFS_ASSERT_OK(replica_->Start());
  ASSERT_TRUE(WaitUntil(
      [&] { return Read("after") == "after\n" && View().set_aside_entries() == 1; },
      absl::Seconds(20)))
      << Diagnostics();
  EXPECT_FALSE(PathExists(mount_ + "/p"));
  EXPECT_NE(View().set_aside(0).reason().find("no longer holds"), std::string::npos)
      << Diagnostics();

  // An older version of p, with newer attributes: its content loses to the
  // set-aside entry's, its mode (attribute version v3) does not.
  Entry older = InlineFileEntry("p", "older\n", v1);
  older.mutable_attributes()->mutable_version()->set_hlc(v3);
  older.mutable_attributes()->set_mode(0600);
  Play({{older}, {InlineFileEntry("marker", "marker\n", v3)}});
  ASSERT_TRUE(WaitUntil([&] { return Read("marker") == "marker\n"; }, absl::Seconds(20)))
      << Diagnostics();
  EXPECT_FALSE(PathExists(mount_ + "/p")) << "an older version than the set-aside one was applied";

  // The blocks are served again: the retry applies v2, with v3's mode.
  fake_.SetBlocks({{{Sha256(block), block}}, 0});
  ASSERT_TRUE(WaitUntil(
      [&] { return Read("p") == block && View().set_aside_entries() == 0; },
      absl::Seconds(30)))
      << Diagnostics();
  struct stat st;
  ASSERT_EQ(::stat((backing_ + "/p").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);

  // Set aside again, then superseded by a newer version before it applies.
  const std::string other = RandomBlock(2, kBlockSize / 2 + 4099);
  const uint64_t v4 = HlcFromNow(absl::Seconds(-5));
  Play({{BlockFileEntry("p", other.size(), {Sha256(other)}, v4)},
        {InlineFileEntry("p", "newest\n", HlcFromNow())}});
  ASSERT_TRUE(WaitUntil(
      [&] { return Read("p") == "newest\n" && View().set_aside_entries() == 0; },
      absl::Seconds(20)))
      << Diagnostics();
  // Serving the superseded version's blocks changes nothing.
  fake_.SetBlocks({{{Sha256(other), other}}, 0});
  absl::SleepFor(absl::Seconds(2));
  EXPECT_EQ(Read("p"), "newest\n");
}

// A file that cannot fit the receiver's free space (less what its store
// keeps for itself) is not fetched at all (a 1 TiB file used to be fetched
// onto 75 GiB of free space): set aside, reported, and the entries behind
// it arrive.
TEST_F(FakePeerSetAsideTest, FileLargerThanTheFreeSpaceIsNotFetched) {
  absl::StatusOr<std::unique_ptr<SmallFilesystem>> fs =
      SmallFilesystem::Tmpfs(backing_, "size=24m");
  REPLFS_ASSERT_OK(fs.status());
  small_fs_ = *std::move(fs);
  std::vector<std::string> hashes;
  hashes.reserve(64);
  for (int i = 0; i < 64; ++i) hashes.push_back(Sha256(absl::StrCat("block ", i)));
  Play({{BlockFileEntry("huge", uint64_t{64} * kBlockSize, hashes, HlcFromNow())},
        {InlineFileEntry("after", "after\n", HlcFromNow())}});
  REPLFS_ASSERT_OK(replica_->Start());
  ASSERT_TRUE(WaitUntil(
      [&] { return Read("after") == "after\n" && View().set_aside_entries() == 1; },
      absl::Seconds(20)))
      << Diagnostics();
  const PeerStatus seen = View();
  EXPECT_EQ(seen.set_aside(0).path(), "huge");
  EXPECT_NE(seen.set_aside(0).reason().find("does not fit"), std::string::npos) << Diagnostics();
  EXPECT_EQ(fake_.fetch_calls(), 0) << "blocks of a file that cannot fit were fetched";
  EXPECT_FALSE(PathExists(mount_ + "/huge"));
}

}  // namespace
}  // namespace replfs::testing
