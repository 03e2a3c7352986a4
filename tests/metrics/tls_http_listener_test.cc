// The mutual-TLS /metrics listener without a replica: certificates from
// tools/replfs-certs in a temp dir, an in-process OpenSSL client. A scraper
// with a certificate of the CA gets the body; one without, or with another
// CA's, gets nothing; a silent or plaintext client does not hold up a good
// one; refusals reach `warn`, rarely.
#include "metrics/tls_http_listener.h"

#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <atomic>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "base/unique_fd.h"
#include "gtest/gtest.h"
#include "tests/support/child_process.h"
#include "tests/support/scratch_dir.h"
#include "tests/support/wait_until.h"

namespace replfs {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

UniqueFd ConnectLoopback(int port) {
  UniqueFd socket(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!socket.valid()) return socket;
  // Bounds every read of a test client: no test hangs on a silent server.
  const timeval timeout = absl::ToTimeval(absl::Seconds(10));
  ::setsockopt(socket.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  ::setsockopt(socket.get(), SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(socket.get(), reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) {
    return UniqueFd();
  }
  return socket;
}

struct SslCtxFree {
  void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
};
struct SslFree {
  void operator()(SSL* ssl) const { SSL_free(ssl); }
};

// Everything a TLS client got for `request` ("" when the handshake or the
// exchange failed before any byte). `cert_dir`/`name`: its certificate;
// empty name: none.
std::string TlsExchange(int port, const std::string& ca_file, const std::string& cert_dir,
                        const std::string& name, const std::string& request) {
  std::unique_ptr<SSL_CTX, SslCtxFree> ctx(SSL_CTX_new(TLS_client_method()));
  if (ctx == nullptr) return "";
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  if (SSL_CTX_load_verify_locations(ctx.get(), ca_file.c_str(), nullptr) != 1) return "";
  if (!name.empty()) {
    const std::string cert = absl::StrCat(cert_dir, "/", name, ".crt");
    const std::string key = absl::StrCat(cert_dir, "/", name, ".key");
    if (SSL_CTX_use_certificate_chain_file(ctx.get(), cert.c_str()) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx.get(), key.c_str(), SSL_FILETYPE_PEM) != 1) {
      return "";
    }
  }
  UniqueFd socket = ConnectLoopback(port);
  std::unique_ptr<SSL, SslFree> ssl(SSL_new(ctx.get()));
  if (!socket.valid() || ssl == nullptr || SSL_set_fd(ssl.get(), socket.get()) != 1) return "";
  std::string received;
  if (SSL_connect(ssl.get()) == 1 &&
      SSL_write(ssl.get(), request.data(), static_cast<int>(request.size())) > 0) {
    char buffer[4096];
    for (int reads = 0; reads < 10000; ++reads) {
      const int got = SSL_read(ssl.get(), buffer, sizeof(buffer));
      if (got <= 0) break;
      received.append(buffer, static_cast<size_t>(got));
    }
  }
  ERR_clear_error();
  return received;
}

class TlsHttpListenerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ca_ = scratch_.path() + "/ca";
    other_ca_ = scratch_.path() + "/other-ca";
    for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
             {"init", ca_},
             {"node", ca_, "server"},
             {"node", ca_, "scraper"},
             {"init", other_ca_},
             {"node", other_ca_, "intruder"}}) {
      std::vector<std::string> argv = {"/bin/bash", REPLFS_CERTS_TOOL};
      argv.insert(argv.end(), args.begin(), args.end());
      testing::ChildOptions output;
      output.stdout_path = scratch_.path() + "/certs.out";
      output.stderr_path = output.stdout_path;
      ASSERT_EQ(testing::RunChild(argv, output, absl::Seconds(30)), 0)
          << "replfs-certs " << args[0] << ": "
          << ReadFile(output.stdout_path);
    }
    absl::StatusOr<std::unique_ptr<TlsHttpListener>> listener = TlsHttpListener::Start(
        "127.0.0.1:0", {ca_ + "/ca.crt", ca_ + "/server.crt", ca_ + "/server.key"},
        [this] { return absl::StrCat("replfs_scrapes ", ++scrapes_, "\n"); },
        [this](const std::string& warning) {
          absl::MutexLock lock(&warnings_mu_);
          warnings_.push_back(warning);
        });
    ASSERT_TRUE(listener.ok()) << listener.status();
    listener_ = *std::move(listener);
    ASSERT_GT(listener_->port(), 0);
    // After the listener's threads exist, so that they keep SIGPIPE's
    // default action (a write of theirs to a closed connection would kill
    // this test): only the clients' threads have it blocked.
    sigset_t pipe;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe, &old_mask_);
  }
  void TearDown() override {
    listener_.reset();
    // A client's SIGPIPE pending on this thread is dropped before unblocking.
    sigset_t pipe;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    const timespec now = {0, 0};
    while (sigtimedwait(&pipe, nullptr, &now) == SIGPIPE) {
    }
    pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr);
  }

  std::string Get(const std::string& path, const std::string& cert_dir, const std::string& name) {
    return TlsExchange(listener_->port(), ca_ + "/ca.crt", cert_dir, name,
                       absl::StrCat("GET ", path, " HTTP/1.1\r\nHost: test\r\n\r\n"));
  }
  std::vector<std::string> Warnings() {
    absl::MutexLock lock(&warnings_mu_);
    return warnings_;
  }

  testing::ScratchDir scratch_{"replfs-tls-listener"};
  std::string ca_, other_ca_;
  std::atomic<int> scrapes_{0};
  absl::Mutex warnings_mu_;
  std::vector<std::string> warnings_ ABSL_GUARDED_BY(warnings_mu_);
  sigset_t old_mask_{};
  std::unique_ptr<TlsHttpListener> listener_;
};

TEST_F(TlsHttpListenerTest, ScraperWithAClusterCertificateGetsTheBody) {
  const std::string reply = Get("/metrics", ca_, "scraper");
  EXPECT_TRUE(absl::StartsWith(reply, "HTTP/1.1 200 OK\r\n")) << reply;
  EXPECT_TRUE(absl::StrContains(
      reply, "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n")) << reply;
  EXPECT_TRUE(absl::StrContains(reply, "Content-Length: 17\r\n")) << reply;
  EXPECT_TRUE(absl::StrContains(reply, "Connection: close\r\n")) << reply;
  EXPECT_TRUE(absl::EndsWith(reply, "\r\n\r\nreplfs_scrapes 1\n")) << reply;
  // The query string is ignored; each scrape asks for the body afresh.
  EXPECT_TRUE(absl::EndsWith(Get("/metrics?x=1", ca_, "scraper"), "replfs_scrapes 2\n"));
}

TEST_F(TlsHttpListenerTest, OtherPathsAndMethodsAndGarbageAreAnsweredWithErrors) {
  EXPECT_TRUE(absl::StartsWith(Get("/other", ca_, "scraper"), "HTTP/1.1 404 ")) << "404";
  const std::string ca_file = ca_ + "/ca.crt";
  const int port = listener_->port();
  EXPECT_TRUE(absl::StartsWith(
      TlsExchange(port, ca_file, ca_, "scraper", "POST /metrics HTTP/1.1\r\n\r\n"),
      "HTTP/1.1 405 "));
  EXPECT_TRUE(absl::StartsWith(TlsExchange(port, ca_file, ca_, "scraper", "hello\r\n\r\n"),
                               "HTTP/1.1 400 "));
  // A head past 8 KiB without its end is malformed too.
  EXPECT_TRUE(absl::StartsWith(
      TlsExchange(port, ca_file, ca_, "scraper",
                  "GET /metrics HTTP/1.1\r\nX: " + std::string(9000, 'x')),
      "HTTP/1.1 400 "));
  EXPECT_EQ(scrapes_.load(), 0);
}

TEST_F(TlsHttpListenerTest, ClientsWithoutACertificateOfTheCaGetNothing) {
  EXPECT_EQ(Get("/metrics", ca_, ""), "");
  EXPECT_EQ(Get("/metrics", other_ca_, "intruder"), "");
  EXPECT_EQ(scrapes_.load(), 0);
  EXPECT_TRUE(testing::WaitUntil([&] { return listener_->refused_connections() >= 2; },
                                 absl::Seconds(10)))
      << listener_->refused_connections();
  // The first refusal is told at once; the next only a minute later.
  const std::vector<std::string> warnings = Warnings();
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_TRUE(absl::StrContains(warnings[0], "refused 1 TLS connection")) << warnings[0];
  // And the listener serves on.
  EXPECT_TRUE(absl::StartsWith(Get("/metrics", ca_, "scraper"), "HTTP/1.1 200 OK"));
}

TEST_F(TlsHttpListenerTest, SilentOrPlaintextClientsDoNotHoldUpAGoodOne) {
  // One client that never speaks holds one worker until its deadline...
  UniqueFd silent = ConnectLoopback(listener_->port());
  ASSERT_TRUE(silent.valid());
  // ...and one that speaks plain HTTP is refused at once.
  UniqueFd plaintext = ConnectLoopback(listener_->port());
  ASSERT_TRUE(plaintext.valid());
  const std::string request = "GET /metrics HTTP/1.1\r\n\r\n";
  ASSERT_EQ(::send(plaintext.get(), request.data(), request.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(request.size()));
  char buffer[4096];
  const ssize_t got = ::recv(plaintext.get(), buffer, sizeof(buffer), 0);
  EXPECT_FALSE(got > 0 && absl::StrContains(std::string(buffer, static_cast<size_t>(got)),
                                            "replfs_scrapes"));
  // A good scraper gets through well before the silent client's deadline.
  const absl::Time start = absl::Now();
  std::string reply;
  std::thread scraper([&] { reply = Get("/metrics", ca_, "scraper"); });
  scraper.join();
  EXPECT_TRUE(absl::StartsWith(reply, "HTTP/1.1 200 OK")) << reply;
  EXPECT_LT(absl::Now() - start, TlsHttpListener::kConnectionDeadline - absl::Seconds(1));
  // The silent one is dropped at its deadline (recv sees the close, not its
  // own 10 s timeout).
  const absl::Time silent_start = absl::Now();
  EXPECT_LE(::recv(silent.get(), buffer, sizeof(buffer), 0), 0);
  EXPECT_LT(absl::Now() - silent_start, absl::Seconds(9));
  EXPECT_TRUE(testing::WaitUntil([&] { return listener_->refused_connections() >= 2; },
                                 absl::Seconds(10)));
}

TEST_F(TlsHttpListenerTest, StoppingDoesNotWaitForAStalledClient) {
  UniqueFd silent = ConnectLoopback(listener_->port());
  ASSERT_TRUE(silent.valid());
  absl::SleepFor(absl::Milliseconds(200));  // A worker has taken it by now.
  const absl::Time start = absl::Now();
  listener_.reset();
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
}

TEST_F(TlsHttpListenerTest, APortInUseOrANameForAnAddressIsAnError) {
  const MutualTlsFiles files = {ca_ + "/ca.crt", ca_ + "/server.crt", ca_ + "/server.key"};
  absl::StatusOr<std::unique_ptr<TlsHttpListener>> taken = TlsHttpListener::Start(
      absl::StrCat("127.0.0.1:", listener_->port()), files, [] { return std::string(); }, nullptr);
  ASSERT_FALSE(taken.ok());
  EXPECT_TRUE(absl::StrContains(taken.status().message(), "bind")) << taken.status();
  absl::StatusOr<std::unique_ptr<TlsHttpListener>> named = TlsHttpListener::Start(
      "example.com:0", files, [] { return std::string(); }, nullptr);
  ASSERT_FALSE(named.ok());
  EXPECT_TRUE(absl::StrContains(named.status().message(), "not an IP address")) << named.status();
  // [v6] literals and localhost are addresses.
  for (const char* address : {"[::1]:0", "localhost:0"}) {
    absl::StatusOr<std::unique_ptr<TlsHttpListener>> other =
        TlsHttpListener::Start(address, files, [] { return std::string(); }, nullptr);
    EXPECT_TRUE(other.ok() && (*other)->port() > 0) << address << ": " << other.status();
  }
}

TEST(TlsHttpListenerStartTest, UnreadableFilesAreAnErrorNamingTheFile) {
  const MutualTlsFiles missing = {"/nonexistent/ca.crt", "/nonexistent/a.crt",
                                  "/nonexistent/a.key"};
  absl::StatusOr<std::unique_ptr<TlsHttpListener>> listener =
      TlsHttpListener::Start("127.0.0.1:0", missing, [] { return std::string(); }, nullptr);
  ASSERT_FALSE(listener.ok());
  EXPECT_TRUE(absl::StrContains(listener.status().message(), "/nonexistent/a.crt"))
      << listener.status();
}

}  // namespace
}  // namespace replfs
