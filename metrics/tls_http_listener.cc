#include "metrics/tls_http_listener.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <exception>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"

namespace replfs {
namespace {

// Accepted connections waiting for a worker; more are closed at once (a
// scraper retries at its next interval).
constexpr size_t kMaxWaiting = 16;
// How long a connection stays open after the answer for the client to close.
constexpr absl::Duration kLingerAfterAnswer = absl::Seconds(1);
// How often `warn` may hear of refused connections.
constexpr absl::Duration kWarningInterval = absl::Minutes(1);

struct SslFree {
  void operator()(SSL* ssl) const { SSL_free(ssl); }
};
struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};

// The oldest error OpenSSL queued on this thread, as text; empties the queue.
std::string TakeOpenSslError(absl::string_view fallback) {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return std::string(fallback);
  std::array<char, 256> text{};
  ERR_error_string_n(code, text.data(), text.size());
  return text.data();
}

// Makes `ctx` a mutual-TLS server context with the certificates of `files`.
absl::Status ConfigureServerContext(SSL_CTX* ctx, const MutualTlsFiles& files) {
  if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) {
    return absl::InternalError(absl::StrCat("TLS 1.2: ", TakeOpenSslError("unsupported")));
  }
  if (SSL_CTX_use_certificate_chain_file(ctx, files.cert.c_str()) != 1) {
    return absl::InvalidArgumentError(absl::StrCat("cannot load certificate ", files.cert, ": ",
                                                   TakeOpenSslError("unreadable")));
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, files.key.c_str(), SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_check_private_key(ctx) != 1) {
    return absl::InvalidArgumentError(absl::StrCat("cannot load private key ", files.key,
                                                   " for ", files.cert, ": ",
                                                   TakeOpenSslError("unreadable")));
  }
  if (SSL_CTX_load_verify_locations(ctx, files.ca.c_str(), nullptr) != 1) {
    return absl::InvalidArgumentError(absl::StrCat("cannot load CA certificate ", files.ca, ": ",
                                                   TakeOpenSslError("unreadable")));
  }
  // Tells clients which CA to pick a certificate of; the context owns the list.
  if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(files.ca.c_str())) {
    SSL_CTX_set_client_CA_list(ctx, names);
  }
  ERR_clear_error();
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  // One request per connection: nothing to resume, so no session state.
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_num_tickets(ctx, 0);
  SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION);
  return absl::OkStatus();
}

// What the socket BIO reads and writes: a connection and its deadline.
struct ConnectionIo {
  int fd = -1;
  absl::Time deadline;
};

// Waits until `io` is ready for `events`; false once the deadline passed.
bool WaitReady(const ConnectionIo& io, short events) {
  for (;;) {
    const absl::Duration left = io.deadline - absl::Now();
    if (left <= absl::ZeroDuration()) return false;
    pollfd ready = {io.fd, events, 0};
    const int64_t wait_ms = std::max<int64_t>(1, absl::ToInt64Milliseconds(left));
    const int polled = ::poll(&ready, 1, static_cast<int>(wait_ms));
    // Errors and hang-ups count as ready: the recv or send reports them.
    if (polled > 0) return true;
    if (polled < 0 && errno != EINTR) return false;
  }
}

int SocketBioWrite(BIO* bio, const char* data, int size) {
  BIO_clear_retry_flags(bio);
  const auto* io = static_cast<const ConnectionIo*>(BIO_get_data(bio));
  if (size <= 0) return 0;
  for (;;) {
    if (!WaitReady(*io, POLLOUT)) return -1;
    const ssize_t sent = ::send(io->fd, data, static_cast<size_t>(size), MSG_NOSIGNAL);
    if (sent >= 0) return static_cast<int>(sent);
    if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) return -1;
  }
}

int SocketBioRead(BIO* bio, char* out, int size) {
  BIO_clear_retry_flags(bio);
  const auto* io = static_cast<const ConnectionIo*>(BIO_get_data(bio));
  if (size <= 0) return 0;
  for (;;) {
    if (!WaitReady(*io, POLLIN)) return -1;
    const ssize_t got = ::recv(io->fd, out, static_cast<size_t>(size), 0);
    if (got >= 0) return static_cast<int>(got);
    if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) return -1;
  }
}

long SocketBioCtrl(BIO* /*bio*/, int command, long /*number*/, void* /*pointer*/) {
  // Nothing is buffered here: a flush is done at once, and every other
  // control (pending bytes, kTLS, ...) is "not supported".
  return command == BIO_CTRL_FLUSH ? 1 : 0;
}

int SocketBioCreate(BIO* bio) {
  BIO_set_init(bio, 1);
  return 1;
}

absl::StatusOr<BIO_METHOD*> MakeSocketBioMethod() {
  BIO_METHOD* method =
      BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "replfs deadline socket");
  if (method == nullptr || BIO_meth_set_write(method, SocketBioWrite) != 1 ||
      BIO_meth_set_read(method, SocketBioRead) != 1 ||
      BIO_meth_set_ctrl(method, SocketBioCtrl) != 1 ||
      BIO_meth_set_create(method, SocketBioCreate) != 1) {
    BIO_meth_free(method);
    return absl::InternalError(absl::StrCat("TLS socket BIO: ", TakeOpenSslError("no memory")));
  }
  return method;
}

absl::StatusOr<UniqueFd> Listen(const std::string& host_port, int* port) {
  const size_t colon = host_port.rfind(':');
  if (colon == std::string::npos) {
    return absl::InvalidArgumentError("expected HOST:PORT");
  }
  std::string host = host_port.substr(0, colon);
  int number = -1;
  if (!absl::SimpleAtoi(host_port.substr(colon + 1), &number) || number < 0 || number > 65535) {
    return absl::InvalidArgumentError("the port is not a number from 0 to 65535");
  }
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host == "localhost") host = "127.0.0.1";
  sockaddr_storage address{};
  socklen_t length = 0;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&address);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&address);
  if (::inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(number));
    length = sizeof(*v4);
  } else if (::inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(number));
    length = sizeof(*v6);
  } else {
    return absl::InvalidArgumentError(absl::StrCat(host, " is not an IP address"));
  }
  UniqueFd socket(::socket(address.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!socket.valid()) return absl::ErrnoToStatus(errno, "socket");
  const int on = 1;
  // A restarted daemon takes its port back while old connections linger.
  if (::setsockopt(socket.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0) {
    return absl::ErrnoToStatus(errno, "SO_REUSEADDR");
  }
  if (::bind(socket.get(), reinterpret_cast<const sockaddr*>(&address), length) != 0) {
    return absl::ErrnoToStatus(errno, "bind");
  }
  if (::listen(socket.get(), static_cast<int>(kMaxWaiting)) != 0) {
    return absl::ErrnoToStatus(errno, "listen");
  }
  length = sizeof(address);
  if (::getsockname(socket.get(), reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    return absl::ErrnoToStatus(errno, "getsockname");
  }
  *port = ntohs(address.ss_family == AF_INET ? v4->sin_port : v6->sin6_port);
  return socket;
}

std::string HttpResponse(absl::string_view status, absl::string_view content_type,
                         absl::string_view body, absl::string_view extra_headers = "") {
  return absl::StrCat("HTTP/1.1 ", status, "\r\nContent-Type: ", content_type,
                      "\r\nContent-Length: ", body.size(), "\r\n", extra_headers,
                      "Connection: close\r\n\r\n", body);
}

// The answer to the request whose head (request line and headers) is `head`.
std::string Answer(absl::string_view head, const std::function<std::string()>& body) {
  constexpr absl::string_view kPlain = "text/plain; charset=utf-8";
  const absl::string_view request_line = head.substr(0, head.find("\r\n"));
  const std::vector<absl::string_view> parts = absl::StrSplit(request_line, ' ');
  if (parts.size() != 3 || parts[0].empty() || !absl::StartsWith(parts[1], "/") ||
      !absl::StartsWith(parts[2], "HTTP/1.")) {
    return HttpResponse("400 Bad Request", kPlain, "bad request\n");
  }
  if (parts[0] != "GET") {
    return HttpResponse("405 Method Not Allowed", kPlain, "only GET\n", "Allow: GET\r\n");
  }
  const absl::string_view path = parts[1].substr(0, parts[1].find('?'));
  if (path != "/metrics") return HttpResponse("404 Not Found", kPlain, "not found\n");
  return HttpResponse("200 OK", "text/plain; version=0.0.4; charset=utf-8", body());
}

// Writes all of `data`; false if the client went away or the deadline passed.
bool WriteAll(SSL* ssl, absl::string_view data) {
  while (!data.empty()) {
    const int chunk = static_cast<int>(std::min<size_t>(data.size(), 1 << 20));
    const int written = SSL_write(ssl, data.data(), chunk);
    if (written <= 0) return false;
    data.remove_prefix(static_cast<size_t>(written));
  }
  return true;
}

}  // namespace

void TlsHttpListener::SslCtxFree::operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }

void TlsHttpListener::BioMethodFree::operator()(BIO_METHOD* method) const {
  BIO_meth_free(method);
}

absl::StatusOr<std::unique_ptr<TlsHttpListener>> TlsHttpListener::Start(
    const std::string& host_port, const MutualTlsFiles& files, std::function<std::string()> body,
    std::function<void(const std::string&)> warn) {
  std::unique_ptr<TlsHttpListener> listener(new TlsHttpListener());
  listener->body_ = std::move(body);
  listener->warn_ = std::move(warn);
  ERR_clear_error();
  listener->ssl_ctx_.reset(SSL_CTX_new(TLS_server_method()));
  if (listener->ssl_ctx_ == nullptr) {
    return absl::InternalError(absl::StrCat("TLS context: ", TakeOpenSslError("out of memory")));
  }
  if (absl::Status s = ConfigureServerContext(listener->ssl_ctx_.get(), files); !s.ok()) return s;
  absl::StatusOr<BIO_METHOD*> method = MakeSocketBioMethod();
  if (!method.ok()) return method.status();
  listener->bio_method_.reset(*method);
  absl::StatusOr<UniqueFd> listening = Listen(host_port, &listener->port_);
  if (!listening.ok()) return listening.status();
  listener->listening_ = *std::move(listening);
  // Thread creation reports failure by throwing; here it is the start-up
  // error, and the destructor joins whatever did start.
  try {
    listener->acceptor_ = std::thread([raw = listener.get()] { raw->AcceptLoop(); });
    for (int k = 0; k < kWorkers; ++k) {
      listener->workers_.emplace_back([raw = listener.get()] { raw->WorkLoop(); });
    }
  } catch (const std::exception& e) {
    return absl::ResourceExhaustedError(absl::StrCat("cannot start a thread: ", e.what()));
  }
  return listener;
}

TlsHttpListener::~TlsHttpListener() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    // Wakes the workers blocked on a client at once instead of at its deadline.
    for (const int fd : serving_) ::shutdown(fd, SHUT_RDWR);
  }
  // Wakes accept(2), which then fails and sees stopping_.
  if (listening_.valid()) ::shutdown(listening_.get(), SHUT_RDWR);
  if (acceptor_.joinable()) acceptor_.join();
  for (std::thread& worker : workers_) {
    if (worker.joinable()) worker.join();
  }
}

bool TlsHttpListener::HasWorkOrStops() const { return stopping_ || !waiting_.empty(); }

void TlsHttpListener::AcceptLoop() {
  for (;;) {
    UniqueFd connection(::accept4(listening_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!connection.valid()) {
      const int error = errno;
      absl::MutexLock lock(&mu_);
      if (stopping_ || error == EBADF || error == EINVAL) return;
      // Out of descriptors or memory: let a connection finish first.
      if (error == EMFILE || error == ENFILE || error == ENOBUFS || error == ENOMEM) {
        mu_.AwaitWithTimeout(absl::Condition(&stopping_), absl::Milliseconds(100));
      }
      continue;
    }
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    if (waiting_.size() < kMaxWaiting) waiting_.push_back(std::move(connection));
  }
}

void TlsHttpListener::WorkLoop() {
  for (;;) {
    UniqueFd connection;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(this, &TlsHttpListener::HasWorkOrStops));
      if (stopping_) return;
      connection = std::move(waiting_.front());
      waiting_.pop_front();
      serving_.insert(connection.get());
    }
    Serve(connection.get());
    absl::MutexLock lock(&mu_);
    // Out of serving_ before it closes: the destructor never shuts down a
    // descriptor number that was reused meanwhile.
    serving_.erase(connection.get());
  }
}

void TlsHttpListener::Serve(int fd) {
  // The deadline bounds the whole connection; the socket timeouts are the
  // backstop for a single blocking call.
  const timeval timeout = absl::ToTimeval(kConnectionDeadline);
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  ConnectionIo io{fd, absl::Now() + kConnectionDeadline};
  ERR_clear_error();
  std::unique_ptr<SSL, SslFree> ssl(SSL_new(ssl_ctx_.get()));
  std::unique_ptr<BIO, BioFree> bio(BIO_new(bio_method_.get()));
  if (ssl == nullptr || bio == nullptr) {
    NoteRefused(TakeOpenSslError("out of memory"));
    return;
  }
  BIO_set_data(bio.get(), &io);
  SSL_set_bio(ssl.get(), bio.get(), bio.get());
  (void)bio.release();  // The SSL object owns it now.
  if (SSL_accept(ssl.get()) != 1) {
    NoteRefused(TakeOpenSslError("the client left or timed out during the handshake"));
    return;
  }
  std::string head;
  std::array<char, 4096> buffer{};
  while (!absl::StrContains(head, "\r\n\r\n")) {
    if (head.size() > kMaxRequestHead) {
      head.clear();  // Answered as malformed.
      break;
    }
    const int got = SSL_read(ssl.get(), buffer.data(), static_cast<int>(buffer.size()));
    if (got <= 0) {  // Gone or too slow before a whole request: nothing to answer.
      ERR_clear_error();
      return;
    }
    head.append(buffer.data(), static_cast<size_t>(got));
  }
  if (!WriteAll(ssl.get(), Answer(head, body_))) {
    ERR_clear_error();
    return;
  }
  SSL_shutdown(ssl.get());
  ERR_clear_error();
  // A lingering close: closing with bytes of the client unread (its
  // close_notify, say) would send a reset, which may destroy the answer
  // before the client read it. Wait briefly for the client to close first.
  ::shutdown(fd, SHUT_WR);
  io.deadline = std::min(io.deadline, absl::Now() + kLingerAfterAnswer);
  std::array<char, 512> unread{};
  while (WaitReady(io, POLLIN) && ::recv(fd, unread.data(), unread.size(), 0) > 0) {
  }
}

void TlsHttpListener::NoteRefused(const std::string& reason) {
  refused_.fetch_add(1);
  if (!warn_) return;
  std::string message;
  {
    absl::MutexLock lock(&mu_);
    ++unreported_refusals_;
    const absl::Time now = absl::Now();
    if (now - last_warning_ < kWarningInterval) return;
    message = absl::StrCat("metrics: refused ", unreported_refusals_,
                           " TLS connection(s) since the last report (last: ", reason,
                           "); scrapers need a certificate of the cluster CA");
    unreported_refusals_ = 0;
    last_warning_ = now;
  }
  warn_(message);
}

}  // namespace replfs
