#ifndef REPLFS_TESTS_WAN_BED_H_
#define REPLFS_TESTS_WAN_BED_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "tests/cluster.h"
#include "tests/delay_relay.h"
#include "tests/netns.h"
#include "tests/support/replica_process.h"

namespace replfs::testing {

struct WanBedOptions {
  // Datacentres besides the centre (numbered 1..datacentres; 0 is the centre).
  int datacentres = 2;
  // Replicas per datacentre; server 0 is its hub (the centre has one replica).
  int servers = 2;
  LinkConditions link;
  // tbf rate limit on each datacentre bridge's egress (0: none); see wan_bed.cc.
  int rate_mbit = 0;
  // Spokes fall back to the centre (through their datacentre's relay) once
  // their hub has been silent this long; zero: spokes have no fallback.
  absl::Duration spoke_fallback_after = absl::ZeroDuration();
  // Appended to every replica's command line (e.g. {"-o", "tombstone_grace=1"}).
  std::vector<std::string> extra_args;
  // Names of namespaces and the temp dir start with it; empty: a unique
  // "rwb<pid>n<count>" (tools/wan-bed down finds leftovers by "rwb").
  std::string prefix;
};

// Where one replica lives: datacentre 0 is the centre (server 0 only).
struct Site {
  int dc = 0;
  int server = 0;
  std::string Name() const;  // "centre", "dc1-hub", "dc1-s1"...
};

// Replicas in their own network namespaces, datacentres joined only by
// delaying relays (layout and addresses: wan_bed.cc). Up() builds it all;
// the destructor tears everything down (replicas, mounts, relays,
// namespaces, temp dir) whatever state a test left it in.
class WanBed {
 public:
  static constexpr const char* kPrefixRoot = "rwb";
  explicit WanBed(WanBedOptions options);
  ~WanBed();  // Down().
  WanBed(const WanBed&) = delete;
  WanBed& operator=(const WanBed&) = delete;

  // Namespaces, bridges, veths, rate limits, relays; then starts every
  // replica. First removes what beds of dead processes left (CleanUpBeds):
  // a process killed mid-test never ran its destructor.
  absl::Status Up();
  // Stops replicas (SIGKILL if they do not stop), relays, deletes namespaces
  // and the temp dir. Idempotent.
  void Down();

  const std::string& prefix() const { return prefix_; }
  int datacentres() const { return options_.datacentres; }
  int servers() const { return options_.servers; }
  std::vector<Site> Sites() const;               // Every replica, centre first.
  std::vector<Site> SitesOf(int dc) const;
  ReplicaProcess& replica(const Site& site);
  const ReplicaProcess& replica(const Site& site) const;
  std::string Mount(const Site& site, const std::string& relative = "") const;
  std::string Address(const Site& site) const;  // "10.77.1.2:7400"
  std::string NamespaceOf(const Site& site) const;

  absl::Status Start(const Site& site);
  absl::Status Stop(const Site& site);
  absl::Status StartDatacentre(int dc);
  // Power outage: SIGKILLs every replica of `dc` at once, then reaps them
  // and lazily unmounts their dead mounts.
  void KillDatacentre(int dc);
  // The link between datacentre `dc` (1..) and the centre: both relays.
  void CutLink(int dc);
  void HealLink(int dc);
  // Every WAN link of `dc` (all of them for the centre).
  void CutDatacentre(int dc);
  void HealDatacentre(int dc);
  // Bytes the relays of `dc`'s link forwarded, both directions.
  uint64_t LinkBytes(int dc) const;

  // Every running replica (default) or `sites` shows the same tree.
  absl::Status WaitForConvergence(absl::Duration timeout, std::vector<Site> sites = {});
  std::string Diagnostics() const;
  // A human-readable table of replicas: name, address, namespace, mount.
  std::string Describe() const;

 private:
  struct Link {
    std::unique_ptr<DelayRelay> up;    // In dc's bridge, to the centre.
    std::unique_ptr<DelayRelay> down;  // In the centre's bridge, to dc's hub.
  };
  size_t Index(const Site& site) const;
  absl::Status BuildNetwork();
  absl::Status AddReplicaNamespace(const Site& site);
  absl::Status StartRelays();
  std::vector<std::string> Arguments(const Site& site) const;
  std::string Core(const std::vector<std::string>& args) const;

  WanBedOptions options_;
  std::string prefix_;
  bool down_ = false;
  std::unique_ptr<TempDir> dir_;
  std::unique_ptr<NetNamespace> core_;
  std::vector<std::unique_ptr<NetNamespace>> namespaces_;  // Index(site) order.
  std::vector<Link> links_;                                 // links_[dc - 1].
  std::vector<std::unique_ptr<ReplicaProcess>> replicas_;  // Index(site) order.
};

// Removes what beds with names starting with `prefix` left behind: kills
// processes in their namespaces, unmounts their mounts under the temp dir,
// deletes namespaces and temp dirs. Beds whose owning process (the pid in
// the name) is alive are skipped unless `even_live`. Returns what it did.
std::string CleanUpBeds(const std::string& prefix, bool even_live);

}  // namespace replfs::testing

#endif  // REPLFS_TESTS_WAN_BED_H_
