#include "tests/chaos/proxied_cluster.h"

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "replfs.grpc.pb.h"
#include "tests/chaos/chaos_common.h"
#include "tests/cluster.h"
#include "tests/support/replica_process.h"
#include "tests/tcp_proxy.h"

namespace replfs::testing::chaos {

ProxiedCluster::~ProxiedCluster() {
  // A stopped process would hold its unmount (and this test) forever.
  for (int i = 0; i < static_cast<int>(replicas_.size()); ++i) Resume(i);
  replicas_.clear();  // Unmounts and stops each by PID (SIGKILL if needed).
  proxies_.clear();
}

absl::Status ProxiedCluster::Init() {
  absl::StatusOr<std::vector<int>> ports = DistinctLoopbackPorts(kReplicas);
  if (!ports.ok()) return ports.status();
  ports_ = *std::move(ports);
  for (int from = 0; from < kReplicas; ++from) {
    for (int to = 0; to < kReplicas; ++to) {
      proxies_.push_back(std::make_unique<TcpProxy>(ports_[static_cast<size_t>(to)]));
      if (from == to) continue;
      if (absl::Status s = proxies_.back()->Start(); !s.ok()) return s;
    }
  }
  for (int i = 0; i < kReplicas; ++i) {
    std::vector<std::string> peers;
    for (int j = 0; j < kReplicas; ++j) {
      if (j != i) peers.push_back(absl::StrCat("127.0.0.1:", link(i, j).port()));
    }
    const std::string options =
        absl::StrCat("listen=127.0.0.1:", ports_[static_cast<size_t>(i)],
                     ",log_level=debug,peers=", absl::StrJoin(peers, ";"));
    replicas_.push_back(std::make_unique<ReplicaProcess>(
        dir_.Sub(absl::StrCat("b", i)), dir_.Sub(absl::StrCat("m", i)),
        std::vector<std::string>{"-o", options}));
    paused_.push_back(false);
  }
  return absl::OkStatus();
}

absl::Status ProxiedCluster::WaitForConvergence(absl::Duration timeout) {
  std::vector<NamedMount> mounts;
  mounts.reserve(kReplicas);
  for (int i = 0; i < kReplicas; ++i) {
    mounts.push_back({absl::StrCat("replica ", i), replica(i).mountpoint()});
  }
  return WaitForMountsToConverge(mounts, timeout, [this] { return Diagnostics(); });
}

std::string ProxiedCluster::Diagnostics(const std::set<std::string>& paths) const {
  std::string out;
  for (int i = 0; i < kReplicas; ++i) {
    absl::StrAppend(&out, "==== replica ", i, " (port ", ports_[static_cast<size_t>(i)], ", ",
                    running(i) ? "running" : "stopped", ") ====\n");
    if (running(i)) {
      absl::StatusOr<ReplicaStatus> status = Status(i);
      absl::StrAppend(&out, status.ok() ? status->ShortDebugString() : status.status().ToString(),
                      "\n");
    }
    const std::string log = replica(i).Log();
    if (!paths.empty()) {
      std::vector<absl::string_view> lines;
      for (absl::string_view line : absl::StrSplit(log, '\n')) {
        for (const std::string& p : paths) {
          if (absl::StrContains(line, absl::StrCat(" ", p, ":")) ||
              absl::StrContains(line, absl::StrCat(" ", p, " "))) {
            lines.push_back(line);
            break;
          }
        }
      }
      const size_t first = lines.size() > 80 ? lines.size() - 80 : 0;
      absl::StrAppend(&out, "-- log lines naming the lost paths --\n");
      for (size_t k = first; k < lines.size(); ++k) absl::StrAppend(&out, lines[k], "\n");
    }
    absl::StrAppend(&out, "-- log tail --\n",
                    log.size() > 8000 ? log.substr(log.size() - 8000) : log, "\n");
  }
  return out;
}

}  // namespace replfs::testing::chaos
