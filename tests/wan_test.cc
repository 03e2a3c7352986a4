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

}  // namespace
}  // namespace replfs::testing
