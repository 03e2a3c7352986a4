// -o metrics on real replicas: /metrics scraped while they replicate, the
// way Prometheus would. Counters and histograms move with the work done,
// a stopped peer shows as down and its lag grows, a deleted file's kept
// version shows in the version gauges of every replica that keeps it.

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/cluster.h"
#include "tests/http_client.h"

namespace replfs::testing {
namespace {

// A scrape: each series ("name{labels}" as exposed) and its value.
using Scrape = std::map<std::string, double>;

absl::StatusOr<Scrape> ScrapeMetrics(int port) {
  absl::StatusOr<HttpResponse> response = HttpGet(port, "/metrics");
  if (!response.ok()) return response.status();
  if (response->status != 200) {
    return absl::InternalError(absl::StrCat("/metrics answered ", response->status));
  }
  Scrape scrape;
  for (absl::string_view line : absl::StrSplit(response->body, '\n', absl::SkipEmpty())) {
    if (line.front() == '#') continue;
    const size_t space = line.rfind(' ');
    double value = 0;
    if (space == absl::string_view::npos || !absl::SimpleAtod(line.substr(space + 1), &value)) {
      return absl::DataLossError(absl::StrCat("not a sample: ", line));
    }
    scrape[std::string(line.substr(0, space))] = value;
  }
  return scrape;
}

// The value of `series`, or -1 when the scrape lacks it.
double Value(const Scrape& scrape, const std::string& series) {
  auto it = scrape.find(series);
  return it == scrape.end() ? -1 : it->second;
}

class MetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    REPLFS_ASSERT_OK(cluster_.init_status());
    absl::StatusOr<std::vector<int>> ports = DistinctLoopbackPorts(2);
    ASSERT_TRUE(ports.ok()) << ports.status();
    metrics_ports_ = *ports;
    for (int i = 0; i < 2; ++i) {
      const int port = metrics_ports_[static_cast<size_t>(i)];
      cluster_.AddArguments(i, {"-o", absl::StrCat("metrics=127.0.0.1:", port)});
    }
    REPLFS_ASSERT_OK(cluster_.StartAll());
  }

  Scrape Scraped(int i) {
    absl::StatusOr<Scrape> scrape = ScrapeMetrics(metrics_ports_[static_cast<size_t>(i)]);
    EXPECT_TRUE(scrape.ok()) << scrape.status();
    return scrape.ok() ? *scrape : Scrape();
  }
  // Replica i's series of a per-peer metric for its peer j.
  std::string PeerSeries(const std::string& name, int j) const {
    return absl::StrCat(name, "{peer=\"127.0.0.1:", cluster_.port(j), "\",role=\"peer\"}");
  }
  // Polls replica i's metrics until `done` holds (10 s at most).
  bool WaitForMetrics(int i, const std::function<bool(const Scrape&)>& done) {
    return WaitUntil([&] { return done(Scraped(i)); }, absl::Seconds(10), absl::Milliseconds(100));
  }

  Cluster cluster_{2};
  std::vector<int> metrics_ports_;
};

TEST_F(MetricsTest, CountersAndHistogramsMoveWithTheWork) {
  constexpr int kFiles = 20;
  const std::string applied = PeerSeries("replfs_peer_applied_entries_total", 1);
  ASSERT_TRUE(WaitForMetrics(
      0, [&](const Scrape& a) { return Value(a, PeerSeries("replfs_peer_up", 1)) == 1; }))
      << "A's feed from B is not up";
  const Scrape a_before = Scraped(0);
  const Scrape b_before = Scraped(1);
  const std::string creates = "replfs_fuse_request_latency_seconds_count{operation=\"create\"}";
  ASSERT_EQ(::mkdir(cluster_.Mount(1, "site").c_str(), 0755), 0);
  for (int f = 0; f < kFiles; ++f) {
    REPLFS_ASSERT_OK(WriteFile(cluster_.Mount(1, absl::StrCat("site/page", f, ".html")),
                               absl::StrCat("<p>page ", f, "</p>")));
  }
  REPLFS_ASSERT_OK(cluster_.WaitForConvergence());

  // A applied what B wrote, and timed it from received to applied.
  EXPECT_TRUE(WaitForMetrics(0, [&](const Scrape& a) {
    return Value(a, applied) >= Value(a_before, applied) + kFiles;
  })) << "applied entries from B stayed at " << Value(Scraped(0), applied);
  const Scrape a_after = Scraped(0);
  EXPECT_GE(Value(a_after, "replfs_apply_latency_seconds_count"),
            Value(a_before, "replfs_apply_latency_seconds_count") + kFiles);
  EXPECT_GT(Value(a_after, "replfs_apply_latency_seconds_sum"), 0);
  EXPECT_GE(Value(a_after, PeerSeries("replfs_peer_received_bytes_total", 1)),
            Value(a_before, PeerSeries("replfs_peer_received_bytes_total", 1)) + kFiles * 10);
  EXPECT_GE(Value(a_after, "replfs_entries"), kFiles + 1);

  // B committed each file and answered a CREATE for each, all timed.
  const Scrape b_after = Scraped(1);
  EXPECT_GE(Value(b_after, "replfs_commit_latency_seconds_count"),
            Value(b_before, "replfs_commit_latency_seconds_count") + kFiles);
  EXPECT_GE(Value(b_after, creates), std::max(0.0, Value(b_before, creates)) + kFiles);
  EXPECT_EQ(Value(b_after, "replfs_commit_failures_total"), 0);
  EXPECT_EQ(Value(b_after, "replfs_pending_commits"), 0);
  // A histogram's buckets are cumulative: +Inf holds every observation.
  EXPECT_EQ(Value(b_after, "replfs_commit_latency_seconds_bucket{le=\"+Inf\"}"),
            Value(b_after, "replfs_commit_latency_seconds_count"));
}

TEST_F(MetricsTest, AStoppedPeerIsDownAndItsLagGrows) {
  const std::string up = PeerSeries("replfs_peer_up", 1);
  const std::string lag = PeerSeries("replfs_peer_lag_seconds", 1);
  const std::string reconnects = PeerSeries("replfs_peer_reconnects_total", 1);
  REPLFS_ASSERT_OK(WriteFile(cluster_.Mount(1, "hello.txt"), "hello"));
  REPLFS_ASSERT_OK(cluster_.WaitForConvergence());
  ASSERT_EQ(Value(Scraped(0), up), 1);

  REPLFS_ASSERT_OK(cluster_.Stop(1));
  ASSERT_TRUE(WaitForMetrics(0, [&](const Scrape& a) { return Value(a, up) == 0; }))
      << "A still shows B up";
  const double lag_then = Value(Scraped(0), lag);
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  const double lag_now = Value(Scraped(0), lag);
  EXPECT_GE(lag_now, lag_then + 2.0) << "lag " << lag_then << " s, 2.5 s later " << lag_now;

  // B back: up again, and the second session counts as a reconnect.
  REPLFS_ASSERT_OK(cluster_.Start(1));
  EXPECT_TRUE(WaitForMetrics(0, [&](const Scrape& a) {
    return Value(a, up) == 1 && Value(a, reconnects) >= 1;
  })) << "up " << Value(Scraped(0), up) << ", reconnects " << Value(Scraped(0), reconnects);
}

// A file deleted through A's mount is kept aside on A ("deleted here"),
// and on B once the deletion replicates: B's applier links the file it
// removes aside ("deleted by" A). Both replicas' gauges count the one
// version and its bytes; nothing is counted as not kept.
TEST_F(MetricsTest, VersionGaugesCountADeletedFileOnEveryReplica) {
  constexpr size_t kSize = size_t{200} << 10;
  const std::string kept = "replfs_versions_kept";
  const std::string bytes = "replfs_versions_bytes";
  const std::string not_kept = "replfs_versions_not_kept";
  REPLFS_ASSERT_OK(WriteFile(cluster_.Mount(0, "doomed.bin"), IncompressibleBytes(kSize, 42)));
  REPLFS_ASSERT_OK(cluster_.WaitForConvergence());
  ASSERT_TRUE(cluster_.Exists(1, "doomed.bin"));
  const std::vector<Scrape> before = {Scraped(0), Scraped(1)};
  for (int i = 0; i < 2; ++i) {
    for (const std::string& gauge : {kept, bytes, not_kept}) {
      ASSERT_GE(Value(before[static_cast<size_t>(i)], gauge), 0)
          << "replica " << i << " does not expose " << gauge;
    }
  }

  ASSERT_EQ(::unlink(cluster_.Mount(0, "doomed.bin").c_str()), 0) << std::strerror(errno);
  for (int i = 0; i < 2; ++i) {
    const Scrape& then = before[static_cast<size_t>(i)];
    EXPECT_TRUE(WaitForMetrics(i, [&](const Scrape& now) {
      return Value(now, kept) >= Value(then, kept) + 1 &&
             Value(now, bytes) >= Value(then, bytes) + kSize;
    })) << "replica " << i << ": " << kept << " " << Value(then, kept) << " -> "
        << Value(Scraped(i), kept) << ", " << bytes << " " << Value(then, bytes) << " -> "
        << Value(Scraped(i), bytes) << "\n"
        << cluster_.Diagnostics();
    const Scrape after = Scraped(i);
    EXPECT_EQ(Value(after, kept), Value(then, kept) + 1) << "replica " << i;
    EXPECT_EQ(Value(after, not_kept), Value(then, not_kept)) << "replica " << i;
  }
  EXPECT_FALSE(cluster_.Exists(1, "doomed.bin")) << "the deletion did not reach B";
}

}  // namespace
}  // namespace replfs::testing
