// What a reload may change while mounted, and what it refuses (no mount).
#include "daemon/reload_plan.h"

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace replfs {
namespace {

Options Running() {
  Options options;
  options.replication.peers = {"b:7400"};
  options.replication.listen = "127.0.0.1:7400";
  options.replication.ignore_patterns = {"*.tmp"};
  return options;
}

TEST(ReloadPlanTest, TheSameSettingsChangeNothing) {
  const ReloadPlan plan = PlanReload(Running(), Running());
  EXPECT_TRUE(plan.empty());
}

TEST(ReloadPlanTest, PeersLogLevelAndIgnorePatternsChange) {
  Options reread = Running();
  reread.replication.peers = {"b:7400", "c:7400"};
  reread.log_level = LogLevel::kDebug;
  reread.replication.ignore_patterns = {"*.tmp", "cache/"};
  const ReloadPlan plan = PlanReload(Running(), reread);
  EXPECT_TRUE(plan.peers_changed);
  ASSERT_TRUE(plan.log_level.has_value());
  EXPECT_EQ(*plan.log_level, LogLevel::kDebug);
  ASSERT_TRUE(plan.ignore_patterns.has_value());
  EXPECT_EQ(*plan.ignore_patterns, (std::vector<std::string>{"*.tmp", "cache/"}));
  EXPECT_TRUE(plan.refused.empty());

  Options patience = Running();
  patience.replication.fallback_after = 3;
  EXPECT_TRUE(PlanReload(Running(), patience).peers_changed);
  Options fallbacks = Running();
  fallbacks.replication.fallback_peers = {"hub2:7400"};
  EXPECT_TRUE(PlanReload(Running(), fallbacks).peers_changed);
}

TEST(ReloadPlanTest, VersionRetentionChangesLive) {
  EXPECT_FALSE(PlanReload(Running(), Running()).version_retention_changed);
  Options days = Running();
  days.replication.keep_versions_days = 30;
  Options cap = Running();
  cap.replication.versions_max_bytes = uint64_t{1} << 30;
  Options share = Running();
  share.replication.versions_max_percent = 20;
  for (const Options& reread : {days, cap, share}) {
    const ReloadPlan plan = PlanReload(Running(), reread);
    EXPECT_TRUE(plan.version_retention_changed);
    EXPECT_TRUE(plan.refused.empty());
    EXPECT_FALSE(plan.empty());
  }
}

TEST(ReloadPlanTest, SettingsOnlyARestartChangesAreRefusedByName) {
  Options reread = Running();
  reread.replication.listen = "127.0.0.1:7500";
  reread.mount.cache_timeout = 5;
  reread.replication.tombstone_grace = 60;
  reread.replication.compression = "gzip";
  reread.replication.peers = {"c:7400"};
  const ReloadPlan plan = PlanReload(Running(), reread);
  EXPECT_TRUE(plan.peers_changed);  // What can change still does.
  ASSERT_EQ(plan.refused.size(), 4u);
  EXPECT_TRUE(absl::StartsWith(plan.refused[0], "cache_timeout cannot change while mounted"))
      << plan.refused[0];
  EXPECT_TRUE(absl::StartsWith(plan.refused[1], "listen cannot change while mounted"))
      << plan.refused[1];
  EXPECT_TRUE(absl::StrContains(plan.refused[1], "keeping '127.0.0.1:7400'")) << plan.refused[1];
  EXPECT_TRUE(absl::StrContains(plan.refused[1], "now says '127.0.0.1:7500'")) << plan.refused[1];
  EXPECT_TRUE(absl::StartsWith(plan.refused[2], "tombstone_grace cannot change while mounted"))
      << plan.refused[2];
  EXPECT_TRUE(absl::StartsWith(plan.refused[3], "compression cannot change while mounted"))
      << plan.refused[3];
}

}  // namespace
}  // namespace replfs
