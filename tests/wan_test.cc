// Replication across a WAN: a centre and two datacentres of two replicas,
// each replica in its own network namespace, datacentres joined only
// through relays that delay (40 ms, jitter 5 ms), stall now and then, and
// are rate limited (tests/wan_bed.h).
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/cluster.h"
#include "tests/netns.h"
#include "tests/wan_bed.h"

namespace replfs::testing {
namespace {

constexpr absl::Duration kDelay = absl::Milliseconds(40);
constexpr absl::Duration kJitter = absl::Milliseconds(5);
constexpr absl::Duration kConverge = absl::Seconds(60);
const Site kCentre{0, 0};
const Site kHub1{1, 0}, kSpoke1{1, 1};
const Site kHub2{2, 0}, kSpoke2{2, 1};

WanBedOptions CiBed(std::vector<std::string> extra_args = {}) {
  WanBedOptions options;
  options.datacentres = 2;
  options.servers = 2;
  options.link.delay = kDelay;
  options.link.jitter = kJitter;
  options.link.stall_every = absl::Seconds(3);
  options.rate_mbit = 100;
  options.extra_args = std::move(extra_args);
  return options;
}

void ExpectEverywhere(WanBed& bed, const std::string& path, const std::string& content) {
  for (const Site& site : bed.Sites()) {
    absl::StatusOr<std::string> got = ReadFile(bed.Mount(site, path));
    ASSERT_TRUE(got.ok()) << site.Name() << ": " << got.status();
    EXPECT_EQ(*got, content) << site.Name() << " " << path;
  }
}

void ExpectNowhere(WanBed& bed, const std::string& path) {
  for (const Site& site : bed.Sites()) {
    EXPECT_FALSE(PathExists(bed.Mount(site, path))) << path << " is back on " << site.Name();
  }
}

uint64_t Tombstones(const WanBed& bed, const Site& site) {
  absl::StatusOr<ReplicaStatus> status = AdminStatus(bed.replica(site));
  EXPECT_TRUE(status.ok()) << site.Name() << ": " << status.status();
  return status.ok() ? status->tombstones() : 0;
}

// What a bed left when its process was killed mid-test (no destructor ran:
// SIGKILL, a CTest run stopped) is removed by the next bed's Up(); a live
// process's bed is not touched.
TEST(WanTest, NextBedRemovesWhatAKilledProcessesBedLeft) {
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) ::_exit(0);
  ASSERT_EQ(::waitpid(child, nullptr, 0), child);
  const std::string dead = absl::StrCat(WanBed::kPrefixRoot, child, "n0");
  const std::string live = absl::StrCat(WanBed::kPrefixRoot, ::getppid(), "n7");
  const std::vector<std::string> names = {dead + "-core", dead + "-d1s0", live + "-core"};
  std::string dead_dir = (std::filesystem::temp_directory_path() / (dead + "-XXXXXX")).string();
  // Removed whatever the test's outcome, like a bed's own teardown.
  struct Leftovers {
    std::vector<std::string> names;
    std::string dir;
    ~Leftovers() {
      for (const std::string& name : names) DeleteNamespace(name);
      std::error_code ignored;
      std::filesystem::remove_all(dir, ignored);
    }
  } leftovers{names, ""};
  for (const std::string& name : names) {
    absl::StatusOr<std::string> added = RunTool({"ip", "netns", "add", name});
    ASSERT_TRUE(added.ok()) << name << ": " << added.status();
  }
  ASSERT_NE(::mkdtemp(dead_dir.data()), nullptr);
  leftovers.dir = dead_dir;
  ASSERT_TRUE(WriteFile(dead_dir + "/left", "x").ok());

  WanBedOptions options;
  options.datacentres = 1;
  options.servers = 1;
  WanBed bed(options);
  REPLFS_ASSERT_OK(bed.Up());
  EXPECT_TRUE(NamespacesWithPrefix(dead).empty());
  EXPECT_FALSE(PathExists(dead_dir));
  EXPECT_EQ(NamespacesWithPrefix(live), std::vector<std::string>{live + "-core"});
}

// (a) Writes on a spoke of each datacentre reach every replica; the first
// one crossed two relayed links, so it took at least two link delays.
TEST(WanTest, WritesOnSpokesOfBothDatacentresConvergeEverywhere) {
  WanBed bed(CiBed());
  REPLFS_ASSERT_OK(bed.Up());
  REPLFS_ASSERT_OK(WriteFile(bed.Mount(kSpoke1, "first"), "from dc1"));
  const absl::Time written = absl::Now();
  ASSERT_TRUE(WaitUntil([&] { return PathExists(bed.Mount(kSpoke2, "first")); }, kConverge,
                        absl::Milliseconds(5)))
      << bed.Diagnostics();
  const absl::Duration propagation = absl::Now() - written;
  // dc1-s1 -> dc1-hub (bridge) -> relay -> centre -> relay -> dc2-hub -> dc2-s1.
  EXPECT_GE(propagation, 2 * (kDelay - kJitter));

  ASSERT_EQ(::mkdir(bed.Mount(kSpoke1, "dc1").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir(bed.Mount(kSpoke2, "dc2").c_str(), 0755), 0);
  for (int i = 0; i < 20; ++i) {
    REPLFS_ASSERT_OK(WriteFile(bed.Mount(kSpoke1, absl::StrCat("dc1/f", i)), absl::StrCat("one ", i)));
    REPLFS_ASSERT_OK(WriteFile(bed.Mount(kSpoke2, absl::StrCat("dc2/f", i)), absl::StrCat("two ", i)));
  }
  REPLFS_ASSERT_OK(bed.WaitForConvergence(kConverge));
  ExpectEverywhere(bed, "first", "from dc1");
  ExpectEverywhere(bed, "dc1/f19", "one 19");
  ExpectEverywhere(bed, "dc2/f19", "two 19");
  EXPECT_GT(bed.LinkBytes(1), 0u);
  EXPECT_GT(bed.LinkBytes(2), 0u);
  std::printf("first write dc1-s1 -> dc2-s1 in %s\n", absl::FormatDuration(propagation).c_str());
}

// (b) Datacentre 2 is cut off while both sides write and delete. While
// cut, nothing of the other side reaches it; after the heal everything
// converges: no acknowledged write lost, no deleted file back.
TEST(WanTest, DatacentreCutOffConvergesAfterHeal) {
  constexpr int kFiles = 10;
  WanBed bed(CiBed());
  REPLFS_ASSERT_OK(bed.Up());
  for (const char* dir : {"keep", "doomed", "cut"}) ASSERT_EQ(::mkdir(bed.Mount(kCentre, dir).c_str(), 0755), 0);
  for (int i = 0; i < kFiles; ++i) {
    REPLFS_ASSERT_OK(WriteFile(bed.Mount(kCentre, absl::StrCat("keep/k", i)), absl::StrCat("keep ", i)));
    REPLFS_ASSERT_OK(WriteFile(bed.Mount(kCentre, absl::StrCat("doomed/d", i)), "doomed"));
  }
  REPLFS_ASSERT_OK(bed.WaitForConvergence(kConverge));

  bed.CutDatacentre(2);
  // Each side writes its own files and deletes half of the doomed ones.
  for (int i = 0; i < kFiles; ++i) {
    REPLFS_ASSERT_OK(WriteFile(bed.Mount(kSpoke1, absl::StrCat("cut/one", i)), absl::StrCat("one ", i)));
    REPLFS_ASSERT_OK(WriteFile(bed.Mount(kSpoke2, absl::StrCat("cut/two", i)), absl::StrCat("two ", i)));
  }
  for (int i = 0; i < kFiles; ++i) {
    const Site& deleter = i % 2 == 0 ? kSpoke1 : kSpoke2;
    ASSERT_EQ(::unlink(bed.Mount(deleter, absl::StrCat("doomed/d", i)).c_str()), 0) << i;
  }
  ASSERT_EQ(::unlink(bed.Mount(kHub2, "keep/k0").c_str()), 0);
  // The connected side converges; the cut one sees none of it.
  REPLFS_ASSERT_OK(bed.WaitForConvergence(kConverge, {kCentre, kHub1, kSpoke1}));
  REPLFS_ASSERT_OK(bed.WaitForConvergence(kConverge, {kHub2, kSpoke2}));
  EXPECT_FALSE(PathExists(bed.Mount(kHub2, "cut/one0")));
  EXPECT_TRUE(PathExists(bed.Mount(kHub2, "doomed/d0")));
  EXPECT_TRUE(PathExists(bed.Mount(kCentre, "keep/k0")));

  bed.HealDatacentre(2);
  REPLFS_ASSERT_OK(bed.WaitForConvergence(kConverge));
  for (int i = 0; i < kFiles; ++i) {
    ExpectEverywhere(bed, absl::StrCat("cut/one", i), absl::StrCat("one ", i));
    ExpectEverywhere(bed, absl::StrCat("cut/two", i), absl::StrCat("two ", i));
    ExpectNowhere(bed, absl::StrCat("doomed/d", i));
    if (i > 0) ExpectEverywhere(bed, absl::StrCat("keep/k", i), absl::StrCat("keep ", i));
  }
  ExpectNowhere(bed, "keep/k0");
}

// Writes numbered files under `dir` of one mount until told to stop or it
// fails (its replica died); remembers those whose close returned.
class BurstWriter {
 public:
  BurstWriter(std::string dir, int max_files) : dir_(std::move(dir)), max_files_(max_files) {
    thread_ = std::thread([this] { Run(); });
  }
  ~BurstWriter() { Finish(); }
  BurstWriter(const BurstWriter&) = delete;
  BurstWriter& operator=(const BurstWriter&) = delete;
  void Finish() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  int acknowledged() const { return acknowledged_; }
  static std::string Content(int i) { return std::string(static_cast<size_t>(1000 + i), static_cast<char>('a' + i % 26)); }

 private:
  void Run() {
    for (int i = 0; i < max_files_ && !stop_; ++i) {
      if (!WriteFile(absl::StrCat(dir_, "/f", i), Content(i)).ok()) return;
      ++acknowledged_;
    }
  }
  std::string dir_;
  int max_files_;
  std::atomic<bool> stop_{false};
  std::atomic<int> acknowledged_{0};
  std::thread thread_;
};

// (c) Power outage: every replica of datacentre 1 SIGKILLed at once while
// it and the centre write; the centre goes on taking writes while the
// datacentre is dark. Restarted, it recovers and everything converges with
// every acknowledged file, from either side.
TEST(WanTest, PowerOutageOfADatacentreMidBurstRecovers) {
  // More than a writer gets through before the outage (a file takes a
  // fraction of a millisecond): the outage cuts dc1's burst and Finish
  // the centre's, never the end of the count.
  constexpr int kMaxFiles = 20000;
  constexpr int kWrittenWhileDark = 30;
  WanBed bed(CiBed());
  REPLFS_ASSERT_OK(bed.Up());
  ASSERT_EQ(::mkdir(bed.Mount(kCentre, "centre").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir(bed.Mount(kSpoke1, "dc1").c_str(), 0755), 0);
  BurstWriter centre(bed.Mount(kCentre, "centre"), kMaxFiles);
  BurstWriter dc1(bed.Mount(kSpoke1, "dc1"), kMaxFiles);
  ASSERT_TRUE(WaitUntil([&] { return dc1.acknowledged() >= 30; }, absl::Seconds(30)));
  bed.KillDatacentre(1);
  dc1.Finish();
  centre.Finish();
  ASSERT_LT(dc1.acknowledged(), kMaxFiles) << "the outage came after the burst";
  ASSERT_LT(centre.acknowledged(), kMaxFiles) << "the centre's burst ended before the outage";
  for (int i = 0; i < kWrittenWhileDark; ++i) {
    REPLFS_ASSERT_OK(WriteFile(bed.Mount(kCentre, absl::StrCat("centre/dark", i)),
                               BurstWriter::Content(i)));
  }

  REPLFS_ASSERT_OK(bed.StartDatacentre(1));
  REPLFS_ASSERT_OK(bed.WaitForConvergence(kConverge));
  for (int i = 0; i < centre.acknowledged(); ++i) {
    ExpectEverywhere(bed, absl::StrCat("centre/f", i), BurstWriter::Content(i));
  }
  for (int i = 0; i < kWrittenWhileDark; ++i) {
    ExpectEverywhere(bed, absl::StrCat("centre/dark", i), BurstWriter::Content(i));
  }
  for (int i = 0; i < dc1.acknowledged(); ++i) {
    ExpectEverywhere(bed, absl::StrCat("dc1/f", i), BurstWriter::Content(i));
  }
  std::printf("acknowledged: centre %d, dc1 %d before the outage\n", centre.acknowledged(),
              dc1.acknowledged());
}

// (d) A spoke of datacentre 1 is away longer than tombstone_grace while the
// centre deletes files. The centre and datacentre 2 purge their tombstones;
// datacentre 1's hub keeps them for its spoke, which, back, removes the
// files instead of serving (or spreading) them again.
TEST(WanTest, SpokeAwayPastTheTombstoneGraceResurrectsNothing) {
  constexpr int kFiles = 20;
  WanBed bed(CiBed({"-o", "tombstone_grace=1"}));
  REPLFS_ASSERT_OK(bed.Up());
  ASSERT_EQ(::mkdir(bed.Mount(kCentre, "site").c_str(), 0755), 0);
  for (int f = 0; f < kFiles; ++f) {
    REPLFS_ASSERT_OK(WriteFile(bed.Mount(kCentre, absl::StrCat("site/page", f)), "page"));
  }
  REPLFS_ASSERT_OK(bed.WaitForConvergence(kConverge));
  REPLFS_ASSERT_OK(bed.Stop(kSpoke1));
  const absl::Time away = absl::Now();

  for (int f = 0; f < kFiles; ++f) {
    ASSERT_EQ(::unlink(bed.Mount(kCentre, absl::StrCat("site/page", f)).c_str()), 0);
  }
  REPLFS_ASSERT_OK(bed.WaitForConvergence(kConverge));  // Everyone but the spoke.
  // Past the grace, whoever has no absent puller purges.
  ASSERT_TRUE(WaitUntil([&] { return Tombstones(bed, kCentre) == 0 && Tombstones(bed, kHub2) == 0; },
                        absl::Seconds(30)))
      << bed.Diagnostics();
  EXPECT_GE(Tombstones(bed, kHub1), static_cast<uint64_t>(kFiles)) << bed.Diagnostics();

  REPLFS_ASSERT_OK(bed.Start(kSpoke1));
  EXPECT_GT(absl::Now() - away, absl::Seconds(1)) << "the spoke was not away past the grace";
  REPLFS_ASSERT_OK(bed.WaitForConvergence(kConverge));
  for (int f = 0; f < kFiles; ++f) ExpectNowhere(bed, absl::StrCat("site/page", f));
  // Once the spoke has them nothing holds them.
  EXPECT_TRUE(WaitUntil([&] { return Tombstones(bed, kHub1) == 0; }, absl::Seconds(30)))
      << bed.Diagnostics();
}

// The spoke's status entry for its fallback peer (the centre).
absl::StatusOr<PeerStatus> FallbackOf(const WanBed& bed, const Site& spoke) {
  absl::StatusOr<ReplicaStatus> status = AdminStatus(bed.replica(spoke));
  if (!status.ok()) return status.status();
  for (const PeerStatus& peer : status->peers()) {
    if (peer.fallback()) return peer;
  }
  return absl::NotFoundError(absl::StrCat(spoke.Name(), " lists no fallback peer"));
}

bool FallbackInUse(const WanBed& bed, const Site& spoke, bool in_use) {
  absl::StatusOr<PeerStatus> fallback = FallbackOf(bed, spoke);
  return fallback.ok() && fallback->in_use() == in_use &&
         fallback->state() == (in_use ? "connected" : "standby");
}

// (e) Datacentre 1's hub dies. Its spoke falls back to the centre (across
// the WAN) after a second and keeps receiving what the centre and the other
// datacentre write; back, the hub alone serves it again, and what the spoke
// wrote meanwhile reaches everyone.
TEST(WanTest, HubKilledItsSpokeFallsBackToTheCentreThenReturnsToTheHub) {
  WanBedOptions options = CiBed();
  options.spoke_fallback_after = absl::Seconds(1);
  WanBed bed(options);
  REPLFS_ASSERT_OK(bed.Up());
  REPLFS_ASSERT_OK(WriteFile(bed.Mount(kCentre, "before"), "before"));
  REPLFS_ASSERT_OK(bed.WaitForConvergence(kConverge));
  EXPECT_TRUE(FallbackInUse(bed, kSpoke1, false)) << bed.Diagnostics();

  bed.replica(kHub1).Kill();
  REPLFS_ASSERT_OK(WriteFile(bed.Mount(kCentre, "from-centre"), "while dc1's hub was down"));
  REPLFS_ASSERT_OK(WriteFile(bed.Mount(kSpoke2, "from-dc2"), "also while it was down"));
  REPLFS_ASSERT_OK(WriteFile(bed.Mount(kSpoke1, "from-dc1"), "written on the orphaned spoke"));
  ASSERT_TRUE(WaitUntil(
      [&] {
        return ReadWholeFile(bed.Mount(kSpoke1, "from-centre")) == "while dc1's hub was down" &&
               ReadWholeFile(bed.Mount(kSpoke1, "from-dc2")) == "also while it was down";
      },
      kConverge))
      << bed.Diagnostics();
  EXPECT_TRUE(FallbackInUse(bed, kSpoke1, true)) << bed.Diagnostics();

  REPLFS_ASSERT_OK(bed.Start(kHub1));
  ASSERT_TRUE(WaitUntil([&] { return FallbackInUse(bed, kSpoke1, false); }, kConverge))
      << bed.Diagnostics();
  REPLFS_ASSERT_OK(bed.WaitForConvergence(kConverge));
  ExpectEverywhere(bed, "from-dc1", "written on the orphaned spoke");
  ExpectEverywhere(bed, "from-centre", "while dc1's hub was down");
  // Served by its hub again: the centre's next file arrives with the
  // fallback standing by.
  REPLFS_ASSERT_OK(WriteFile(bed.Mount(kCentre, "after"), "after"));
  REPLFS_ASSERT_OK(bed.WaitForConvergence(kConverge));
  EXPECT_TRUE(FallbackInUse(bed, kSpoke1, false)) << bed.Diagnostics();
}

uint64_t BytesServed(const WanBed& bed, const Site& site) {
  absl::StatusOr<ReplicaStatus> status = AdminStatus(bed.replica(site));
  EXPECT_TRUE(status.ok()) << site.Name() << ": " << status.status();
  return status.ok() ? status->bytes_served() : 0;
}

// (f) A new server joins datacentre 1 (an empty replica in place of its
// spoke): it receives the whole tree from its hub, over the datacentre's
// bridge, not across the WAN. SIGKILLed halfway, it resumes: restarted, it
// does not fetch again what it already holds.
TEST(WanTest, NewServerJoinsFromItsOwnDatacentreAndResumesAfterAnInterruption) {
  constexpr int kFiles = 400;  // Under ASan in CI a bigger tree costs minutes.
  constexpr size_t kFileBytes = size_t{16} * 1024;  // Past the inline limit: fetched as blocks.
  constexpr uint64_t kTreeBytes = uint64_t{kFiles} * kFileBytes;
  WanBed bed(CiBed());
  REPLFS_ASSERT_OK(bed.Up());
  REPLFS_ASSERT_OK(bed.Stop(kSpoke1));
  // The old spoke's folder and state go: the server that starts there is new.
  std::filesystem::remove_all(bed.replica(kSpoke1).backing());
  std::filesystem::create_directory(bed.replica(kSpoke1).backing());
  ASSERT_EQ(::mkdir(bed.Mount(kCentre, "site").c_str(), 0755), 0);
  for (int f = 0; f < kFiles; ++f) {
    std::string content(kFileBytes, static_cast<char>('a' + f % 26));
    content.replace(0, 8, absl::StrCat(f, "        ").substr(0, 8));  // Unlike any other file.
    REPLFS_ASSERT_OK(WriteFile(bed.Mount(kCentre, absl::StrCat("site/f", f)), content));
  }
  REPLFS_ASSERT_OK(bed.WaitForConvergence(kConverge, {kCentre, kHub1, kHub2, kSpoke2}));
  const uint64_t wan_before = bed.LinkBytes(1);
  const uint64_t hub_served_before = BytesServed(bed, kHub1);

  REPLFS_ASSERT_OK(bed.Start(kSpoke1));
  auto files_held = [&] {
    // Remote files are renamed into place whole: a full size is a file held.
    int held = 0;
    struct stat st;
    for (int f = 0; f < kFiles; ++f) {
      const std::string path = bed.replica(kSpoke1).BackingPath(absl::StrCat("site/f", f));
      held += ::lstat(path.c_str(), &st) == 0 && static_cast<size_t>(st.st_size) == kFileBytes;
    }
    return held;
  };
  ASSERT_TRUE(WaitUntil([&] { return files_held() >= kFiles / 4; }, kConverge, absl::Milliseconds(5)))
      << bed.Diagnostics();
  bed.replica(kSpoke1).Kill();
  const int held_at_kill = files_held();
  ASSERT_LT(held_at_kill, kFiles) << "the bootstrap ended before the interruption";
  const uint64_t served_before_restart = BytesServed(bed, kHub1);

  REPLFS_ASSERT_OK(bed.Start(kSpoke1));
  REPLFS_ASSERT_OK(bed.WaitForConvergence(kConverge));
  const uint64_t served_after_restart = BytesServed(bed, kHub1) - served_before_restart;
  const uint64_t wan = bed.LinkBytes(1) - wan_before;
  // Resumed: the hub sends what the new server lacked at the kill (blocks
  // fetched but not yet placed then included), not the files it held.
  const uint64_t lacked = static_cast<uint64_t>(kFiles - held_at_kill) * kFileBytes;
  EXPECT_GE(served_after_restart, lacked);
  EXPECT_LT(served_after_restart, lacked + kTreeBytes / 10 + (256 << 10))
      << "hub served " << served_after_restart << " bytes after the restart; the new server lacked "
      << lacked << " (" << held_at_kill << " of " << kFiles << " files held at the kill)";
  EXPECT_GE(BytesServed(bed, kHub1) - hub_served_before, kTreeBytes);
  // Nothing of it crossed the WAN (heartbeats and acks only).
  EXPECT_LT(wan, kTreeBytes / 20) << wan << " bytes crossed dc1's WAN link";
  std::printf("joined: %d of %d files held at the kill; then the hub served %.1f MiB for the %.1f "
              "MiB lacking; %.1f KiB crossed the WAN\n",
              held_at_kill, kFiles, static_cast<double>(served_after_restart) / (1 << 20),
              static_cast<double>(lacked) / (1 << 20), static_cast<double>(wan) / 1024);
}

}  // namespace
}  // namespace replfs::testing
