#include "storage/hlc.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace replfs {
namespace {

// A wall clock the test moves by hand.
struct FakeWallClock {
  std::atomic<uint64_t> ms{1'700'000'000'000};
  HybridLogicalClock::WallClockMs Fn() {
    return [this] { return ms.load(); };
  }
};

TEST(HybridLogicalClockTest, InjectedWallClockSetsTheHighBits) {
  FakeWallClock wall;
  HybridLogicalClock clock(wall.Fn());
  const uint64_t t = clock.Now();
  EXPECT_EQ(HybridLogicalClock::WallMs(t), wall.ms.load());
  EXPECT_EQ(t & 0xffff, 0u);
  wall.ms += 5;
  const uint64_t later = clock.Now();
  EXPECT_EQ(HybridLogicalClock::WallMs(later), wall.ms.load());
  EXPECT_EQ(later & 0xffff, 0u);
}

TEST(HybridLogicalClockTest, SystemClockIsStrictlyMonotonic) {
  HybridLogicalClock clock;
  uint64_t previous = clock.Now();
  for (int i = 0; i < 100000; ++i) {
    const uint64_t next = clock.Now();
    ASSERT_GT(next, previous) << "at step " << i;
    previous = next;
  }
}

TEST(HybridLogicalClockTest, MonotonicAcrossThreads) {
  HybridLogicalClock clock;
  constexpr int kThreads = 4;
  constexpr int kPerThread = 20000;
  std::vector<std::vector<uint64_t>> seen(kThreads);
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) seen[static_cast<size_t>(t)].push_back(clock.Now());
    });
  }
  for (auto& t : threads) t.join();
  std::vector<uint64_t> all;
  for (const auto& s : seen) {
    for (size_t i = 1; i < s.size(); ++i) ASSERT_GT(s[i], s[i - 1]);
    all.insert(all.end(), s.begin(), s.end());
  }
  std::sort(all.begin(), all.end());
  EXPECT_EQ(std::adjacent_find(all.begin(), all.end()), all.end()) << "duplicate timestamp";
}

TEST(HybridLogicalClockTest, CounterCarriesOrderWhenWallClockStalls) {
  FakeWallClock wall;
  HybridLogicalClock clock(wall.Fn());
  const uint64_t first = clock.Now();
  for (uint64_t i = 1; i <= 10; ++i) {
    const uint64_t t = clock.Now();
    EXPECT_EQ(HybridLogicalClock::WallMs(t), wall.ms.load());
    EXPECT_EQ(t & 0xffff, i);
    EXPECT_EQ(t, first + i);
  }
}

TEST(HybridLogicalClockTest, CounterCarriesOrderWhenWallClockGoesBackwards) {
  FakeWallClock wall;
  HybridLogicalClock clock(wall.Fn());
  const uint64_t before = clock.Now();
  wall.ms -= 10'000;  // NTP stepped the clock back 10 s.
  const uint64_t after = clock.Now();
  EXPECT_GT(after, before);
  EXPECT_EQ(HybridLogicalClock::WallMs(after), HybridLogicalClock::WallMs(before));
  EXPECT_EQ(after & 0xffff, 1u);
  // Once the wall clock passes the old reading again, it takes over.
  wall.ms += 20'000;
  const uint64_t caught_up = clock.Now();
  EXPECT_EQ(caught_up, HybridLogicalClock::Pack(wall.ms.load(), 0));
}

TEST(HybridLogicalClockTest, CounterOverflowStillIncreases) {
  FakeWallClock wall;
  HybridLogicalClock clock(wall.Fn());
  uint64_t previous = clock.Now();
  for (int i = 0; i < 70000; ++i) {  // More than 16 bits of counter.
    const uint64_t t = clock.Now();
    ASSERT_GT(t, previous);
    previous = t;
  }
}

TEST(HybridLogicalClockTest, ObserveAdvancesPastRemote) {
  FakeWallClock wall;
  HybridLogicalClock clock(wall.Fn());
  const uint64_t remote = HybridLogicalClock::Pack(wall.ms.load() + 30'000, 7);  // 30 s ahead.
  ASSERT_TRUE(clock.Observe(remote, 60'000).ok());
  const uint64_t next = clock.Now();
  EXPECT_GT(next, remote);
  EXPECT_EQ(next, remote + 1);
}

TEST(HybridLogicalClockTest, ObserveOfOlderTimestampDoesNotMoveClockBack) {
  FakeWallClock wall;
  HybridLogicalClock clock(wall.Fn());
  const uint64_t now = clock.Now();
  ASSERT_TRUE(clock.Observe(HybridLogicalClock::Pack(wall.ms.load() - 5'000, 3), 60'000).ok());
  EXPECT_GT(clock.Now(), now);
}

TEST(HybridLogicalClockTest, ObserveRefusesFarFuture) {
  FakeWallClock wall;
  HybridLogicalClock clock(wall.Fn());
  const uint64_t before = clock.Now();
  const uint64_t far = HybridLogicalClock::Pack(wall.ms.load() + 60'001, 0);
  const absl::Status s = clock.Observe(far, 60'000);
  EXPECT_EQ(s.code(), absl::StatusCode::kOutOfRange) << s;
  EXPECT_NE(s.message().find("ahead"), absl::string_view::npos) << s;
  // Refused means not advanced.
  const uint64_t after = clock.Now();
  EXPECT_LT(after, far);
  EXPECT_EQ(after, before + 1);
  // Exactly at the limit is accepted.
  EXPECT_TRUE(clock.Observe(HybridLogicalClock::Pack(wall.ms.load() + 60'000, 0), 60'000).ok());
}

TEST(HybridLogicalClockTest, AdvanceToRestoresFloor) {
  FakeWallClock wall;
  HybridLogicalClock clock(wall.Fn());
  const uint64_t floor = HybridLogicalClock::Pack(wall.ms.load() + 1'000'000, 42);
  clock.AdvanceTo(floor);
  EXPECT_EQ(clock.Now(), floor + 1);
  clock.AdvanceTo(5);  // Lower floors are ignored.
  EXPECT_EQ(clock.Now(), floor + 2);
}

}  // namespace
}  // namespace replfs
