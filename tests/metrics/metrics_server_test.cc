// The /metrics endpoint without a replica: what a scrape returns, and a
// port it cannot have reported as an error, not an exception.

#include "metrics/metrics_server.h"

#include <atomic>
#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "metrics/latency_histograms.h"
#include "tests/http_client.h"

namespace replfs {
namespace {

TEST(MetricsServerTest, ScrapeServesHistogramsAndAFreshStatus) {
  auto registry = std::make_shared<prometheus::Registry>();
  LatencyHistograms latency(registry.get());
  latency.ObserveCommit(absl::Milliseconds(3));
  latency.ObserveApply(absl::Milliseconds(20), 5);
  latency.FuseRequest("lookup")->Observe(0.00004);
  std::atomic<int> scrapes{0};
  absl::StatusOr<std::unique_ptr<MetricsServer>> server =
      MetricsServer::Start("127.0.0.1:0", registry, [&scrapes] {
        ReplicaStatus status;
        status.set_entries(static_cast<uint64_t>(++scrapes));
        return status;
      });
  ASSERT_TRUE(server.ok()) << server.status();
  ASSERT_GT((*server)->port(), 0);

  absl::StatusOr<testing::HttpResponse> first = testing::HttpGet((*server)->port(), "/metrics");
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->status, 200);
  const std::string& body = first->body;
  EXPECT_TRUE(absl::StrContains(body, "# TYPE replfs_commit_latency_seconds histogram")) << body;
  EXPECT_TRUE(absl::StrContains(body, "replfs_commit_latency_seconds_count 1")) << body;
  EXPECT_TRUE(absl::StrContains(body, "replfs_apply_latency_seconds_count 5")) << body;
  EXPECT_TRUE(absl::StrContains(
      body, "replfs_fuse_request_latency_seconds_bucket{operation=\"lookup\",le=\"5e-05\"} 1"))
      << body;
  EXPECT_TRUE(absl::StrContains(body, "replfs_entries 1\n")) << body;

  // Every scrape reads the status afresh.
  absl::StatusOr<testing::HttpResponse> second = testing::HttpGet((*server)->port(), "/metrics");
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_TRUE(absl::StrContains(second->body, "replfs_entries 2\n")) << second->body;
}

TEST(MetricsServerTest, APortInUseIsAnErrorNamingTheAddress) {
  auto registry = std::make_shared<prometheus::Registry>();
  absl::StatusOr<std::unique_ptr<MetricsServer>> first =
      MetricsServer::Start("127.0.0.1:0", registry, [] { return ReplicaStatus(); });
  ASSERT_TRUE(first.ok()) << first.status();
  const std::string taken = absl::StrCat("127.0.0.1:", (*first)->port());
  absl::StatusOr<std::unique_ptr<MetricsServer>> second =
      MetricsServer::Start(taken, registry, [] { return ReplicaStatus(); });
  ASSERT_FALSE(second.ok());
  EXPECT_TRUE(absl::StrContains(second.status().message(), "cannot serve metrics on " + taken))
      << second.status();
}

}  // namespace
}  // namespace replfs
