// The WAN test bed's layout:
//
//   namespace PREFIX-core: one bridge per datacentre, brD with 10.77.D.254/24
//     (br0 is the centre's). ip_forward is off there, so datacentres reach
//     each other only through the relays, which are threads of this process
//     with sockets created in the core namespace.
//   namespace PREFIX-dDsS per replica: eth0 with 10.77.D.(S+1)/24, whose
//     veth peer (dDsS in the core) is a port of brD. No default route: a
//     replica reaches its own datacentre's subnet and nothing else.
//
// Every replica listens on its address, port 7400. Spokes (server >= 1)
// pull from their hub (server 0) and the hub from its spokes, directly over
// the bridge. Across the WAN, hub D pulls from the relay 10.77.D.254:7500
// (to the centre, 10.77.0.1:7400), and the centre from the relay
// 10.77.0.254:(7500+D) (to hub D). Both relays of a link share its stall
// schedule, so a stall holds the link in both directions.
//
// Rate limit: a tbf qdisc on each bridge. Traffic a relay sends into
// datacentre D leaves the core's stack through brD, so brD's qdisc limits
// what D receives from the WAN (all links into the centre share br0's),
// while traffic between two replicas of one datacentre is bridged port to
// port and never passes it.
#include "tests/wan_bed.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"

namespace replfs::testing {
namespace {

constexpr int kReplicaPort = 7400;
constexpr int kRelayPort = 7500;

std::string Subnet(int dc) { return absl::StrCat("10.77.", dc, "."); }
std::string Bridge(int dc) { return absl::StrCat("br", dc); }
std::string VethInCore(const Site& site) { return absl::StrCat("d", site.dc, "s", site.server); }

absl::Status Run(const std::vector<std::string>& argv) { return RunTool(argv).status(); }

std::string UniquePrefix() {
  static std::atomic<int> beds{0};
  return absl::StrCat(WanBed::kPrefixRoot, ::getpid(), "n", beds++);
}

}  // namespace

std::string Site::Name() const {
  if (dc == 0) return "centre";
  return server == 0 ? absl::StrCat("dc", dc, "-hub") : absl::StrCat("dc", dc, "-s", server);
}

WanBed::WanBed(WanBedOptions options)
    : options_(std::move(options)),
      prefix_(options_.prefix.empty() ? UniquePrefix() : options_.prefix) {}

WanBed::~WanBed() { Down(); }

size_t WanBed::Index(const Site& site) const {
  return site.dc == 0 ? 0 : static_cast<size_t>(1 + (site.dc - 1) * options_.servers + site.server);
}

std::vector<Site> WanBed::Sites() const {
  std::vector<Site> sites = {Site{0, 0}};
  for (int dc = 1; dc <= options_.datacentres; ++dc) {
    for (int s = 0; s < options_.servers; ++s) sites.push_back(Site{dc, s});
  }
  return sites;
}

std::vector<Site> WanBed::SitesOf(int dc) const {
  if (dc == 0) return {Site{0, 0}};
  std::vector<Site> sites;
  sites.reserve(static_cast<size_t>(options_.servers));
  for (int s = 0; s < options_.servers; ++s) sites.push_back(Site{dc, s});
  return sites;
}

ReplicaProcess& WanBed::replica(const Site& site) { return *replicas_[Index(site)]; }
const ReplicaProcess& WanBed::replica(const Site& site) const { return *replicas_[Index(site)]; }

std::string WanBed::Mount(const Site& site, const std::string& relative) const {
  const std::string& m = replica(site).mountpoint();
  return relative.empty() ? m : absl::StrCat(m, "/", relative);
}

std::string WanBed::Address(const Site& site) const {
  return absl::StrCat(Subnet(site.dc), site.server + 1, ":", kReplicaPort);
}

std::string WanBed::NamespaceOf(const Site& site) const {
  return absl::StrCat(prefix_, "-", VethInCore(site));
}

std::vector<std::string> WanBed::Arguments(const Site& site) const {
  std::vector<std::string> peers;
  if (site.dc == 0) {
    for (int dc = 1; dc <= options_.datacentres; ++dc) {
      peers.push_back(absl::StrCat(Subnet(0), "254:", kRelayPort + dc));
    }
  } else if (site.server == 0) {
    peers.push_back(absl::StrCat(Subnet(site.dc), "254:", kRelayPort));
    for (int s = 1; s < options_.servers; ++s) peers.push_back(Address(Site{site.dc, s}));
  } else {
    peers.push_back(Address(Site{site.dc, 0}));
  }
  std::vector<std::string> args = {
      "-o", absl::StrCat("listen=", Address(site), ",log_level=info,peers=", absl::StrJoin(peers, ";")),
      // Plain TCP between namespaces this process made: nothing leaves the host.
      "-o", "insecure"};
  if (site.dc != 0 && site.server != 0 && options_.spoke_fallback_after > absl::ZeroDuration()) {
    args.push_back("-o");
    args.push_back(absl::StrCat("fallback_peers=", Subnet(site.dc), "254:", kRelayPort,
                                ",fallback_after=",
                                absl::ToDoubleSeconds(options_.spoke_fallback_after)));
  }
  args.insert(args.end(), options_.extra_args.begin(), options_.extra_args.end());
  return args;
}

absl::Status WanBed::AddReplicaNamespace(const Site& site) {
  absl::StatusOr<std::unique_ptr<NetNamespace>> ns = NetNamespace::Create(NamespaceOf(site));
  if (!ns.ok()) return ns.status();
  namespaces_.push_back(*std::move(ns));
  const std::string& name = namespaces_.back()->name();
  const std::string veth = VethInCore(site);
  const std::string core = core_->name();
  const std::string address = absl::StrCat(Subnet(site.dc), site.server + 1, "/24");
  for (const std::vector<std::string>& argv : std::vector<std::vector<std::string>>{
           {"ip", "-n", core, "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", name},
           {"ip", "-n", core, "link", "set", veth, "master", Bridge(site.dc), "up"},
           {"ip", "-n", name, "addr", "add", address, "dev", "eth0"},
           {"ip", "-n", name, "link", "set", "eth0", "up"}}) {
    if (absl::Status s = Run(argv); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status WanBed::BuildNetwork() {
  absl::StatusOr<std::unique_ptr<NetNamespace>> core = NetNamespace::Create(prefix_ + "-core");
  if (!core.ok()) return core.status();
  core_ = *std::move(core);
  const std::string& name = core_->name();
  // A new namespace may inherit forwarding on from the host: datacentres
  // must meet only in the relays.
  if (absl::Status s = Run({"ip", "netns", "exec", name, "sysctl", "-qw", "net.ipv4.ip_forward=0"});
      !s.ok()) {
    return s;
  }
  for (int dc = 0; dc <= options_.datacentres; ++dc) {
    std::vector<std::vector<std::string>> commands = {
        {"ip", "-n", name, "link", "add", Bridge(dc), "type", "bridge"},
        {"ip", "-n", name, "addr", "add", absl::StrCat(Subnet(dc), "254/24"), "dev", Bridge(dc)},
        {"ip", "-n", name, "link", "set", Bridge(dc), "up"}};
    if (options_.rate_mbit > 0) {
      commands.push_back({"tc", "-n", name, "qdisc", "add", "dev", Bridge(dc), "root", "tbf", "rate",
                          absl::StrCat(options_.rate_mbit, "mbit"), "burst", "64kb", "latency",
                          "200ms"});
    }
    for (const std::vector<std::string>& argv : commands) {
      if (absl::Status s = Run(argv); !s.ok()) return s;
    }
  }
  for (const Site& site : Sites()) {
    if (absl::Status s = AddReplicaNamespace(site); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status WanBed::StartRelays() {
  const absl::Time epoch = absl::Now();
  for (int dc = 1; dc <= options_.datacentres; ++dc) {
    LinkConditions conditions = options_.link;
    conditions.seed = options_.link.seed * 7919 + static_cast<uint64_t>(dc);
    auto stalls = std::make_shared<const StallSchedule>(epoch, conditions);
    Link link;
    link.up = std::make_unique<DelayRelay>(
        core_->path(), Endpoint{absl::StrCat(Subnet(dc), "254"), kRelayPort},
        Endpoint{absl::StrCat(Subnet(0), "1"), kReplicaPort}, conditions, stalls);
    link.down = std::make_unique<DelayRelay>(
        core_->path(), Endpoint{absl::StrCat(Subnet(0), "254"), kRelayPort + dc},
        Endpoint{absl::StrCat(Subnet(dc), "1"), kReplicaPort}, conditions, stalls);
    if (absl::Status s = link.up->Start(); !s.ok()) return s;
    if (absl::Status s = link.down->Start(); !s.ok()) return s;
    links_.push_back(std::move(link));
  }
  return absl::OkStatus();
}

absl::Status WanBed::Up() {
  if (options_.datacentres < 1 || options_.datacentres > 200 || options_.servers < 1 ||
      options_.servers > 200) {
    return absl::InvalidArgumentError("1..200 datacentres of 1..200 servers");
  }
  // A bed whose process died before its destructor ran (SIGKILL, a CTest
  // run stopped mid-test) left its namespaces and temp dir: the next bed
  // removes them. Beds of live processes (tests run in parallel) stay.
  const std::string swept = CleanUpBeds(kPrefixRoot, /*even_live=*/false);
  if (absl::StrContains(swept, "removed")) std::fprintf(stderr, "wan bed: %s", swept.c_str());
  dir_ = std::make_unique<TempDir>(prefix_);
  if (absl::Status s = BuildNetwork(); !s.ok()) return s;
  if (absl::Status s = StartRelays(); !s.ok()) return s;
  for (const Site& site : Sites()) {
    auto replica = std::make_unique<ReplicaProcess>(dir_->Sub("b-" + site.Name()),
                                                    dir_->Sub("m-" + site.Name()), Arguments(site));
    replica->set_network_namespace(NetnsPath(NamespaceOf(site)));
    replicas_.push_back(std::move(replica));
  }
  for (const Site& site : Sites()) {
    if (absl::Status s = Start(site); !s.ok()) return s;
  }
  return absl::OkStatus();
}

void WanBed::Down() {
  if (down_) return;
  down_ = true;
  // Spokes, then hubs, then the centre; each one killed if it will not stop.
  for (auto it = replicas_.rbegin(); it != replicas_.rend(); ++it) {
    if ((*it)->pid() > 0 && !(*it)->Stop().ok()) (*it)->Kill();
  }
  replicas_.clear();
  for (Link& link : links_) {
    link.up->Stop();
    link.down->Stop();
  }
  links_.clear();
  namespaces_.clear();  // Each kills what is left inside and deletes itself.
  core_.reset();
  dir_.reset();  // Unmounts anything left below, then removes the tree.
}

absl::Status WanBed::Start(const Site& site) {
  absl::Status s = replica(site).Start();
  if (!s.ok()) return absl::Status(s.code(), absl::StrCat(site.Name(), ": ", s.message()));
  return absl::OkStatus();
}

absl::Status WanBed::Stop(const Site& site) { return replica(site).Stop(); }

absl::Status WanBed::StartDatacentre(int dc) {
  for (const Site& site : SitesOf(dc)) {
    if (absl::Status s = Start(site); !s.ok()) return s;
  }
  return absl::OkStatus();
}

void WanBed::KillDatacentre(int dc) {
  // Every process first, so none sees another go: a power outage.
  for (const Site& site : SitesOf(dc)) {
    if (replica(site).pid() > 0) ::kill(replica(site).pid(), SIGKILL);
  }
  for (const Site& site : SitesOf(dc)) replica(site).Kill();  // Reaps, unmounts.
}

void WanBed::CutLink(int dc) {
  links_[static_cast<size_t>(dc - 1)].up->Cut();
  links_[static_cast<size_t>(dc - 1)].down->Cut();
}

void WanBed::HealLink(int dc) {
  links_[static_cast<size_t>(dc - 1)].up->Heal();
  links_[static_cast<size_t>(dc - 1)].down->Heal();
}

void WanBed::CutDatacentre(int dc) {
  for (int d = 1; d <= options_.datacentres; ++d) {
    if (dc == 0 || d == dc) CutLink(d);
  }
}

void WanBed::HealDatacentre(int dc) {
  for (int d = 1; d <= options_.datacentres; ++d) {
    if (dc == 0 || d == dc) HealLink(d);
  }
}

uint64_t WanBed::LinkBytes(int dc) const {
  const Link& link = links_[static_cast<size_t>(dc - 1)];
  return link.up->bytes_forwarded() + link.down->bytes_forwarded();
}

absl::Status WanBed::WaitForConvergence(absl::Duration timeout, std::vector<Site> sites) {
  if (sites.empty()) {
    for (const Site& site : Sites()) {
      if (replica(site).pid() > 0) sites.push_back(site);
    }
  }
  std::vector<NamedMount> mounts;
  mounts.reserve(sites.size());
  for (const Site& site : sites) mounts.push_back({site.Name(), Mount(site)});
  return WaitForMountsToConverge(mounts, timeout, [this] { return Diagnostics(); });
}

std::string WanBed::Diagnostics() const {
  std::string out;
  for (size_t i = 0; i < links_.size(); ++i) {
    for (const DelayRelay* relay : {links_[i].up.get(), links_[i].down.get()}) {
      absl::StrAppend(&out, "relay dc", i + 1, " ", relay->listen().ToString(), " -> ",
                      relay->target().ToString(), relay->cut() ? " (cut)" : "", ": ",
                      relay->connections(), " connections, ", relay->bytes_forwarded(), " bytes\n");
    }
  }
  for (const Site& site : Sites()) {
    absl::StrAppend(&out, ReplicaDiagnostics(absl::StrCat(site.Name(), " ", Address(site)), replica(site)));
  }
  return out;
}

std::string WanBed::Describe() const {
  std::string out = absl::StrCat("bed ", prefix_, " (core namespace ", prefix_, "-core)\n");
  for (const Site& site : Sites()) {
    absl::StrAppend(&out, site.Name(), "\t", Address(site), "\tnetns ", NamespaceOf(site), "\tmount ",
                    Mount(site), "\tadmin unix:", replica(site).StateDir(), "/admin.sock\n");
  }
  for (const auto& link : links_) {
    for (const DelayRelay* relay : {link.up.get(), link.down.get()}) {
      absl::StrAppend(&out, "relay ", relay->listen().ToString(), " -> ", relay->target().ToString(), "\n");
    }
  }
  return out;
}

}  // namespace replfs::testing
