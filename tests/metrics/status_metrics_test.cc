// The status as Prometheus metrics: names and types by Prometheus's
// conventions, one series per peer, and the lag of a peer that went away.

#include "metrics/status_metrics.h"

#include <map>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "prometheus/text_serializer.h"

namespace replfs {
namespace {

using prometheus::MetricFamily;
using prometheus::MetricType;

const MetricFamily* Find(const std::vector<MetricFamily>& families, const std::string& name) {
  for (const MetricFamily& family : families) {
    if (family.name == name) return &family;
  }
  return nullptr;
}

// The value of `name` in the series whose `peer` label is `peer`.
double PeerValue(const std::vector<MetricFamily>& families, const std::string& name,
                 const std::string& peer) {
  const MetricFamily* family = Find(families, name);
  if (family == nullptr) return -1;
  for (const prometheus::ClientMetric& metric : family->metric) {
    for (const prometheus::ClientMetric::Label& label : metric.label) {
      if (label.name == "peer" && label.value == peer) {
        return family->type == MetricType::Counter ? metric.counter.value : metric.gauge.value;
      }
    }
  }
  return -1;
}

ReplicaStatus TwoPeers() {
  ReplicaStatus status;
  status.set_node(0xabc);
  status.set_cluster("site");
  status.set_mountpoint("/srv/www");
  status.set_data_path("passthrough");
  status.set_entries(1200);
  status.set_tombstones(7);
  status.set_commit_failures(2);
  status.set_bytes_served(4096);
  PeerStatus* up = status.add_peers();
  up->set_address("10.0.0.2:7400");
  up->set_state("connected");
  up->set_lag_entries(3);
  up->set_lag_seconds(0.5);
  up->set_entries_applied(40);
  up->set_bytes_received(1 << 20);
  up->set_reconnects(4);
  up->set_last_contact_unix_ms(1'000'000);
  PeerStatus* down = status.add_peers();
  down->set_address("10.0.0.3:7400");
  down->set_state("retrying");
  down->set_fallback(true);
  down->set_in_use(true);
  down->set_last_contact_unix_ms(1'000'000);
  PullingNode* puller = status.add_pullers();
  puller->set_node(0xdef);
  puller->set_acknowledged_seq(99);
  return status;
}

TEST(StatusMetricsTest, ReplicaCountsAreGaugesAndCountersByConvention) {
  const std::vector<MetricFamily> families = StatusFamilies(TwoPeers(), 1'010'000);
  const MetricFamily* entries = Find(families, "replfs_entries");
  ASSERT_NE(entries, nullptr);
  EXPECT_EQ(entries->type, MetricType::Gauge);
  EXPECT_DOUBLE_EQ(entries->metric.at(0).gauge.value, 1200);
  const MetricFamily* failures = Find(families, "replfs_commit_failures_total");
  ASSERT_NE(failures, nullptr);
  EXPECT_EQ(failures->type, MetricType::Counter);
  EXPECT_DOUBLE_EQ(failures->metric.at(0).counter.value, 2);
  for (const MetricFamily& family : families) {
    EXPECT_EQ(family.name.rfind("replfs_", 0), 0u) << family.name;
    EXPECT_FALSE(family.help.empty()) << family.name;
    const bool total = family.name.ends_with("_total");
    EXPECT_EQ(total, family.type == MetricType::Counter) << family.name;
  }
  const MetricFamily* data_path = Find(families, "replfs_data_path");
  ASSERT_NE(data_path, nullptr);
  EXPECT_EQ(data_path->metric.at(0).label.at(0).value, "passthrough");
}

TEST(StatusMetricsTest, OneSeriesPerPeerInOneFamily) {
  const std::vector<MetricFamily> families = StatusFamilies(TwoPeers(), 1'010'000);
  const MetricFamily* up = Find(families, "replfs_peer_up");
  ASSERT_NE(up, nullptr);
  EXPECT_EQ(up->metric.size(), 2u);
  EXPECT_EQ(PeerValue(families, "replfs_peer_up", "10.0.0.2:7400"), 1);
  EXPECT_EQ(PeerValue(families, "replfs_peer_up", "10.0.0.3:7400"), 0);
  EXPECT_EQ(PeerValue(families, "replfs_peer_applied_entries_total", "10.0.0.2:7400"), 40);
  EXPECT_EQ(PeerValue(families, "replfs_peer_reconnects_total", "10.0.0.2:7400"), 4);
  EXPECT_EQ(PeerValue(families, "replfs_peer_lag_entries", "10.0.0.2:7400"), 3);
  // Each family is named once, however many series it has: a second
  // "# TYPE" line for a name makes Prometheus refuse the whole scrape.
  std::map<std::string, int> named;
  for (const MetricFamily& family : families) ++named[family.name];
  for (const auto& [name, count] : named) EXPECT_EQ(count, 1) << name;
  const std::string text = prometheus::TextSerializer().Serialize(families);
  EXPECT_NE(text.find("# TYPE replfs_peer_received_bytes_total counter"), std::string::npos);
  EXPECT_NE(text.find("replfs_peer_up{peer=\"10.0.0.3:7400\",role=\"fallback\"} 0"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("replfs_puller_acknowledged_seq"
                      "{node=\"0000000000000def\",is_peer=\"false\"} 99"),
            std::string::npos)
      << text;
}

TEST(StatusMetricsTest, LagOfAnUnreachablePeerGrowsFromItsLastContact) {
  // Connected: the lag the puller measured.
  EXPECT_DOUBLE_EQ(
      PeerValue(StatusFamilies(TwoPeers(), 1'010'000), "replfs_peer_lag_seconds", "10.0.0.2:7400"),
      0.5);
  // Unreachable: since it was last heard from, whatever the time now.
  EXPECT_DOUBLE_EQ(
      PeerValue(StatusFamilies(TwoPeers(), 1'010'000), "replfs_peer_lag_seconds", "10.0.0.3:7400"),
      10);
  EXPECT_DOUBLE_EQ(
      PeerValue(StatusFamilies(TwoPeers(), 1'070'000), "replfs_peer_lag_seconds", "10.0.0.3:7400"),
      70);
  // Never heard from: nothing to measure from.
  ReplicaStatus status = TwoPeers();
  status.mutable_peers(1)->set_last_contact_unix_ms(0);
  EXPECT_DOUBLE_EQ(
      PeerValue(StatusFamilies(status, 1'070'000), "replfs_peer_lag_seconds", "10.0.0.3:7400"), 0);
}

}  // namespace
}  // namespace replfs
