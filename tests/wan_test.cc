// Replication across a WAN: a centre and two datacentres of two replicas,
// each replica in its own network namespace, datacentres joined only
// through relays that delay (40 ms, jitter 5 ms), stall now and then, and
// are rate limited (tests/wan_bed.h).
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/cluster.h"
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

bool Exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
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
    EXPECT_FALSE(Exists(bed.Mount(site, path))) << path << " is back on " << site.Name();
  }
}

uint64_t Tombstones(const WanBed& bed, const Site& site) {
  absl::StatusOr<ReplicaStatus> status = AdminStatus(bed.replica(site));
  EXPECT_TRUE(status.ok()) << site.Name() << ": " << status.status();
  return status.ok() ? status->tombstones() : 0;
}

// (a) Writes on a spoke of each datacentre reach every replica; the first
// one crossed two relayed links, so it took at least two link delays.
TEST(WanTest, WritesOnSpokesOfBothDatacentresConvergeEverywhere) {
  WanBed bed(CiBed());
  REPLFS_ASSERT_OK(bed.Up());
  REPLFS_ASSERT_OK(WriteFile(bed.Mount(kSpoke1, "first"), "from dc1"));
  const absl::Time written = absl::Now();
  ASSERT_TRUE(WaitUntil([&] { return Exists(bed.Mount(kSpoke2, "first")); }, kConverge,
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
  EXPECT_FALSE(Exists(bed.Mount(kHub2, "cut/one0")));
  EXPECT_TRUE(Exists(bed.Mount(kHub2, "doomed/d0")));
  EXPECT_TRUE(Exists(bed.Mount(kCentre, "keep/k0")));

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
// it and the centre write. Restarted, it recovers and everything converges
// with every acknowledged file, from either side.
TEST(WanTest, PowerOutageOfADatacentreMidBurstRecovers) {
  constexpr int kMaxFiles = 400;
  WanBed bed(CiBed());
  REPLFS_ASSERT_OK(bed.Up());
  ASSERT_EQ(::mkdir(bed.Mount(kCentre, "centre").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir(bed.Mount(kSpoke1, "dc1").c_str(), 0755), 0);
  BurstWriter centre(bed.Mount(kCentre, "centre"), kMaxFiles);
  BurstWriter dc1(bed.Mount(kSpoke1, "dc1"), kMaxFiles);
  ASSERT_TRUE(WaitUntil([&] { return dc1.acknowledged() >= 30; }, absl::Seconds(30)));
  bed.KillDatacentre(1);
  dc1.Finish();
  const int centre_before = centre.acknowledged();
  ASSERT_TRUE(WaitUntil([&] { return centre.acknowledged() >= centre_before + 30; }, absl::Seconds(30)));
  centre.Finish();
  ASSERT_LT(dc1.acknowledged(), kMaxFiles) << "the outage came after the burst";

  REPLFS_ASSERT_OK(bed.StartDatacentre(1));
  REPLFS_ASSERT_OK(bed.WaitForConvergence(kConverge));
  for (int i = 0; i < centre.acknowledged(); ++i) {
    ExpectEverywhere(bed, absl::StrCat("centre/f", i), BurstWriter::Content(i));
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

}  // namespace
}  // namespace replfs::testing
