// Mutual TLS between replicas (DESIGN.md, Replication: "Peers authenticate
// each other with mutual TLS against a cluster CA; a replica refuses to
// listen on a non-loopback address without TLS"). Certificates come from
// tools/replfs-certs; every replica is a real replfs process. Replicas with
// the cluster's certificates replicate; one with another CA's certificate,
// an expired one or none at all is refused in both directions, and says so
// in its status. With TLS, -o metrics is served over mutual TLS as well.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fake_peer.h"
#include "tests/netns.h"
#include "tests/support/replica_process.h"
#include "tests/support/child_process.h"

namespace replfs {
namespace {

using ::testing::HasSubstr;
using testing::CallHello;
using testing::FreeLoopbackPort;
using testing::PeerStatusFor;
using testing::ReplicaProcess;
using testing::TempDir;
using testing::WaitUntil;

void WriteAll(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
}

struct RunResult {
  int exit_code = -1;  // -1: killed after the timeout.
  std::string output;  // stdout and stderr.
};

// Runs `argv` with output captured, killing it (by its pid) after `timeout`.
RunResult RunCaptured(const std::vector<std::string>& argv, const std::string& output_path,
              std::chrono::seconds timeout = std::chrono::seconds(30)) {
  RunResult result;
  testing::ChildOptions output;
  output.stdout_path = output_path;
  output.stderr_path = output_path;
  result.exit_code = testing::RunChild(argv, output, absl::Seconds(timeout.count()));
  result.output = testing::ReadWholeFile(output_path);
  return result;
}

bool LooksLikeTlsError(const std::string& error) {
  const std::string lower = absl::AsciiStrToLower(error);
  for (const char* word : {"ssl", "tls", "handshake", "certificate"}) {
    if (absl::StrContains(lower, word)) return true;
  }
  return false;
}

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = std::make_unique<TempDir>("replfs-tls");
    ca_ = root_->path() + "/ca";
    other_ca_ = root_->path() + "/other-ca";
    for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
             {"init", ca_},
             {"node", ca_, "a"},
             {"node", ca_, "b"},
             {"node", ca_, "stale", "--expired"},
             {"init", other_ca_},
             {"node", other_ca_, "intruder"}}) {
      std::vector<std::string> argv = {"/bin/bash", REPLFS_CERTS_TOOL};
      argv.insert(argv.end(), args.begin(), args.end());
      const RunResult r = RunCaptured(argv, root_->path() + "/certs.out");
      ASSERT_EQ(r.exit_code, 0) << "replfs-certs " << args[0] << ": " << r.output;
    }
  }

  // Port for replica `name`, allocated once.
  int Port(const std::string& name) {
    auto it = ports_.find(name);
    if (it != ports_.end()) return it->second;
    // Distinct from every port already given out: the kernel may hand the
    // same free port out twice.
    absl::StatusOr<int> port = FreeLoopbackPort();
    for (int attempt = 0; port.ok() && attempt < 20 && PortTaken(*port); ++attempt) {
      port = FreeLoopbackPort();
    }
    EXPECT_TRUE(port.ok() && !PortTaken(*port)) << port.status();
    ports_[name] = port.ok() ? *port : 1;
    return ports_[name];
  }
  bool PortTaken(int port) const {
    for (const auto& [name, taken] : ports_) {
      if (taken == port) return true;
    }
    return false;
  }
  std::string Address(const std::string& name) { return absl::StrCat("127.0.0.1:", Port(name)); }

  // A replica named `name` listening on its port, pulling from `peer`, with
  // `tls` options ("" for plaintext).
  std::unique_ptr<ReplicaProcess> MakeReplica(const std::string& name, const std::string& peer,
                                              const std::string& tls) {
    std::string options = absl::StrCat("listen=", Address(name), ",peers=", Address(peer));
    if (!tls.empty()) absl::StrAppend(&options, ",", tls);
    return std::make_unique<ReplicaProcess>(root_->Sub("backing-" + name), root_->Sub("mnt-" + name),
                                            std::vector<std::string>{"-o", options});
  }
  std::string Tls(const std::string& ca_dir, const std::string& cert_dir, const std::string& node) {
    return absl::StrCat("tls_ca=", ca_dir, "/ca.crt,tls_cert=", cert_dir, "/", node,
                        ".crt,tls_key=", cert_dir, "/", node, ".key");
  }

  // `a` (a cluster member) and `x` (the refused one) point at each other;
  // neither may reach the other, both say why, and nothing replicates.
  void ExpectRefusedBothWays(ReplicaProcess& a, ReplicaProcess& x, const std::string& x_name) {
    WriteAll(a.MountPath("from-a.txt"), "a\n");
    WriteAll(x.MountPath("from-x.txt"), "x\n");
    const auto refused = [&](ReplicaProcess& side, const std::string& peer) {
      absl::StatusOr<PeerStatus> status = PeerStatusFor(side.backing(), peer);
      return status.ok() && status->state() != "connected" && LooksLikeTlsError(status->last_error());
    };
    EXPECT_TRUE(WaitUntil([&] { return refused(a, Address(x_name)); }, absl::Seconds(20)))
        << "cluster member's view of " << x_name << ": "
        << PeerStatusFor(a.backing(), Address(x_name)).value_or(PeerStatus()).ShortDebugString();
    EXPECT_TRUE(WaitUntil([&] { return refused(x, Address("a")); }, absl::Seconds(20)))
        << x_name << "'s view of the cluster member: "
        << PeerStatusFor(x.backing(), Address("a")).value_or(PeerStatus()).ShortDebugString();
    // Several retries later, still nothing got through.
    absl::SleepFor(absl::Seconds(2));
    EXPECT_FALSE(std::ifstream(x.MountPath("from-a.txt")).good()) << "data reached " << x_name;
    EXPECT_FALSE(std::ifstream(a.MountPath("from-x.txt")).good()) << "data came from " << x_name;
    for (ReplicaProcess* side : {&a, &x}) {
      absl::StatusOr<ReplicaStatus> status = testing::AdminStatus(side->backing());
      ASSERT_TRUE(status.ok()) << status.status();
      for (const PeerStatus& peer : status->peers()) {
        EXPECT_EQ(peer.entries_received(), 0u) << peer.ShortDebugString();
        EXPECT_NE(peer.state(), "connected") << peer.ShortDebugString();
      }
    }
  }

  std::unique_ptr<TempDir> root_;
  std::string ca_, other_ca_;
  std::map<std::string, int> ports_;
};

TEST_F(TlsTest, ReplicasWithClusterCertificatesReplicate) {
  auto a = MakeReplica("a", "b", Tls(ca_, ca_, "a"));
  auto b = MakeReplica("b", "a", Tls(ca_, ca_, "b"));
  ASSERT_TRUE(a->Start().ok()) << a->Log();
  ASSERT_TRUE(b->Start().ok()) << b->Log();
  WriteAll(a->MountPath("from-a.txt"), "over tls\n");
  WriteAll(b->MountPath("from-b.txt"), "and back\n");
  EXPECT_TRUE(WaitUntil([&] { return testing::ReadWholeFile(b->MountPath("from-a.txt")) == "over tls\n"; },
                        absl::Seconds(30)))
      << a->Log() << b->Log();
  EXPECT_TRUE(WaitUntil([&] { return testing::ReadWholeFile(a->MountPath("from-b.txt")) == "and back\n"; },
                        absl::Seconds(30)))
      << a->Log() << b->Log();
  absl::StatusOr<PeerStatus> peer = PeerStatusFor(a->backing(), Address("b"));
  ASSERT_TRUE(peer.ok()) << peer.status();
  EXPECT_EQ(peer->state(), "connected");
  // A plaintext client gets nothing from a TLS replica.
  EXPECT_FALSE(CallHello(Address("a")).ok());
  EXPECT_TRUE(a->Stop().ok());
  EXPECT_TRUE(b->Stop().ok());
}

// Knows the cluster CA (it is public), but its certificate is signed by
// another CA.
TEST_F(TlsTest, CertificateOfAnotherCaIsRefused) {
  auto a = MakeReplica("a", "intruder", Tls(ca_, ca_, "a"));
  auto x = MakeReplica("intruder", "a", Tls(ca_, other_ca_, "intruder"));
  ASSERT_TRUE(a->Start().ok()) << a->Log();
  ASSERT_TRUE(x->Start().ok()) << x->Log();
  ExpectRefusedBothWays(*a, *x, "intruder");
}

// A replica of another cluster altogether (its own CA on both ends).
TEST_F(TlsTest, ReplicaOfAnotherCaClusterIsRefused) {
  auto a = MakeReplica("a", "intruder", Tls(ca_, ca_, "a"));
  auto x = MakeReplica("intruder", "a", Tls(other_ca_, other_ca_, "intruder"));
  ASSERT_TRUE(a->Start().ok()) << a->Log();
  ASSERT_TRUE(x->Start().ok()) << x->Log();
  ExpectRefusedBothWays(*a, *x, "intruder");
}

TEST_F(TlsTest, ExpiredCertificateIsRefused) {
  auto a = MakeReplica("a", "stale", Tls(ca_, ca_, "a"));
  auto x = MakeReplica("stale", "a", Tls(ca_, ca_, "stale"));
  ASSERT_TRUE(a->Start().ok()) << a->Log();
  ASSERT_TRUE(x->Start().ok()) << x->Log();
  ExpectRefusedBothWays(*a, *x, "stale");
}

TEST_F(TlsTest, PlaintextPeerIsRefused) {
  auto a = MakeReplica("a", "plain", Tls(ca_, ca_, "a"));
  auto x = MakeReplica("plain", "a", "");
  ASSERT_TRUE(a->Start().ok()) << a->Log();
  ASSERT_TRUE(x->Start().ok()) << x->Log();
  // The plaintext side sees a connection failure, not necessarily a TLS
  // message: its client never speaks TLS. Check both sides by hand.
  WriteAll(a->MountPath("from-a.txt"), "a\n");
  WriteAll(x->MountPath("from-x.txt"), "x\n");
  EXPECT_TRUE(WaitUntil(
      [&] {
        absl::StatusOr<PeerStatus> status = PeerStatusFor(a->backing(), Address("plain"));
        return status.ok() && status->state() != "connected" && LooksLikeTlsError(status->last_error());
      },
      absl::Seconds(20)))
      << PeerStatusFor(a->backing(), Address("plain")).value_or(PeerStatus()).ShortDebugString();
  EXPECT_TRUE(WaitUntil(
      [&] {
        absl::StatusOr<PeerStatus> status = PeerStatusFor(x->backing(), Address("a"));
        return status.ok() && status->state() != "connected" && !status->last_error().empty();
      },
      absl::Seconds(20)))
      << PeerStatusFor(x->backing(), Address("a")).value_or(PeerStatus()).ShortDebugString();
  absl::SleepFor(absl::Seconds(2));
  EXPECT_FALSE(std::ifstream(x->MountPath("from-a.txt")).good());
  EXPECT_FALSE(std::ifstream(a->MountPath("from-x.txt")).good());
  EXPECT_FALSE(CallHello(Address("a")).ok());
}

// Never contacted: the address is only refused before anything binds.
TEST(ListenTest, NonLoopbackWithoutTlsIsRefusedAtStartup) {
  TempDir root("replfs-listen");
  const std::string backing = root.Sub("backing");
  const std::string mount = root.Sub("mnt");
  absl::StatusOr<int> port = FreeLoopbackPort();
  ASSERT_TRUE(port.ok());
  for (const std::string& host : {std::string("0.0.0.0"), std::string("[::]")}) {
    const RunResult r = RunCaptured({testing::ReplfsBinary(), backing, mount, "-f", "-o",
                             absl::StrCat("listen=", host, ":", *port)},
                            root.path() + "/out", std::chrono::seconds(10));
    const bool mounted = IsMountpoint(mount);
    if (mounted) testing::Unmount(mount);
    EXPECT_FALSE(mounted) << "it mounted with listen=" << host;
    EXPECT_NE(r.exit_code, 0) << r.output;
    EXPECT_NE(r.exit_code, -1) << "still running after 10 s: " << r.output;
    EXPECT_THAT(r.output, HasSubstr("refusing to serve replication on non-loopback address"));
    EXPECT_THAT(r.output, HasSubstr("without TLS"));
  }
  // With -o insecure the operator takes the responsibility; not run here
  // (it would bind a public address).
}

// Metrics beyond loopback need TLS too (-o insecure aside): refused before
// anything binds.
TEST(ListenTest, MetricsOnNonLoopbackWithoutTlsAreRefusedAtStartup) {
  TempDir root("replfs-listen");
  const std::string mount = root.Sub("mnt");
  absl::StatusOr<int> port = FreeLoopbackPort();
  ASSERT_TRUE(port.ok());
  const RunResult r = RunCaptured({testing::ReplfsBinary(), root.Sub("backing"), mount, "-f", "-o",
                                   absl::StrCat("metrics=0.0.0.0:", *port)},
                                  root.path() + "/out", std::chrono::seconds(10));
  const bool mounted = IsMountpoint(mount);
  if (mounted) testing::Unmount(mount);
  EXPECT_FALSE(mounted);
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_NE(r.exit_code, -1) << "still running after 10 s: " << r.output;
  EXPECT_THAT(r.output, HasSubstr("refusing to serve metrics on non-loopback address"));
  EXPECT_THAT(r.output, HasSubstr("without TLS"));
}

// With TLS, -o metrics is HTTPS with mutual TLS under the cluster CA. The
// replica runs in a network namespace of its own with a non-loopback
// address (on a bridge), which metrics then take without -o insecure; the
// scrapers (openssl s_client, bash) run in that namespace too.
class TlsMetricsTest : public TlsTest {
 protected:
  static constexpr const char* kHost = "10.199.0.1";
  static constexpr int kMetricsPort = 9100;

  void SetUp() override {
    TlsTest::SetUp();
    if (HasFatalFailure()) return;
    absl::StatusOr<std::unique_ptr<testing::NetNamespace>> ns =
        testing::NetNamespace::Create(absl::StrCat("replfs-tls-", ::getpid()));
    ASSERT_TRUE(ns.ok()) << ns.status();
    namespace_ = *std::move(ns);
    const std::string& name = namespace_->name();
    for (const std::vector<std::string>& argv : std::vector<std::vector<std::string>>{
             {"ip", "-n", name, "link", "add", "br0", "type", "bridge"},
             {"ip", "-n", name, "addr", "add", absl::StrCat(kHost, "/24"), "dev", "br0"},
             {"ip", "-n", name, "link", "set", "br0", "up"}}) {
      absl::StatusOr<std::string> done = testing::RunTool(argv);
      ASSERT_TRUE(done.ok()) << done.status();
    }
    // log_level=info: the start-up line that says where metrics are served.
    replica_ = MakeReplica("a", "b",
                           absl::StrCat(Tls(ca_, ca_, "a"), ",metrics=", MetricsAddress(),
                                        ",log_level=info"));
    replica_->set_network_namespace(namespace_->path());
    ASSERT_TRUE(replica_->Start().ok()) << replica_->Log();
  }
  void TearDown() override {
    // The replica first, then the namespace it ran in.
    replica_.reset();
    namespace_.reset();
  }

  static std::string MetricsAddress() { return absl::StrCat(kHost, ":", kMetricsPort); }

  // What bash prints running `shell_command` in the replica's namespace
  // (bounded: killed after 30 s).
  std::string RunInNamespace(const std::string& shell_command) {
    const std::vector<std::string> argv = {"ip",        "netns", "exec", namespace_->name(),
                                           "/bin/bash", "-c",    shell_command};
    return RunCaptured(argv, root_->path() + "/scrape.out").output;
  }
  // A TLS scrape of /metrics; `client_options`: s_client's -cert and -key.
  std::string TlsScrape(const std::string& client_options) {
    return RunInNamespace(absl::StrCat(
        "printf 'GET /metrics HTTP/1.0\r\n\r\n' | timeout 20 openssl s_client -quiet "
        "-connect ", MetricsAddress(), " -CAfile ", ca_, "/ca.crt ", client_options, " 2>&1"));
  }
  std::string ClusterCertificate() {
    return absl::StrCat("-cert ", ca_, "/b.crt -key ", ca_, "/b.key");
  }

  std::unique_ptr<testing::NetNamespace> namespace_;
  std::unique_ptr<ReplicaProcess> replica_;
};

TEST_F(TlsMetricsTest, ScraperWithAClusterCertificateGetsMetricsOnANonLoopbackAddress) {
  // No -o insecure was needed, and the log says where to scrape.
  EXPECT_THAT(replica_->Log(), HasSubstr(absl::StrCat("metrics at https://", MetricsAddress())));
  const std::string scrape = TlsScrape(ClusterCertificate());
  EXPECT_THAT(scrape, HasSubstr("HTTP/1.1 200 OK"));
  EXPECT_THAT(scrape, HasSubstr("Content-Type: text/plain; version=0.0.4"));
  EXPECT_THAT(scrape, HasSubstr("# TYPE replfs_peer_up gauge"));
  EXPECT_THAT(scrape, HasSubstr(absl::StrCat("peer=\"", Address("b"), "\"")));
  EXPECT_THAT(scrape, HasSubstr("replfs_info{"));
}

TEST_F(TlsMetricsTest, ClientsWithoutACertificateOfTheClusterCaGetNoMetrics) {
  const std::string no_certificate = TlsScrape("");
  EXPECT_THAT(no_certificate, ::testing::Not(HasSubstr("replfs_")));
  EXPECT_THAT(no_certificate, ::testing::Not(HasSubstr("HTTP/1.1")));
  const std::string other_ca = TlsScrape(
      absl::StrCat("-cert ", other_ca_, "/intruder.crt -key ", other_ca_, "/intruder.key"));
  EXPECT_THAT(other_ca, ::testing::Not(HasSubstr("replfs_")));
  EXPECT_THAT(other_ca, ::testing::Not(HasSubstr("HTTP/1.1")));
  // The refusals are logged, once, and the replica serves on.
  EXPECT_TRUE(WaitUntil([&] { return absl::StrContains(replica_->Log(), "refused 1 TLS"); },
                        absl::Seconds(10)))
      << replica_->Log();
  EXPECT_THAT(TlsScrape(ClusterCertificate()), HasSubstr("replfs_peer_up"));
}

TEST_F(TlsMetricsTest, PlaintextOnTheMetricsPortGetsNothingAndTheReplicaServesOn) {
  const std::string plaintext = RunInNamespace(absl::StrCat(
      "exec 3<>/dev/tcp/", kHost, "/", kMetricsPort,
      " && printf 'GET /metrics HTTP/1.0\r\n\r\n' >&3 && timeout 10 cat <&3"));
  EXPECT_THAT(plaintext, ::testing::Not(HasSubstr("replfs_")));
  EXPECT_THAT(plaintext, ::testing::Not(HasSubstr("200 OK")));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(::kill(replica_->pid(), 0), 0) << replica_->Log();
  EXPECT_THAT(TlsScrape(ClusterCertificate()), HasSubstr("replfs_peer_up"));
  EXPECT_TRUE(replica_->Stop().ok()) << replica_->Log();
}

}  // namespace
}  // namespace replfs
