#include "metrics/status_metrics.h"

#include <algorithm>
#include <cstdint>
#include <string>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "prometheus/client_metric.h"
#include "prometheus/metric_type.h"

namespace replfs {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;
using Labels = std::vector<ClientMetric::Label>;

// Builds the families of one scrape, each family once however many series
// it gets.
class FamilyBuilder {
 public:
  void Gauge(const std::string& name, const std::string& help, double value,
             Labels labels = {}) {
    ClientMetric metric;
    metric.label = std::move(labels);
    metric.gauge.value = value;
    Family(name, help, MetricType::Gauge).metric.push_back(std::move(metric));
  }
  void Counter(const std::string& name, const std::string& help, double value,
               Labels labels = {}) {
    ClientMetric metric;
    metric.label = std::move(labels);
    metric.counter.value = value;
    Family(name, help, MetricType::Counter).metric.push_back(std::move(metric));
  }
  std::vector<MetricFamily> Take() { return std::move(families_); }

 private:
  MetricFamily& Family(const std::string& name, const std::string& help, MetricType type) {
    for (MetricFamily& family : families_) {
      if (family.name == name) return family;
    }
    families_.push_back(MetricFamily{name, help, type, {}});
    return families_.back();
  }

  std::vector<MetricFamily> families_;
};

double AsDouble(uint64_t value) { return static_cast<double>(value); }
double AsDouble(int64_t value) { return static_cast<double>(value); }

void AddReplica(const ReplicaStatus& status, FamilyBuilder* out) {
  out->Gauge("replfs_info", "This replica: its node id, cluster and mountpoint (always 1)", 1,
             {{"node", absl::StrFormat("%016x", status.node())},
              {"cluster", status.cluster()},
              {"mountpoint", status.mountpoint()}});
  out->Gauge("replfs_data_path",
             "How file data moves: 1 for the path in use (passthrough: the kernel reads and "
             "writes the backing files; fuse: through the daemon)",
             1, {{"path", status.data_path()}});
  out->Gauge("replfs_start_time_seconds", "When the daemon started, seconds since the epoch",
             AsDouble(status.started_unix_ms()) / 1000.0);
  out->Gauge("replfs_entries", "Live paths in the change log", AsDouble(status.entries()));
  out->Gauge("replfs_tombstones", "Deletions kept until every puller has applied them",
             AsDouble(status.tombstones()));
  out->Gauge("replfs_log_head_seq", "Sequence number of the last change in the log",
             AsDouble(status.head_seq()));
  out->Gauge("replfs_pending_commits",
             "Local changes not recorded yet (files written and still open, records queued)",
             AsDouble(status.pending_commits()));
  out->Counter("replfs_commit_failures_total",
               "Local changes whose record failed (the next start-up scan records them)",
               AsDouble(status.commit_failures()));
  out->Gauge("replfs_conflict_copies", "Losers of concurrent writes kept as conflict copies",
             AsDouble(status.conflicts()));
  out->Gauge("replfs_versions_kept",
             "Old file versions kept aside for restores (-o keep_versions)",
             AsDouble(status.versions_kept()));
  out->Gauge("replfs_versions_bytes", "Bytes of the old file versions kept aside",
             AsDouble(status.versions_bytes()));
  out->Gauge("replfs_versions_not_kept",
             "Recorded changes whose old content could not be kept (too large to copy)",
             AsDouble(status.versions_not_kept()));
  out->Gauge("replfs_deferred_entries",
             "Peers' entries waiting for a local writer of their file to close",
             AsDouble(status.deferred()));
  out->Gauge("replfs_set_aside_entries",
             "Peers' entries this replica could not apply, kept and retried",
             AsDouble(status.set_aside()));
  out->Counter("replfs_served_bytes_total", "Entries and blocks sent to pullers",
               AsDouble(status.bytes_served()));
  out->Gauge("replfs_warnings", "Warnings replfs-status shows", status.warnings_size());
}

// What may be missing here of the peer's changes, in seconds: while its
// feed is up, the time since this replica was last caught up with it (0
// when it is); while the peer is unreachable, the time since it was last
// heard from (its changes since are unknown here).
double LagSeconds(const PeerStatus& peer, int64_t now_unix_ms) {
  if (peer.state() == "connected" || peer.last_contact_unix_ms() == 0) return peer.lag_seconds();
  return AsDouble(std::max<int64_t>(0, now_unix_ms - peer.last_contact_unix_ms())) / 1000.0;
}

void AddPeer(const PeerStatus& peer, int64_t now_unix_ms, FamilyBuilder* out) {
  const Labels labels{{"peer", peer.address()}, {"role", peer.fallback() ? "fallback" : "peer"}};
  out->Gauge("replfs_peer_up", "1 while the peer's change feed is connected",
             peer.state() == "connected" ? 1 : 0, labels);
  out->Gauge("replfs_peer_in_use",
             "1 while the peer is pulled from (a fallback peer: only while no peer answers)",
             peer.fallback() && !peer.in_use() ? 0 : 1, labels);
  out->Counter("replfs_peer_reconnects_total", "Feed sessions started after the first",
               AsDouble(peer.reconnects()), labels);
  out->Gauge("replfs_peer_lag_entries", "The peer's log entries not applied here yet",
             AsDouble(peer.lag_entries()), labels);
  out->Gauge("replfs_peer_lag_seconds",
             "Seconds of the peer's changes that may be missing here: since last caught up "
             "while connected, since last heard from while not",
             LagSeconds(peer, now_unix_ms), labels);
  out->Counter("replfs_peer_received_bytes_total", "Entries and blocks pulled from the peer",
               AsDouble(peer.bytes_received()), labels);
  out->Counter("replfs_peer_compression_saved_bytes_total",
               "Bytes that -o compression=gzip spared of what came from the peer",
               AsDouble(peer.bytes_saved_by_compression()), labels);
  out->Counter("replfs_peer_received_entries_total", "Entries received from the peer",
               AsDouble(peer.entries_received()), labels);
  out->Counter("replfs_peer_applied_entries_total",
               "Entries from the peer that won and changed this replica",
               AsDouble(peer.entries_applied()), labels);
  out->Counter("replfs_peer_fetched_block_bytes_total", "File data fetched from the peer",
               AsDouble(peer.block_bytes_fetched()), labels);
  out->Counter("replfs_peer_reused_blocks_total",
               "Blocks of the peer's files found here by hash, not fetched",
               AsDouble(peer.blocks_reused_locally()), labels);
  out->Counter("replfs_peer_rejected_entries_total",
               "Messages and entries of the peer refused as no honest replica sends them",
               AsDouble(peer.rejected_entries()), labels);
  out->Gauge("replfs_peer_set_aside_entries", "Entries of the peer set aside here",
             AsDouble(peer.set_aside_entries()), labels);
  out->Gauge("replfs_peer_clock_skew_seconds", "The peer's clock minus ours at last contact",
             AsDouble(peer.clock_skew_ms()) / 1000.0, labels);
  out->Gauge("replfs_peer_last_contact_timestamp_seconds",
             "Last contact with the peer, seconds since the epoch (0: never)",
             AsDouble(peer.last_contact_unix_ms()) / 1000.0, labels);
  out->Gauge("replfs_peer_stale",
             "1 if the peer purged deletions this replica had not seen (reconciling)",
             peer.missed_purge_seq() > 0 ? 1 : 0, labels);
}

}  // namespace

std::vector<MetricFamily> StatusFamilies(const ReplicaStatus& status, int64_t now_unix_ms) {
  FamilyBuilder out;
  AddReplica(status, &out);
  for (const PeerStatus& peer : status.peers()) AddPeer(peer, now_unix_ms, &out);
  for (const PullingNode& puller : status.pullers()) {
    out.Gauge("replfs_puller_acknowledged_seq",
              "How far a node that pulls from this replica has applied its log",
              AsDouble(puller.acknowledged_seq()),
              {{"node", absl::StrFormat("%016x", puller.node())},
               {"is_peer", puller.is_peer() ? "true" : "false"}});
  }
  return out.Take();
}

std::vector<MetricFamily> StatusMetrics::Collect() const {
  return StatusFamilies(status_(), absl::ToUnixMillis(absl::Now()));
}

}  // namespace replfs
