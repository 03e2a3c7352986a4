#include "replication/fallback_policy.h"

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace replfs {
namespace {

constexpr absl::Duration kPatience = absl::Seconds(10);

FallbackPolicy::Observation PeersDown(std::vector<bool> fallback_connected = {false, false}) {
  return {.any_peer_live = false, .any_peer_connected = false,
          .fallback_connected = std::move(fallback_connected)};
}
FallbackPolicy::Observation PeerLive() {
  return {.any_peer_live = true, .any_peer_connected = true, .fallback_connected = {false, false}};
}
FallbackPolicy::Observation PeerReplaying(std::vector<bool> fallback_connected = {true, false}) {
  return {.any_peer_live = false, .any_peer_connected = true,
          .fallback_connected = std::move(fallback_connected)};
}

TEST(FallbackPolicy, PeersGetThePatienceToConnectAtStart) {
  const absl::Time start = absl::FromUnixSeconds(1700000000);
  FallbackPolicy policy(kPatience, 2, start);
  EXPECT_EQ(policy.Update(start + absl::Seconds(9), PeersDown()), 0u);
  EXPECT_TRUE(absl::StartsWith(policy.Reason(0, start + absl::Seconds(9)), "standby"));
  EXPECT_EQ(policy.Update(start + absl::Seconds(10), PeersDown()), 1u);
  EXPECT_TRUE(absl::StartsWith(policy.Reason(0, start + absl::Seconds(10)), "in use"));
  EXPECT_TRUE(absl::StartsWith(policy.Reason(1, start + absl::Seconds(10)), "standby"));
}

TEST(FallbackPolicy, NeverUsedWhileAPeerIsConnected) {
  const absl::Time start = absl::FromUnixSeconds(1700000000);
  FallbackPolicy policy(kPatience, 2, start);
  for (int s = 0; s < 100; ++s) {
    const absl::Time now = start + absl::Seconds(s);
    // Connected, live or still replaying its log: the peer answers.
    EXPECT_EQ(policy.Update(now, s % 2 == 0 ? PeerLive() : PeerReplaying({false, false})), 0u)
        << s;
    EXPECT_EQ(policy.Reason(0, now), "standby: a configured peer is connected");
  }
}

TEST(FallbackPolicy, SilenceCountsFromTheLastTimeAPeerWasConnected) {
  const absl::Time start = absl::FromUnixSeconds(1700000000);
  FallbackPolicy policy(kPatience, 2, start);
  EXPECT_EQ(policy.Update(start + absl::Seconds(30), PeerLive()), 0u);
  EXPECT_EQ(policy.Update(start + absl::Seconds(39), PeersDown()), 0u);
  EXPECT_EQ(policy.Update(start + absl::Seconds(40), PeersDown()), 1u);
}

TEST(FallbackPolicy, TheNextFallbackIsAddedWhenTheOnesInUseDoNotAnswer) {
  const absl::Time start = absl::FromUnixSeconds(1700000000);
  FallbackPolicy policy(kPatience, 2, start);
  ASSERT_EQ(policy.Update(start + absl::Seconds(10), PeersDown()), 1u);
  // The first fallback answers: the second is not needed.
  EXPECT_EQ(policy.Update(start + absl::Seconds(15), PeersDown({true, false})), 1u);
  EXPECT_EQ(policy.Update(start + absl::Seconds(24), PeersDown({false, false})), 1u);
  // Silent for the patience since it last answered: the second joins, and
  // the first stays in use (whichever answers first serves).
  EXPECT_EQ(policy.Update(start + absl::Seconds(25), PeersDown({false, false})), 2u);
  EXPECT_TRUE(absl::StrContains(policy.Reason(1, start + absl::Seconds(25)), "before it"));
  // Never more than the list holds.
  EXPECT_EQ(policy.Update(start + absl::Seconds(100), PeersDown({false, false})), 2u);
}

TEST(FallbackPolicy, KeptWhileAReturningPeerReplaysItsLogDroppedOnceItIsLive) {
  const absl::Time start = absl::FromUnixSeconds(1700000000);
  FallbackPolicy policy(kPatience, 2, start);
  ASSERT_EQ(policy.Update(start + absl::Seconds(10), PeersDown()), 1u);
  EXPECT_EQ(policy.Update(start + absl::Seconds(11), PeerReplaying()), 1u);
  EXPECT_EQ(policy.Update(start + absl::Seconds(12), PeerLive()), 0u);
  // Gone again: the patience starts over from when it was last connected.
  EXPECT_EQ(policy.Update(start + absl::Seconds(21), PeersDown()), 0u);
  EXPECT_EQ(policy.Update(start + absl::Seconds(22), PeersDown()), 1u);
}

TEST(FallbackPolicy, NoFallbacksNothingToUse) {
  const absl::Time start = absl::FromUnixSeconds(1700000000);
  FallbackPolicy policy(kPatience, 0, start);
  EXPECT_EQ(policy.Update(start + absl::Hours(1), PeersDown({})), 0u);
}

}  // namespace
}  // namespace replfs
