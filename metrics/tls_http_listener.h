#ifndef REPLFS_METRICS_TLS_HTTP_LISTENER_H_
#define REPLFS_METRICS_TLS_HTTP_LISTENER_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/unique_fd.h"

// OpenSSL's types, so that this header does not pull in its headers.
typedef struct ssl_ctx_st SSL_CTX;
typedef struct bio_method_st BIO_METHOD;

namespace replfs {

// The PEM files of mutual TLS: the CA that client certificates must verify
// against, and the server's own certificate (chain) and private key.
struct MutualTlsFiles {
  std::string ca;
  std::string cert;
  std::string key;
};

// A minimal HTTPS server for one resource: GET /metrics answers with what
// `body` returns, as the Prometheus text format. Mutual TLS (TLS 1.2 at
// least): it presents the certificate and refuses clients without a
// certificate that verifies against the CA. One thread accepts; two
// workers serve one connection each, one request per connection, every
// connection bounded by a deadline, so a stalled or plaintext client holds
// a worker for seconds at most and a concurrent scraper still gets in.
// Refused connections (failed handshakes) are counted, and `warn` hears of
// them at most once a minute. Never throws; destroying it stops the threads.
class TlsHttpListener {
 public:
  // How long one connection may take, handshake to last byte.
  static constexpr absl::Duration kConnectionDeadline = absl::Seconds(5);
  // The request line and headers; longer requests are malformed.
  static constexpr size_t kMaxRequestHead = 8192;
  static constexpr int kWorkers = 2;

  // Listens on `host_port` (an IP literal, [v6] or localhost; port 0 picks
  // a free one). Fails, naming the address or file, on a port it cannot
  // bind or TLS files that do not load.
  static absl::StatusOr<std::unique_ptr<TlsHttpListener>> Start(
      const std::string& host_port, const MutualTlsFiles& files, std::function<std::string()> body,
      std::function<void(const std::string&)> warn);
  ~TlsHttpListener();
  TlsHttpListener(const TlsHttpListener&) = delete;
  TlsHttpListener& operator=(const TlsHttpListener&) = delete;

  // The port it listens on.
  int port() const { return port_; }
  // Connections refused so far: failed handshakes, timeouts before a request.
  uint64_t refused_connections() const { return refused_.load(); }

 private:
  struct SslCtxFree {
    void operator()(SSL_CTX* ctx) const;
  };
  struct BioMethodFree {
    void operator()(BIO_METHOD* method) const;
  };

  TlsHttpListener() = default;
  bool HasWorkOrStops() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void AcceptLoop();
  void WorkLoop();
  void Serve(int fd);
  void NoteRefused(const std::string& reason);

  std::unique_ptr<SSL_CTX, SslCtxFree> ssl_ctx_;
  // The socket BIO the connections use: it sends with MSG_NOSIGNAL (a
  // scraper that hangs up must not SIGPIPE the daemon) and waits no longer
  // than the connection's deadline.
  std::unique_ptr<BIO_METHOD, BioMethodFree> bio_method_;
  std::function<std::string()> body_;
  std::function<void(const std::string&)> warn_;
  UniqueFd listening_;
  int port_ = 0;
  std::atomic<uint64_t> refused_{0};

  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // Accepted, not yet taken by a worker (bounded: the rest are closed).
  std::deque<UniqueFd> waiting_ ABSL_GUARDED_BY(mu_);
  // Being served: shut down at stop so that their workers return at once.
  std::set<int> serving_ ABSL_GUARDED_BY(mu_);
  // Refusals not yet reported through `warn_`, and when it last heard.
  uint64_t unreported_refusals_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time last_warning_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();

  std::thread acceptor_;
  std::vector<std::thread> workers_;
};

}  // namespace replfs

#endif  // REPLFS_METRICS_TLS_HTTP_LISTENER_H_
