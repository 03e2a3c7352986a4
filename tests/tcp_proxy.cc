#include "tests/tcp_proxy.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace replfs::testing {
namespace {

struct sockaddr_in Loopback(int port) {
  struct sockaddr_in address = {};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<uint16_t>(port));
  return address;
}

int ConnectLoopback(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  struct sockaddr_in address = Loopback(port);
  if (::connect(fd, reinterpret_cast<struct sockaddr*>(&address), sizeof(address)) != 0) {
    ::close(fd);
    return -1;
  }
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return fd;
}

}  // namespace

TcpProxy::TcpProxy(int target_port) : target_port_(target_port) {}

TcpProxy::~TcpProxy() { Stop(); }

absl::Status TcpProxy::Start() {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) return absl::ErrnoToStatus(errno, "proxy socket");
  struct sockaddr_in address = Loopback(0);
  if (::bind(listen_fd_, reinterpret_cast<struct sockaddr*>(&address), sizeof(address)) != 0) {
    return absl::ErrnoToStatus(errno, "proxy bind 127.0.0.1:0");
  }
  socklen_t length = sizeof(address);
  if (::getsockname(listen_fd_, reinterpret_cast<struct sockaddr*>(&address), &length) != 0) {
    return absl::ErrnoToStatus(errno, "proxy getsockname");
  }
  port_ = ntohs(address.sin_port);
  if (::listen(listen_fd_, 64) != 0) return absl::ErrnoToStatus(errno, "proxy listen");
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC);
  if (wake_fd_ < 0) return absl::ErrnoToStatus(errno, "proxy eventfd");
  acceptor_ = std::thread([this] { AcceptLoop(); });
  return absl::OkStatus();
}

void TcpProxy::Stop() {
  if (stopping_.exchange(true)) return;
  if (wake_fd_ >= 0) {
    const uint64_t one = 1;
    (void)!::write(wake_fd_, &one, sizeof(one));
  }
  if (acceptor_.joinable()) acceptor_.join();
  std::list<std::unique_ptr<Connection>> all;
  {
    absl::MutexLock lock(&mu_);
    for (auto& connection : live_) ShutDown(*connection);
    all.swap(live_);
  }
  for (auto& connection : all) {
    if (connection->to_server.joinable()) connection->to_server.join();
    if (connection->to_client.joinable()) connection->to_client.join();
    ::close(connection->client_fd);
    ::close(connection->server_fd);
  }
  if (listen_fd_ >= 0) ::close(listen_fd_);
  if (wake_fd_ >= 0) ::close(wake_fd_);
  listen_fd_ = wake_fd_ = -1;
}

void TcpProxy::Cut() {
  cut_ = true;
  absl::MutexLock lock(&mu_);
  for (auto& connection : live_) ShutDown(*connection);
}

void TcpProxy::Heal() { cut_ = false; }

void TcpProxy::ShutDown(Connection& connection) {
  // shutdown, not close: the pump threads still hold the descriptors, and
  // a closed number could be reused by another socket under them.
  ::shutdown(connection.client_fd, SHUT_RDWR);
  ::shutdown(connection.server_fd, SHUT_RDWR);
}

void TcpProxy::Pump(Connection* connection, int from, int to) {
  char buffer[64 * 1024];
  for (;;) {
    const ssize_t n = ::read(from, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    ssize_t done = 0;
    while (done < n) {
      const ssize_t w = ::send(to, buffer + done, static_cast<size_t>(n - done), MSG_NOSIGNAL);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) break;
      done += w;
    }
    if (done < n) break;
  }
  // Either side gone: the whole connection goes (gRPC needs no half-close).
  ShutDown(*connection);
  ++connection->finished_directions;
}

void TcpProxy::ReapFinished() {
  for (auto it = live_.begin(); it != live_.end();) {
    Connection& connection = **it;
    if (connection.finished_directions < 2) {
      ++it;
      continue;
    }
    connection.to_server.join();
    connection.to_client.join();
    ::close(connection.client_fd);
    ::close(connection.server_fd);
    it = live_.erase(it);
  }
}

void TcpProxy::AcceptLoop() {
  while (!stopping_) {
    struct pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    const int ready = ::poll(fds, 2, 1000);
    {
      absl::MutexLock lock(&mu_);
      ReapFinished();
    }
    if (stopping_) break;
    if (ready <= 0 || (fds[0].revents & POLLIN) == 0) continue;
    const int client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    if (cut_) {
      ::close(client);  // Refused: the link is down.
      continue;
    }
    const int server = ConnectLoopback(target_port_);
    if (server < 0) {
      ::close(client);  // The target is down: pass that on.
      continue;
    }
    const int one = 1;
    ::setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    absl::MutexLock lock(&mu_);
    // Checked under the lock Cut() takes, so no connection slips past a cut.
    if (cut_ || stopping_) {
      ::close(client);
      ::close(server);
      continue;
    }
    auto connection = std::make_unique<Connection>();
    connection->client_fd = client;
    connection->server_fd = server;
    Connection* raw = connection.get();
    raw->to_server = std::thread([raw] { Pump(raw, raw->client_fd, raw->server_fd); });
    raw->to_client = std::thread([raw] { Pump(raw, raw->server_fd, raw->client_fd); });
    live_.push_back(std::move(connection));
    ++connections_;
  }
}

}  // namespace replfs::testing
