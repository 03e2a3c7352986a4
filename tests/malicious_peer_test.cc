// A hostile peer must not write outside the backing directory, reach the
// state folder, poison the clock or take a replica down (DESIGN.md,
// Replication: "Every path that arrives from the network is validated
// before it touches the disk"). Each case starts a real replfs that pulls
// from a FakePeer sending scripted batches, waits until the replica reports
// the rejection (PeerStatus.rejected_entries, its log) and the fake sees its
// stream dropped, then checks that nothing changed outside the backing
// directory nor in the tree, and that the replica still serves and still
// replicates. The last cases attack the replica's own server as a client.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "base/unique_fd.h"
#include "gmock/gmock.h"
#include "grpcpp/generic/generic_stub.h"
#include "gtest/gtest.h"
#include "replication/gzip_codec.h"
#include "storage/content_hasher.h"
#include "tests/fake_peer.h"
#include "tests/support/replica_process.h"
#include "tests/support/sanitizers.h"

namespace replfs {
namespace {

using ::testing::HasSubstr;
using testing::AdminStatus;
using testing::BatchBytes;
using testing::BlockFileEntry;
using testing::CallHello;
using testing::ChangesScript;
using testing::DirEntry;
using testing::FakePeer;
using testing::FreeLoopbackPort;
using testing::HlcFromNow;
using testing::InlineFileEntry;
using testing::PathExists;
using testing::PeerStatusFor;
using testing::ProcessAlive;
using testing::ReplicaProcess;
using testing::SymlinkEntry;
using testing::TempDir;
using testing::TombstoneEntry;
using testing::TreeListing;
using testing::WaitUntil;

#define ASSERT_OK(expr)                         \
  do {                                          \
    const absl::Status& assert_ok_ = (expr);    \
    ASSERT_TRUE(assert_ok_.ok()) << assert_ok_; \
  } while (false)

// A name nothing else on the machine uses, for files a peer tries to plant
// outside the backing directory.
const std::string& Evil() {
  static const std::string name = absl::StrCat("replfs-evil-", ::getpid());
  return name;
}

void WriteAll(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
}

// Places outside any test directory that a traversal could reach.
std::vector<std::string> AbsoluteTargets() {
  return {"/" + Evil(), "/etc/" + Evil(), "/tmp/" + Evil(),
          std::filesystem::temp_directory_path().string() + "/" + Evil()};
}

class MaliciousPeerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = std::make_unique<TempDir>("replfs-malicious");
    backing_ = root_->Sub("backing");
    mount_ = root_->Sub("mnt");
    sentinel_ = root_->Sub("sentinel");
    WriteAll(sentinel_ + "/victim", "victim content\n");
    // A tree the attacks must leave as it is.
    WriteAll(backing_ + "/keep.txt", "original\n");
    root_->Sub("backing/docs");
    WriteAll(backing_ + "/docs/readme.txt", "read me\n");
    ASSERT_OK(fake_.Start());
    absl::StatusOr<int> port = FreeLoopbackPort();
    ASSERT_OK(port.status());
    listen_ = absl::StrCat("127.0.0.1:", *port);
    for (const std::string& target : AbsoluteTargets()) {
      ASSERT_FALSE(PathExists(target)) << target << " exists before the test";
    }
  }

  void TearDown() override {
    for (const std::string& target : AbsoluteTargets()) {
      EXPECT_FALSE(PathExists(target)) << "a peer wrote " << target;
      ::unlink(target.c_str());
    }
    replica_.reset();
    root_.reset();
  }

  void StartReplica(const std::string& more_options = "") {
    replica_ = std::make_unique<ReplicaProcess>(
        backing_, mount_,
        std::vector<std::string>{"-o", absl::StrCat("listen=", listen_, ",peers=", fake_.address(),
                                                     more_options)});
    ASSERT_OK(replica_->Start());
  }

  // Everything in the test directory but the replica's internals and log
  // (and the mount, which is the backing dir again).
  std::set<std::string> WholeListing() const {
    return TreeListing(root_->path(), {"backing/.replfs", "backing.log", "mnt"});
  }
  // The test directory around the backing dir.
  std::set<std::string> OutsideListing() const {
    return TreeListing(root_->path(), {"backing", "backing.log", "mnt"});
  }
  std::set<std::string> MountListing() const { return TreeListing(mount_); }

  std::string Diagnostics() const {
    std::string out = absl::StrCat("replica log:\n", replica_ ? replica_->Log() : "(none)");
    absl::StatusOr<PeerStatus> peer = PeerStatusFor(backing_, fake_.address());
    absl::StrAppend(&out, "\npeer status: ", peer.ok() ? peer->ShortDebugString() : peer.status().ToString(),
                    "\nfake: streams opened ", fake_.streams_opened(), ", dropped ",
                    fake_.streams_dropped(), ", fetches ", fake_.fetch_calls());
    return out;
  }

  uint64_t RejectedCount() const {
    absl::StatusOr<PeerStatus> peer = PeerStatusFor(backing_, fake_.address());
    return peer.ok() ? peer->rejected_entries() : 0;
  }

  // Waits until the replica has counted at least `count` rejections of the
  // fake peer and logged `reason` (distinct per phase: messages name the
  // entry's path), and the fake saw at least `count` streams dropped.
  void ExpectRejected(uint64_t count, const std::string& reason) {
    ASSERT_TRUE(WaitUntil(
        [&] {
          return RejectedCount() >= count &&
                 replica_->Log().find(reason) != std::string::npos;
        },
        absl::Seconds(20)))
        << "the replica did not reject it (" << reason << "): " << Diagnostics();
    EXPECT_TRUE(fake_.WaitForDroppedStreams(static_cast<int>(count), absl::Seconds(10)))
        << "the stream was not dropped: " << Diagnostics();
    EXPECT_THAT(replica_->Log(), HasSubstr("rejected: "));
    EXPECT_TRUE(ProcessAlive(replica_->pid()));
  }

  // The replica still answers peers, and still applies what a peer sends.
  void ExpectStillReplicates() {
    ASSERT_TRUE(ProcessAlive(replica_->pid())) << Diagnostics();
    absl::StatusOr<HelloReply> hello = CallHello(listen_);
    EXPECT_TRUE(hello.ok()) << hello.status();
    const std::string name = absl::StrCat("after-attack-", ++valid_count_, ".txt");
    ChangesScript script;
    script.messages.push_back(
        BatchBytes({InlineFileEntry(name, "still replicating\n", HlcFromNow())}, 1000 + valid_count_));
    fake_.SetScript(script);
    EXPECT_TRUE(WaitUntil([&] { return testing::ReadWholeFile(mount_ + "/" + name) == "still replicating\n"; },
                          absl::Seconds(30)))
        << "a valid entry did not replicate after the attack: in the backing dir: '"
        << testing::ReadWholeFile(backing_ + "/" + name) << "', mount: "
        << ::testing::PrintToString(MountListing()) << Diagnostics();
    // And local writes still work.
    WriteAll(mount_ + "/local.txt", "local\n");
    EXPECT_EQ(testing::ReadWholeFile(backing_ + "/local.txt"), "local\n");
  }

  std::unique_ptr<TempDir> root_;
  std::string backing_, mount_, sentinel_, listen_;
  FakePeer fake_;
  std::unique_ptr<ReplicaProcess> replica_;
  uint64_t valid_count_ = 0;
};

// ---- Entries that must be refused, one replica each ----

struct HostileCase {
  std::string label;
  std::function<std::vector<Entry>()> batch;
  std::string logged;  // What the replica's log must say about it.
};

std::string BigName(size_t n) { return std::string(n, 'n'); }

std::vector<HostileCase> HostileCases() {
  const auto file = [](const std::string& path) {
    return [path] { return std::vector<Entry>{InlineFileEntry(path, "pwned\n", HlcFromNow())}; };
  };
  const auto tombstone = [](const std::string& path) {
    return [path] { return std::vector<Entry>{TombstoneEntry(path, HlcFromNow())}; };
  };
  const auto with = [](const std::function<void(Entry*)>& edit) {
    return [edit] {
      Entry e = InlineFileEntry("edited-" + Evil(), "x", HlcFromNow());
      edit(&e);
      return std::vector<Entry>{e};
    };
  };
  return {
      {"DotDot", file("../" + Evil()), "path component '..'"},
      {"DotDotTwice", file("../../" + Evil()), "path component '..'"},
      {"AbsoluteEtc", file("/etc/" + Evil()), "absolute path"},
      {"DotDotInside", file("a/../../" + Evil()), "path component '..'"},
      {"DotDotIntoSentinel", file("../sentinel/victim"), "path component '..'"},
      {"TombstoneOutside", tombstone("../sentinel/victim"), "path component '..'"},
      {"DirOutside", [] { return std::vector<Entry>{DirEntry("../" + Evil(), HlcFromNow())}; },
       "path component '..'"},
      {"SymlinkOutside",
       [] { return std::vector<Entry>{SymlinkEntry("../" + Evil(), "/etc", HlcFromNow())}; },
       "path component '..'"},
      {"DotComponent", file("./" + Evil()), "path component '.'"},
      {"DoubledSlash", file("a//" + Evil()), "empty path component"},
      {"TrailingSlash", file(Evil() + "/"), "empty path component"},
      {"EmptyPath", file(""), "empty path"},
      {"Nul", file(std::string("ok\0/../../", 10) + Evil()), "NUL"},
      {"LongComponent", file(BigName(300)), "NAME_MAX"},
      {"LongPath", file(BigName(200) + "/" + BigName(200) + "/" + BigName(4000)), "path longer"},
      {"StateFolderFile", file(".replfs/node_id"), "state folder"},
      {"StateFolderTombstone", tombstone(".replfs"), "state folder"},
      {"StateFolderStore", tombstone(".replfs/store/CURRENT"), "state folder"},
      {"ValidThenHostile",
       [] {
         return std::vector<Entry>{InlineFileEntry("ok-" + Evil(), "fine", HlcFromNow()),
                                   InlineFileEntry("../" + Evil(), "pwned", HlcFromNow())};
       },
       "path component '..'"},
      // (security.capability is left out, not refused: set_aside_test.)
      {"XattrWithoutNamespace", with([](Entry* e) {
         Xattr* x = e->mutable_attributes()->add_xattrs();
         x->set_name("capability");
         x->set_value(std::string(20, '\1'));
       }),
       "bad xattr"},
      {"FileTypeInMode", with([](Entry* e) { e->mutable_attributes()->set_mode(0100644); }),
       "bad mode bits"},
      {"InlineSizeLie", with([](Entry* e) { e->mutable_content()->set_size(1 << 20); }),
       "inline data does not match"},
      {"UnknownKind", with([](Entry* e) { e->mutable_content()->set_kind(static_cast<Kind>(99)); }),
       "unknown kind"},
      {"NoVersion", with([](Entry* e) { e->mutable_content()->mutable_version()->set_hlc(0); }),
       "without a content version"},
      {"BadHashLength",
       [] {
         return std::vector<Entry>{BlockFileEntry("hashes-" + Evil(), 10000,
                                                  {std::string(31, 'h')}, HlcFromNow())};
       },
       "bad hash length"},
      {"BlockCountLie",
       [] {
         return std::vector<Entry>{BlockFileEntry("count-" + Evil(), uint64_t{5} << 20,
                                                  {std::string(32, 'h')}, HlcFromNow())};
       },
       "block count"},
  };
}

class HostileEntryTest : public MaliciousPeerTest,
                         public ::testing::WithParamInterface<HostileCase> {};

TEST_P(HostileEntryTest, IsRejectedCountedAndChangesNothing) {
  const std::set<std::string> before = WholeListing();
  ChangesScript script;
  script.messages.push_back(BatchBytes(GetParam().batch()));
  fake_.SetScript(script);
  StartReplica();
  const std::set<std::string> mount_before = MountListing();
  ExpectRejected(1, GetParam().logged);
  EXPECT_EQ(WholeListing(), before);
  EXPECT_EQ(MountListing(), mount_before);
  EXPECT_EQ(testing::ReadWholeFile(sentinel_ + "/victim"), "victim content\n");
  EXPECT_FALSE(PathExists(mount_ + "/ok-" + Evil())) << "part of a rejected batch was applied";
  ExpectStillReplicates();
}

INSTANTIATE_TEST_SUITE_P(Paths, HostileEntryTest, ::testing::ValuesIn(HostileCases()),
                         [](const ::testing::TestParamInfo<HostileCase>& param_info) {
                           return param_info.param.label;
                         });

// ---- Symlinks a peer plants, then writes through ----

// A peer may replicate any symlink (it is content), but nothing may ever be
// resolved through one: an entry below it finds a non-directory ancestor,
// and by the "Parents" rule the live descendant turns it back into a
// directory inside the backing dir.
TEST_F(MaliciousPeerTest, SymlinkToRootThenEntryBelowItStaysInside) {
  const std::set<std::string> outside = OutsideListing();
  ChangesScript script;
  script.messages.push_back(BatchBytes({SymlinkEntry("d", "/", HlcFromNow())}, 1));
  script.messages.push_back(
      BatchBytes({InlineFileEntry("d/etc/" + Evil(), "pwned\n", HlcFromNow())}, 2));
  fake_.SetScript(script);
  StartReplica();
  // Wait for the second batch's outcome: applied (inside) or rejected.
  ASSERT_TRUE(WaitUntil(
      [&] {
        struct stat st;
        return RejectedCount() > 0 ||
               (::lstat((backing_ + "/d").c_str(), &st) == 0 && S_ISDIR(st.st_mode) &&
                PathExists(backing_ + "/d/etc/" + Evil()));
      },
      absl::Seconds(20)))
      << Diagnostics();
  EXPECT_FALSE(PathExists("/etc/" + Evil()));
  struct stat st;
  ASSERT_EQ(::lstat((backing_ + "/d").c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode)) << "d is still a symlink after an entry below it was applied";
  EXPECT_EQ(testing::ReadWholeFile(backing_ + "/d/etc/" + Evil()), "pwned\n");
  EXPECT_EQ(OutsideListing(), outside);
  ExpectStillReplicates();
}

TEST_F(MaliciousPeerTest, SymlinkToSentinelThenOverwriteStaysInside) {
  const std::set<std::string> outside = OutsideListing();
  ChangesScript script;
  script.messages.push_back(BatchBytes({SymlinkEntry("s", sentinel_, HlcFromNow())}, 1));
  script.messages.push_back(
      BatchBytes({InlineFileEntry("s/victim", "overwritten\n", HlcFromNow())}, 2));
  fake_.SetScript(script);
  StartReplica();
  ASSERT_TRUE(WaitUntil(
      [&] {
        struct stat st;
        return RejectedCount() > 0 ||
               (::lstat((backing_ + "/s").c_str(), &st) == 0 && S_ISDIR(st.st_mode) &&
                PathExists(backing_ + "/s/victim"));
      },
      absl::Seconds(20)))
      << Diagnostics();
  EXPECT_EQ(testing::ReadWholeFile(sentinel_ + "/victim"), "victim content\n");
  EXPECT_EQ(OutsideListing(), outside);
  ExpectStillReplicates();
}

// A tombstone below a symlink removes nothing: there is no directory there.
TEST_F(MaliciousPeerTest, SymlinkToSentinelThenTombstoneRemovesNothingOutside) {
  const std::set<std::string> outside = OutsideListing();
  ChangesScript script;
  script.messages.push_back(BatchBytes({SymlinkEntry("r", "../sentinel", HlcFromNow())}, 1));
  script.messages.push_back(BatchBytes({TombstoneEntry("r/victim", HlcFromNow())}, 2));
  fake_.SetScript(script);
  StartReplica();
  ASSERT_TRUE(WaitUntil(
      [&] {
        absl::StatusOr<PeerStatus> peer = PeerStatusFor(backing_, fake_.address());
        return peer.ok() && (peer->applied_seq() >= 2 || peer->rejected_entries() > 0);
      },
      absl::Seconds(20)))
      << Diagnostics();
  EXPECT_EQ(testing::ReadWholeFile(sentinel_ + "/victim"), "victim content\n");
  EXPECT_EQ(OutsideListing(), outside);
  struct stat st;
  ASSERT_EQ(::lstat((backing_ + "/r").c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));
  ExpectStillReplicates();
}

// A symlink to the state folder, then an entry through it: the state folder
// keeps its content (node id, store).
TEST_F(MaliciousPeerTest, SymlinkIntoStateFolderThenEntryBelowItStaysOut) {
  ChangesScript script;
  script.messages.push_back(BatchBytes({SymlinkEntry("h", ".replfs", HlcFromNow())}, 1));
  script.messages.push_back(BatchBytes({InlineFileEntry("h/node_id", "0\n", HlcFromNow())}, 2));
  fake_.SetScript(script);
  StartReplica();
  const std::string node_id = testing::ReadWholeFile(backing_ + "/.replfs/node_id");
  ASSERT_FALSE(node_id.empty());
  ASSERT_TRUE(WaitUntil(
      [&] {
        absl::StatusOr<PeerStatus> peer = PeerStatusFor(backing_, fake_.address());
        return peer.ok() && (peer->applied_seq() >= 2 || peer->rejected_entries() > 0);
      },
      absl::Seconds(20)))
      << Diagnostics();
  EXPECT_EQ(testing::ReadWholeFile(backing_ + "/.replfs/node_id"), node_id);
  struct stat st;
  ASSERT_EQ(::lstat((backing_ + "/.replfs").c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  ExpectStillReplicates();
}

// A peer whose Hello reply claims our own node id (its checkpoint would be
// ours), no node id, or another cluster is refused before any Changes.
TEST_F(MaliciousPeerTest, ImpostorHelloRepliesAreRefused) {
  fake_.SetHello("replfs", 0);
  StartReplica();
  ASSERT_TRUE(WaitUntil([&] { return RejectedCount() >= 1; }, absl::Seconds(20))) << Diagnostics();
  absl::StatusOr<ReplicaStatus> own = AdminStatus(backing_);
  ASSERT_OK(own.status());
  fake_.SetHello("replfs", own->node());
  ASSERT_TRUE(WaitUntil([&] { return RejectedCount() >= 2; }, absl::Seconds(20))) << Diagnostics();
  fake_.SetHello("another-cluster", FakePeer::kNodeId);
  ASSERT_TRUE(WaitUntil([&] { return RejectedCount() >= 3; }, absl::Seconds(20))) << Diagnostics();
  EXPECT_THAT(replica_->Log(), HasSubstr("not a peer of ours"));
  EXPECT_THAT(replica_->Log(), HasSubstr("another-cluster"));
  EXPECT_EQ(fake_.streams_opened(), 0) << "Changes was called after a bad Hello reply";
  fake_.SetHello("replfs", FakePeer::kNodeId);
  ExpectStillReplicates();
}

// ---- Hygiene ----

// What a peer says is quoted in the log cut short and escaped, and a line
// repeated at every retry is written once in a while: a hello reply with a
// 60,000-byte cluster name (and one of 16 MiB, which gRPC refuses) used to
// be logged in full, twice per attempt.
TEST_F(MaliciousPeerTest, HugeStringsFromAPeerDoNotFloodTheLog) {
  fake_.SetHello(std::string(60'000, 'c') + "\nreplfs error: forged line", FakePeer::kNodeId);
  StartReplica();
  ASSERT_TRUE(WaitUntil([&] { return RejectedCount() >= 4; }, absl::Seconds(30))) << Diagnostics();
  fake_.SetHello(std::string(16 << 20, 'C'), FakePeer::kNodeId);
  const uint64_t rejected = RejectedCount();
  const int streams = fake_.streams_opened();
  absl::SleepFor(absl::Seconds(4));  // A few more attempts (backoff: 3.2 s, 6.4 s...).
  EXPECT_EQ(fake_.streams_opened(), streams) << "Changes after a bad hello";
  const std::string log = replica_->Log();
  EXPECT_LT(log.size(), size_t{32} << 10) << log.substr(0, 4000);
  EXPECT_THAT(log, HasSubstr("... [60026 bytes]"));
  EXPECT_EQ(log.find("\nreplfs error: forged line"), std::string::npos) << "a peer wrote a log line";
  // Written once, whatever the number of attempts within the window.
  size_t lines = 0;
  for (size_t at = log.find("not a peer of ours"); at != std::string::npos;
       at = log.find("not a peer of ours", at + 1)) {
    ++lines;
  }
  EXPECT_LE(lines, 2u) << "after " << rejected << " rejections";
  fake_.SetHello("replfs", FakePeer::kNodeId);
  ExpectStillReplicates();
}

// An entry claiming a version of this replica's own node that it never
// issued (every version it issues is committed here first) is refused and
// counted; the entries behind it apply.
TEST_F(MaliciousPeerTest, VersionsOfOurOwnNodeWeNeverIssuedAreRefused) {
  StartReplica();
  absl::StatusOr<ReplicaStatus> own = AdminStatus(backing_);
  ASSERT_OK(own.status());
  Entry forged = InlineFileEntry("forged", "as if written here\n", HlcFromNow());
  forged.mutable_content()->mutable_version()->set_node(own->node());
  forged.mutable_attributes()->mutable_version()->set_node(own->node());
  Entry over_keep = InlineFileEntry("keep.txt", "overwritten\n", HlcFromNow());
  over_keep.mutable_content()->mutable_version()->set_node(own->node());
  ChangesScript script;
  script.messages.push_back(BatchBytes({forged, over_keep}, 1));
  script.messages.push_back(BatchBytes({InlineFileEntry("behind", "behind\n", HlcFromNow())}, 3));
  fake_.SetScript(script);
  ASSERT_TRUE(WaitUntil([&] { return testing::ReadWholeFile(mount_ + "/behind") == "behind\n"; },
                        absl::Seconds(20)))
      << Diagnostics();
  EXPECT_FALSE(PathExists(mount_ + "/forged"));
  EXPECT_EQ(testing::ReadWholeFile(mount_ + "/keep.txt"), "original\n");
  EXPECT_GE(RejectedCount(), 2u) << Diagnostics();
  EXPECT_THAT(replica_->Log(), HasSubstr("claims a version of this replica it never issued"));
}

// A peer cannot plant a setuid or setgid file in the backing directory
// (which, unlike the mount, is not nosuid): the bits are left off and that
// is logged, unless the replica is told -o allow_setuid.
TEST_F(MaliciousPeerTest, SetIdBitsOfFilesFromPeersAreLeftOff) {
  Entry setuid = InlineFileEntry("setuid", "#!/bin/sh\n", HlcFromNow());
  setuid.mutable_attributes()->set_mode(04755);
  Entry setgid = InlineFileEntry("setgid", "#!/bin/sh\n", HlcFromNow());
  setgid.mutable_attributes()->set_mode(02755);
  Entry shared_dir = DirEntry("shared", HlcFromNow());
  shared_dir.mutable_attributes()->set_mode(02775);  // A setgid directory is fine.
  ChangesScript script;
  script.messages.push_back(BatchBytes({setuid, setgid, shared_dir}));
  fake_.SetScript(script);
  StartReplica();
  auto mode_of = [&](const std::string& name) -> mode_t {
    struct stat st;
    return ::lstat((backing_ + "/" + name).c_str(), &st) == 0 ? st.st_mode & 07777 : 0;
  };
  ASSERT_TRUE(WaitUntil([&] { return mode_of("setuid") != 0 && mode_of("setgid") != 0; },
                        absl::Seconds(20)))
      << Diagnostics();
  EXPECT_EQ(mode_of("setuid"), 0755u);
  EXPECT_EQ(mode_of("setgid"), 0755u);
  EXPECT_EQ(mode_of("shared"), 02775u);
  EXPECT_THAT(replica_->Log(), HasSubstr("setuid/setgid bits left off"));

  // Told to keep them, the replica does.
  replica_.reset();
  Entry allowed = InlineFileEntry("allowed", "#!/bin/sh\n", HlcFromNow());
  allowed.mutable_attributes()->set_mode(04755);
  script.messages = {BatchBytes({allowed}, 10)};
  fake_.SetScript(script);
  StartReplica(",allow_setuid");
  ASSERT_TRUE(WaitUntil([&] { return mode_of("allowed") != 0; }, absl::Seconds(20)))
      << Diagnostics();
  EXPECT_EQ(mode_of("allowed"), 04755u);
}

// ---- Clock ----

TEST_F(MaliciousPeerTest, FarFutureVersionsAreRejectedAndDoNotMoveTheClock) {
  const std::set<std::string> before = WholeListing();
  ChangesScript script;
  script.messages.push_back(
      BatchBytes({InlineFileEntry("future-" + Evil(), "x", HlcFromNow(absl::Seconds(120)))}));
  fake_.SetScript(script);
  StartReplica();
  ExpectRejected(1, absl::StrCat("apply future-", Evil(), ": timestamp is"));
  // Content now, attributes far ahead.
  Entry attributes_ahead = InlineFileEntry("future-attr-" + Evil(), "x", HlcFromNow());
  attributes_ahead.mutable_attributes()->mutable_version()->set_hlc(HlcFromNow(absl::Hours(24 * 365)));
  script.messages = {BatchBytes({attributes_ahead})};
  fake_.SetScript(script);
  ExpectRejected(2, absl::StrCat("apply future-attr-", Evil(), ": timestamp is"));
  EXPECT_EQ(WholeListing(), before);
  // The replica's clock did not follow the refused timestamps.
  absl::StatusOr<HelloReply> hello = CallHello(listen_);
  ASSERT_TRUE(hello.ok()) << hello.status();
  EXPECT_LT(hello->hlc(), HlcFromNow(absl::Seconds(10)));
  ExpectStillReplicates();
}

// ---- Seqs ----

// A checkpoint moves only to a seq the feed could have reached and really
// covered: an entry at seq 2^64-1 (which used to move the checkpoint to
// the end of time, after which the peer's real log was never pulled
// again), a through_seq there, and seqs out of order are refused, and the
// replica keeps pulling from where it really is.
TEST_F(MaliciousPeerTest, SeqsTheFeedCannotHaveReachedDoNotMoveTheCheckpoint) {
  constexpr uint64_t kEndOfTime = std::numeric_limits<uint64_t>::max();
  ChangesScript script;
  script.messages.push_back(BatchBytes({InlineFileEntry("at-5", "five\n", HlcFromNow())}, 5));
  fake_.SetScript(script);
  StartReplica();
  ASSERT_TRUE(WaitUntil([&] { return testing::ReadWholeFile(mount_ + "/at-5") == "five\n"; },
                        absl::Seconds(20)))
      << Diagnostics();
  const std::set<std::string> before = WholeListing();

  script.messages = {BatchBytes({InlineFileEntry("end-of-time", "x", HlcFromNow())}, kEndOfTime)};
  fake_.SetScript(script);
  ExpectRejected(1, "beyond what the peer can have reached");
  ChangeBatch skip_to_the_end;
  skip_to_the_end.set_head_seq(kEndOfTime);
  skip_to_the_end.set_through_seq(kEndOfTime);
  script.messages = {skip_to_the_end.SerializeAsString()};
  fake_.SetScript(script);
  ExpectRejected(2, "feed announces head seq 18446744073709551615");
  ChangeBatch backwards;
  for (uint64_t seq : {uint64_t{20}, uint64_t{10}}) {
    Entry* e = backwards.add_entries();
    *e = InlineFileEntry(absl::StrCat("backwards-", seq), "x", HlcFromNow());
    e->set_seq(seq);
  }
  backwards.set_head_seq(20);
  script.messages = {backwards.SerializeAsString()};
  fake_.SetScript(script);
  ExpectRejected(3, "at seq 10 does not follow seq 20");
  EXPECT_EQ(WholeListing(), before);

  // The next session asks from the real checkpoint.
  const int streams = fake_.streams_opened();
  script.messages.clear();
  fake_.SetScript(script);
  ASSERT_TRUE(WaitUntil([&] { return fake_.streams_opened() > streams; }, absl::Seconds(20)))
      << Diagnostics();
  EXPECT_EQ(fake_.last_since(), 5u);
  ExpectStillReplicates();
}

// ---- Blocks that do not match their hashes ----

TEST_F(MaliciousPeerTest, BlocksThatDoNotMatchTheirHashesAreRejected) {
  std::mt19937_64 rng(7);
  std::string first(kBlockSize, '\0'), second(kBlockSize / 2, '\0');
  for (char& c : first) c = static_cast<char>(rng());
  for (char& c : second) c = static_cast<char>(rng());
  const std::vector<std::string> hashes = {Sha256(first), Sha256(second)};
  const auto script_for = [&](const std::string& path) {
    ChangesScript script;
    script.messages.push_back(
        BatchBytes({BlockFileEntry(path, first.size() + second.size(), hashes, HlcFromNow())}));
    return script;
  };
  const std::set<std::string> before = WholeListing();
  // Wrong bytes of the right length.
  std::string wrong = first;
  wrong[12345] ^= 1;
  fake_.SetBlocks({{{hashes[0], wrong}, {hashes[1], second}}, 0});
  fake_.SetScript(script_for("wrong-bytes"));
  StartReplica();
  ExpectRejected(1, "apply wrong-bytes: block content does not match its hash");
  // Right bytes, truncated.
  fake_.SetBlocks({{{hashes[0], first.substr(0, 1000)}, {hashes[1], second}}, 0});
  fake_.SetScript(script_for("short-block"));
  ExpectRejected(2, "apply short-block: block content does not match its hash");
  // Right blocks, plus ones nobody asked for.
  fake_.SetBlocks({{{hashes[0], first}, {hashes[1], second}}, 3});
  fake_.SetScript(script_for("extra-blocks"));
  ExpectRejected(3, "apply extra-blocks: peer sent extra blocks");
  EXPECT_EQ(WholeListing(), before);
  // No half-built temp file is left behind.
  EXPECT_TRUE(TreeListing(backing_ + "/.replfs/tmp").empty())
      << ::testing::PrintToString(TreeListing(backing_ + "/.replfs/tmp"));
  // An honest peer's blocks are accepted.
  fake_.SetBlocks({{{hashes[0], first}, {hashes[1], second}}, 0});
  fake_.SetScript(script_for("honest-blocks"));
  EXPECT_TRUE(WaitUntil([&] { return testing::ReadWholeFile(mount_ + "/honest-blocks") == first + second; },
                        absl::Seconds(30)))
      << Diagnostics();
  ExpectStillReplicates();
}

// ---- Messages that are not ChangeBatches ----

// Above the largest batch an honest feed sends (kMaxBatchMessageBytes), and
// above what the feed's connection may buffer at all (kFeedBufferBytes).
TEST_F(MaliciousPeerTest, OversizedBatchIsDropped) {
  Entry huge = InlineFileEntry("huge-" + Evil(), "", HlcFromNow());
  huge.mutable_content()->set_inline_data(std::string(30 << 20, 'h'));
  ChangesScript script;
  script.messages.push_back(BatchBytes({huge}));
  fake_.SetScript(script);
  const std::set<std::string> before = WholeListing();
  StartReplica();
  ExpectRejected(1, "message larger than max");
  huge.mutable_content()->set_inline_data(std::string((64 << 20) + 1024, 'h'));
  script.messages = {BatchBytes({huge})};
  fake_.SetScript(script);
  ExpectRejected(2, "Buffers full");
  EXPECT_EQ(WholeListing(), before);
  ExpectStillReplicates();
}

TEST_F(MaliciousPeerTest, TruncatedBatchIsDropped) {
  const std::string valid =
      BatchBytes({InlineFileEntry("truncated-" + Evil(), std::string(200, 't'), HlcFromNow())});
  ChangesScript script;
  script.messages.push_back(valid.substr(0, valid.size() / 2));
  fake_.SetScript(script);
  const std::set<std::string> before = WholeListing();
  StartReplica();
  ExpectRejected(1, "parse");
  EXPECT_EQ(WholeListing(), before);
  EXPECT_FALSE(PathExists(mount_ + "/truncated-" + Evil()));
  ExpectStillReplicates();
}

TEST_F(MaliciousPeerTest, GarbageBatchIsDropped) {
  ChangesScript script;
  script.messages.push_back(std::string(64, '\xff'));
  fake_.SetScript(script);
  const std::set<std::string> before = WholeListing();
  StartReplica();
  ExpectRejected(1, "parse");
  EXPECT_EQ(WholeListing(), before);
  ExpectStillReplicates();
}

// Gzipped entries (-o compression=gzip) are held to what a plain batch may
// be: a small message that inflates past kMaxBatchMessageBytes, and one
// with its entries both plain and gzipped, are refused before anything of
// them is parsed or applied.
TEST_F(MaliciousPeerTest, GzipBombBatchIsDropped) {
  ChangeBatch bomb_entries;
  Entry* huge = bomb_entries.add_entries();
  *huge = InlineFileEntry("bomb-" + Evil(), "", HlcFromNow());
  huge->mutable_content()->set_inline_data(std::string(30 << 20, 'z'));
  std::optional<std::string> gzipped = GzipIfSmaller(bomb_entries.SerializeAsString());
  ASSERT_TRUE(gzipped.has_value());
  ASSERT_LT(gzipped->size(), size_t{1} << 20);
  ChangeBatch bomb;
  bomb.set_gzipped_entries(*gzipped);
  bomb.set_through_seq(1);
  bomb.set_head_seq(1);
  ChangesScript script;
  script.messages.push_back(bomb.SerializeAsString());
  fake_.SetScript(script);
  const std::set<std::string> before = WholeListing();
  StartReplica();
  ExpectRejected(1, "inflates to more than");

  ChangeBatch both;
  *both.add_entries() = InlineFileEntry("both-" + Evil(), "plain\n", HlcFromNow());
  both.set_gzipped_entries(*gzipped);
  both.set_through_seq(1);
  both.set_head_seq(1);
  script.messages = {both.SerializeAsString()};
  fake_.SetScript(script);
  ExpectRejected(2, "both plain and gzipped");
  EXPECT_EQ(WholeListing(), before);
  EXPECT_FALSE(PathExists(mount_ + "/bomb-" + Evil()));
  EXPECT_FALSE(PathExists(mount_ + "/both-" + Evil()));
  ExpectStillReplicates();
}

// A "peer" that answers every connection with random bytes (no HTTP/2 at
// all): the replica keeps retrying, reports it, and keeps working.
TEST_F(MaliciousPeerTest, GarbageSpeakingPeerDoesNotHurtTheReplica) {
  UniqueFd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  ASSERT_TRUE(listener.valid());
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(::listen(listener.get(), 16), 0);
  socklen_t length = sizeof(addr);
  ASSERT_EQ(::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&addr), &length), 0);
  const std::string garbage_address = absl::StrCat("127.0.0.1:", ntohs(addr.sin_port));
  std::atomic<bool> stop{false};
  std::atomic<int> connections{0};
  std::thread server([&] {
    std::mt19937 rng(3);
    while (!stop) {
      pollfd p{listener.get(), POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      UniqueFd client(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (!client.valid()) continue;
      ++connections;
      std::string noise(4096, '\0');
      for (char& c : noise) c = static_cast<char>(rng());
      (void)!::send(client.get(), noise.data(), noise.size(), MSG_NOSIGNAL);
    }
  });
  replica_ = std::make_unique<ReplicaProcess>(
      backing_, mount_,
      std::vector<std::string>{
          "-o", absl::StrCat("listen=", listen_, ",peers=", garbage_address, ";", fake_.address())});
  const absl::Status started = replica_->Start();
  EXPECT_TRUE(started.ok()) << started;
  if (started.ok()) {
    EXPECT_TRUE(WaitUntil([&] { return connections >= 2; }, absl::Seconds(20)));
    absl::StatusOr<PeerStatus> peer = PeerStatusFor(backing_, garbage_address);
    ASSERT_TRUE(peer.ok()) << peer.status();
    EXPECT_NE(peer->state(), "connected");
    EXPECT_FALSE(peer->last_error().empty());
    ExpectStillReplicates();
  }
  stop = true;
  server.join();
}

// ---- Hostile clients of the replica's own server ----

// Writes `bytes` to a fresh TCP connection to `port` and closes it.
void SendRaw(int port, const std::string& bytes) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  ASSERT_TRUE(fd.valid());
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  ASSERT_EQ(::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  (void)!::send(fd.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL);
  // Read whatever comes back (a GOAWAY) for a moment, then hang up.
  pollfd p{fd.get(), POLLIN, 0};
  if (::poll(&p, 1, 200) > 0) {
    char sink[4096];
    (void)!::recv(fd.get(), sink, sizeof(sink), MSG_DONTWAIT);
  }
}

std::unique_ptr<Replication::Stub> PlainStub(const std::string& address) {
  grpc::ChannelArguments args;
  args.SetMaxSendMessageSize(-1);
  args.SetMaxReceiveMessageSize(-1);
  return Replication::NewStub(
      grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args));
}

// The highest resident set size `pid` has had (VmHWM), in bytes.
uint64_t PeakRssBytes(pid_t pid) {
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(status, line)) {
    if (line.starts_with("VmHWM:")) return std::stoull(line.substr(6)) << 10;
  }
  return 0;
}

// gRPC checks a request's size only once all of it is in: a client sending
// a 300 MiB request used to have it buffered whole. The server's memory
// quota cancels it first ("Buffers full"), and the replica still serves.
TEST_F(MaliciousPeerTest, HugeRequestsDoNotBloatTheReplica) {
  StartReplica();
  std::unique_ptr<Replication::Stub> stub = PlainStub(listen_);
  for (int attempt = 0; attempt < 2; ++attempt) {
    FetchBlocksRequest request;
    request.add_hashes(std::string(size_t{300} << 20, 'h'));
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    auto reader = stub->FetchBlocks(&context, request);
    Block block;
    while (reader->Read(&block)) {
    }
    const grpc::Status status = reader->Finish();
    EXPECT_FALSE(status.ok());
  }
  const uint64_t peak = PeakRssBytes(replica_->pid());
  std::printf("peak RSS of the replica: %.1f MiB\n", static_cast<double>(peak) / (1 << 20));
  if (!testing::kAddressSanitizer) {  // Its shadow memory multiplies RSS.
    EXPECT_LT(peak, uint64_t{128} << 20);
  }
  absl::StatusOr<HelloReply> hello = CallHello(listen_);
  EXPECT_TRUE(hello.ok()) << hello.status();
  ExpectStillReplicates();
}

TEST_F(MaliciousPeerTest, ReplicaSurvivesHostileClients) {
  StartReplica();
  const int port = std::stoi(listen_.substr(listen_.rfind(':') + 1));
  absl::StatusOr<ReplicaStatus> own = AdminStatus(backing_);
  ASSERT_TRUE(own.ok()) << own.status();

  // Bytes that are no HTTP/2; a valid preface followed by garbage frames; a
  // frame header announcing 16 MiB that never comes.
  std::mt19937 rng(11);
  for (int i = 0; i < 10; ++i) {
    std::string noise(1 + rng() % 8192, '\0');
    for (char& c : noise) c = static_cast<char>(rng());
    SendRaw(port, noise);
  }
  const std::string preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
  SendRaw(port, preface + std::string(100, '\xee'));
  SendRaw(port, preface + std::string("\xff\xff\xff\x00\x00\x00\x00\x00\x01", 9));
  SendRaw(port, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");

  std::unique_ptr<Replication::Stub> stub = PlainStub(listen_);
  const auto deadline = [] { return std::chrono::system_clock::now() + std::chrono::seconds(5); };
  {  // 1000 hashes in one request.
    FetchBlocksRequest request;
    for (int i = 0; i < 1000; ++i) request.add_hashes(std::string(kSha256Size, static_cast<char>(i)));
    grpc::ClientContext context;
    context.set_deadline(deadline());
    auto reader = stub->FetchBlocks(&context, request);
    Block block;
    int blocks = 0;
    while (reader->Read(&block)) ++blocks;
    const grpc::Status s = reader->Finish();
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
    EXPECT_EQ(blocks, 0);
  }
  {  // Hashes of every wrong length, and unknown ones: found=false each.
    FetchBlocksRequest request;
    for (size_t n : {size_t{0}, size_t{1}, size_t{31}, size_t{33}, size_t{4096}}) {
      request.add_hashes(std::string(n, 'h'));
    }
    request.add_hashes(std::string(kSha256Size, 'u'));
    grpc::ClientContext context;
    context.set_deadline(deadline());
    auto reader = stub->FetchBlocks(&context, request);
    Block block;
    int blocks = 0;
    while (reader->Read(&block)) {
      ++blocks;
      EXPECT_FALSE(block.found());
      EXPECT_TRUE(block.data().empty());
    }
    EXPECT_TRUE(reader->Finish().ok());
    EXPECT_EQ(blocks, request.hashes_size());
  }
  {  // A request above the replica's 64 MiB limit.
    FetchBlocksRequest request;
    request.add_hashes(std::string((64 << 20) + 16, 'o'));
    grpc::ClientContext context;
    context.set_deadline(deadline());
    auto reader = stub->FetchBlocks(&context, request);
    Block block;
    while (reader->Read(&block)) {
    }
    EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  }
  // Changes from beyond the log's end: nothing is replayed (the seeded
  // files are in the log, so an overflow to 0 would replay them).
  for (uint64_t since : {std::numeric_limits<uint64_t>::max(), uint64_t{1} << 62}) {
    ChangesRequest request;
    request.set_since(since);
    request.set_node(0x7E57);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(2500));
    auto reader = stub->Changes(&context, request);
    ChangeBatch batch;
    int entries = 0;
    int batches = 0;
    while (reader->Read(&batch)) {
      ++batches;
      entries += batch.entries_size();
    }
    EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
    EXPECT_EQ(entries, 0) << "since=" << since;
    EXPECT_GE(batches, 1) << "no heartbeat in 2.5 s";
  }
  {  // Hello: another cluster, another protocol, our own node id.
    HelloRequest request;
    request.set_protocol_version(PROTOCOL_VERSION_CURRENT);
    request.set_cluster("other");
    request.set_node(0x7E57);
    HelloReply reply;
    grpc::ClientContext c1;
    c1.set_deadline(deadline());
    EXPECT_EQ(stub->Hello(&c1, request, &reply).error_code(), grpc::StatusCode::PERMISSION_DENIED);
    request.set_cluster("replfs");
    request.set_protocol_version(77);
    grpc::ClientContext c2;
    c2.set_deadline(deadline());
    EXPECT_EQ(stub->Hello(&c2, request, &reply).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
    request.set_protocol_version(PROTOCOL_VERSION_CURRENT);
    request.set_node(own->node());
    grpc::ClientContext c3;
    c3.set_deadline(deadline());
    EXPECT_EQ(stub->Hello(&c3, request, &reply).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  }
  {  // A request that is no protobuf.
    grpc::GenericStub generic(
        grpc::CreateChannel(listen_, grpc::InsecureChannelCredentials()));
    grpc::Slice slice(std::string(64, '\xff'));
    grpc::ByteBuffer request(&slice, 1);
    grpc::ByteBuffer response;
    grpc::ClientContext context;
    context.set_deadline(deadline());
    absl::Notification done;
    grpc::Status status;
    generic.UnaryCall(&context, "/replfs.Replication/Hello", grpc::StubOptions(), &request,
                      &response, [&](grpc::Status s) {
                        status = std::move(s);
                        done.Notify();
                      });
    ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(10)));
    EXPECT_FALSE(status.ok());
  }

  // Still up, still serving, still a working mount.
  ASSERT_TRUE(ProcessAlive(replica_->pid())) << Diagnostics();
  absl::StatusOr<HelloReply> hello = CallHello(listen_);
  EXPECT_TRUE(hello.ok()) << hello.status();
  // A legitimate second replica pulls the whole tree from it.
  const std::string backing2 = root_->Sub("backing2");
  const std::string mount2 = root_->Sub("mnt2");
  ReplicaProcess second(backing2, mount2, {"-o", absl::StrCat("peers=", listen_)});
  ASSERT_OK(second.Start());
  EXPECT_TRUE(WaitUntil(
      [&] {
        return testing::ReadWholeFile(mount2 + "/docs/readme.txt") == "read me\n" &&
               testing::ReadWholeFile(mount2 + "/keep.txt") == "original\n";
      },
      absl::Seconds(30)))
      << "a legitimate peer could not replicate: " << second.Log();
  EXPECT_TRUE(second.Stop().ok());
  ExpectStillReplicates();
}

}  // namespace
}  // namespace replfs
