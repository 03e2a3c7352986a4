#include "tools/status_health.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace replfs {

const char* HealthName(Health health) {
  switch (health) {
    case Health::kHealthy:
      return "healthy";
    case Health::kDegraded:
      return "degraded";
    case Health::kUnreachable:
      return "unreachable";
  }
  return "unreachable";
}

Health Worse(Health a, Health b) { return static_cast<int>(a) >= static_cast<int>(b) ? a : b; }

namespace {

PeerAssessment AssessPeer(const HealthThresholds& thresholds, int64_t now_unix_ms,
                          const ReplicaStatus& replica, const PeerStatus& peer) {
  PeerAssessment a;
  a.address = peer.address();
  a.node = peer.node();
  a.incoming_lag_entries = peer.lag_entries();
  a.incoming_lag_seconds = peer.lag_seconds();
  if (peer.fallback() && !peer.in_use()) return a;  // Standing by is its job.
  if (peer.node() != 0 && !peer.fallback()) {
    // A fallback does not pull from us: only a peer has an outgoing lag.
    // Saturating: their position can only trail our head, but a restarted
    // peer may report a position from our previous incarnation.
    a.outgoing_lag_entries = replica.head_seq() > peer.their_applied_seq()
                                 ? replica.head_seq() - peer.their_applied_seq()
                                 : 0;
  }
  if (peer.last_contact_unix_ms() > 0) {
    a.silent_seconds =
        static_cast<double>(std::max<int64_t>(0, now_unix_ms - peer.last_contact_unix_ms())) /
        1000.0;
  }

  if (peer.state() != "connected") {
    a.down = true;
    std::string why = absl::StrCat("peer ", peer.address(), " is down (", peer.state());
    if (!peer.last_error().empty()) absl::StrAppend(&why, ": ", peer.last_error());
    absl::StrAppend(&why, ")");
    a.problems.push_back(why);
  } else if (peer.last_contact_unix_ms() > 0 && a.silent_seconds > thresholds.max_lag_seconds) {
    // Connected peers send a heartbeat every second or so: a silent stream
    // is a hung peer that TCP has not noticed yet.
    a.down = true;
    a.problems.push_back(
        absl::StrFormat("peer %s has been silent for %.0f s", peer.address(), a.silent_seconds));
  }
  if (a.incoming_lag_entries > thresholds.max_lag_entries ||
      a.incoming_lag_seconds > thresholds.max_lag_seconds) {
    a.behind = true;
    a.problems.push_back(absl::StrFormat("this replica is behind peer %s by %d entries (%.0f s)",
                                         peer.address(), a.incoming_lag_entries,
                                         a.incoming_lag_seconds));
  }
  if (peer.missed_purge_seq() > 0) {
    a.stale = true;
    a.problems.push_back(absl::StrFormat(
        "this replica is stale: peer %s had forgotten deletions (through its seq %d) that it "
        "never received; rebuild it from its peers",
        peer.address(), peer.missed_purge_seq()));
  }
  if (peer.set_aside_entries() > 0) {
    a.set_aside = true;
    std::string why = absl::StrFormat("%d entries from peer %s are set aside (this replica "
                                      "cannot apply them as sent; retried)",
                                      peer.set_aside_entries(), peer.address());
    if (peer.set_aside_size() > 0) {
      absl::StrAppend(&why, ": first ", peer.set_aside(0).path(), ": ", peer.set_aside(0).reason());
    }
    a.problems.push_back(why);
  }
  if (a.outgoing_lag_entries.has_value() && *a.outgoing_lag_entries > thresholds.max_lag_entries) {
    a.behind = true;
    a.problems.push_back(absl::StrFormat("peer %s is behind this replica by %d entries",
                                         peer.address(), *a.outgoing_lag_entries));
  }
  return a;
}

}  // namespace

void AssessReplica(const HealthThresholds& thresholds, int64_t now_unix_ms, ReplicaReport* report) {
  report->peers.clear();
  report->problems.clear();
  if (!report->status.has_value()) {
    report->health = Health::kUnreachable;
    report->problems.push_back(report->error.empty() ? "replica unreachable" : report->error);
    return;
  }
  report->health = Health::kHealthy;
  for (const PeerStatus& peer : report->status->peers()) {
    PeerAssessment a = AssessPeer(thresholds, now_unix_ms, *report->status, peer);
    if (a.down || a.behind || a.set_aside || a.stale) report->health = Health::kDegraded;
    report->problems.insert(report->problems.end(), a.problems.begin(), a.problems.end());
    report->peers.push_back(std::move(a));
  }
}

}  // namespace replfs
