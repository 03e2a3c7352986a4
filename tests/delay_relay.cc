#include "tests/delay_relay.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "tests/netns.h"

namespace replfs::testing {
namespace {

absl::StatusOr<struct sockaddr_in> SocketAddress(const Endpoint& endpoint) {
  struct sockaddr_in address = {};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(endpoint.port));
  if (::inet_pton(AF_INET, endpoint.address.c_str(), &address.sin_addr) != 1) {
    return absl::InvalidArgumentError(absl::StrCat("not an IPv4 address: ", endpoint.address));
  }
  return address;
}

bool SendAll(int fd, const std::string& bytes) {
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t w = ::send(fd, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    done += static_cast<size_t>(w);
  }
  return true;
}

void SetNoDelay(int fd) {
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

}  // namespace

std::string Endpoint::ToString() const { return absl::StrCat(address, ":", port); }

StallSchedule::StallSchedule(absl::Time epoch, const LinkConditions& conditions)
    : epoch_(epoch), conditions_(conditions) {}

absl::Duration StallSchedule::Length(int64_t k) const {
  // splitmix64 of (seed, k): the same stalls for the same seed.
  uint64_t x = conditions_.seed * 0x9e3779b97f4a7c15ULL + static_cast<uint64_t>(k);
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  x ^= x >> 31;
  const int64_t spread_us = absl::ToInt64Microseconds(conditions_.stall_max - conditions_.stall_min);
  const int64_t extra_us = spread_us > 0 ? static_cast<int64_t>(x % static_cast<uint64_t>(spread_us)) : 0;
  return conditions_.stall_min + absl::Microseconds(extra_us);
}

absl::Time StallSchedule::NotDuringAStall(absl::Time t) const {
  const absl::Duration every = conditions_.stall_every;
  if (every <= absl::ZeroDuration() || t < epoch_ + every) return t;
  absl::Duration into_period;
  const int64_t k = absl::IDivDuration(t - epoch_, every, &into_period) - 1;
  const absl::Time start = epoch_ + (k + 1) * every;
  const absl::Time end = start + std::min(Length(k), every / 2);  // Never one stall into the next.
  return t < end ? end : t;
}

DelayRelay::DelayRelay(std::string netns_path, Endpoint listen, Endpoint target,
                       LinkConditions conditions, std::shared_ptr<const StallSchedule> stalls)
    : netns_path_(std::move(netns_path)), listen_(std::move(listen)), target_(std::move(target)),
      conditions_(conditions), stalls_(std::move(stalls)) {}

DelayRelay::~DelayRelay() { Stop(); }

absl::Status DelayRelay::Start() {
  absl::StatusOr<struct sockaddr_in> address = SocketAddress(listen_);
  if (!address.ok()) return address.status();
  absl::StatusOr<UniqueFd> fd = SocketInNamespace(netns_path_, AF_INET, SOCK_STREAM);
  if (!fd.ok()) return fd.status();
  listen_fd_ = *std::move(fd);
  const int one = 1;
  ::setsockopt(listen_fd_.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (::bind(listen_fd_.get(), reinterpret_cast<const struct sockaddr*>(&*address),
             sizeof(*address)) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("relay bind ", listen_.ToString()));
  }
  if (::listen(listen_fd_.get(), 64) != 0) return absl::ErrnoToStatus(errno, "relay listen");
  wake_fd_.Reset(::eventfd(0, EFD_CLOEXEC));
  if (!wake_fd_.valid()) return absl::ErrnoToStatus(errno, "relay eventfd");
  acceptor_ = std::thread([this] { AcceptLoop(); });
  return absl::OkStatus();
}

void DelayRelay::Stop() {
  if (stopping_.exchange(true)) return;
  if (wake_fd_.valid()) {
    const uint64_t one = 1;
    (void)!::write(wake_fd_.get(), &one, sizeof(one));
  }
  if (acceptor_.joinable()) acceptor_.join();
  std::list<std::unique_ptr<Connection>> all;
  {
    absl::MutexLock lock(&mu_);
    for (auto& connection : live_) {
      ShutDown(*connection);
      Abort(connection->to_server);
      Abort(connection->to_client);
    }
    all.swap(live_);
  }
  for (auto& connection : all) Join(*connection);
  listen_fd_.Reset();
  wake_fd_.Reset();
}

void DelayRelay::Cut() {
  cut_ = true;
  absl::MutexLock lock(&mu_);
  for (auto& connection : live_) {
    ShutDown(*connection);
    Abort(connection->to_server);
    Abort(connection->to_client);
  }
}

void DelayRelay::Heal() { cut_ = false; }

void DelayRelay::ShutDown(Connection& connection) {
  // shutdown, not close: the threads still hold the descriptors, and a
  // closed number could be reused by another socket under them.
  ::shutdown(connection.client.get(), SHUT_RDWR);
  ::shutdown(connection.server.get(), SHUT_RDWR);
}

void DelayRelay::Abort(Direction& direction) {
  absl::MutexLock lock(&direction.mu);
  direction.aborted = true;
  direction.changed.SignalAll();
}

void DelayRelay::Join(Connection& connection) {
  for (Direction* d : {&connection.to_server, &connection.to_client}) {
    if (d->reader.joinable()) d->reader.join();
    if (d->writer.joinable()) d->writer.join();
  }
}

void DelayRelay::ReadLoop(Connection* connection, Direction* direction, uint64_t seed) {
  std::mt19937_64 random(seed);
  const int64_t jitter_us = absl::ToInt64Microseconds(conditions_.jitter);
  std::uniform_int_distribution<int64_t> jitter(-jitter_us, jitter_us);
  absl::Time last_release = absl::InfinitePast();
  std::string buffer(size_t{64} * 1024, '\0');
  for (;;) {
    const ssize_t n = ::read(direction->from, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    const absl::Duration delay =
        std::max(absl::ZeroDuration(), conditions_.delay + absl::Microseconds(jitter(random)));
    // Never before the chunk ahead: a TCP stream stays in order.
    last_release = stalls_->NotDuringAStall(std::max(last_release, absl::Now() + delay));
    absl::MutexLock lock(&direction->mu);
    while (direction->queued_bytes >= kMaxQueuedBytes && !direction->aborted) {
      direction->changed.Wait(&direction->mu);
    }
    if (direction->aborted) break;
    direction->queue.push_back({last_release, buffer.substr(0, static_cast<size_t>(n))});
    direction->queued_bytes += static_cast<size_t>(n);
    direction->changed.SignalAll();
  }
  {
    absl::MutexLock lock(&direction->mu);
    direction->reader_done = true;
    direction->changed.SignalAll();
  }
  ++connection->finished_threads;
}

void DelayRelay::WriteLoop(Connection* connection, Direction* direction) {
  direction->mu.Lock();
  for (;;) {
    if (direction->aborted) break;
    if (direction->queue.empty()) {
      if (direction->reader_done) break;
      direction->changed.Wait(&direction->mu);
      continue;
    }
    const absl::Time release = direction->queue.front().release;
    if (absl::Now() < release) {
      direction->changed.WaitWithDeadline(&direction->mu, release);
      continue;
    }
    Chunk chunk = std::move(direction->queue.front());
    direction->queue.pop_front();
    direction->queued_bytes -= chunk.bytes.size();
    direction->changed.SignalAll();
    direction->mu.Unlock();
    const bool sent = SendAll(direction->to, chunk.bytes);
    if (sent) bytes_forwarded_ += chunk.bytes.size();
    direction->mu.Lock();
    if (!sent) break;
  }
  direction->mu.Unlock();
  // This direction is over (end of stream, error or cut): the whole
  // connection goes, as the plain proxy does (gRPC needs no half-close).
  ShutDown(*connection);
  Abort(connection->to_server);
  Abort(connection->to_client);
  ++connection->finished_threads;
}

absl::StatusOr<UniqueFd> DelayRelay::ConnectToTarget() const {
  absl::StatusOr<struct sockaddr_in> address = SocketAddress(target_);
  if (!address.ok()) return address.status();
  absl::StatusOr<UniqueFd> fd = SocketInNamespace(netns_path_, AF_INET, SOCK_STREAM);
  if (!fd.ok()) return fd.status();
  // Bounded connect: the target's namespace may be gone.
  const struct timeval two_seconds = {2, 0};
  ::setsockopt(fd->get(), SOL_SOCKET, SO_SNDTIMEO, &two_seconds, sizeof(two_seconds));
  if (::connect(fd->get(), reinterpret_cast<const struct sockaddr*>(&*address), sizeof(*address)) !=
      0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("connect ", target_.ToString()));
  }
  const struct timeval no_timeout = {0, 0};
  ::setsockopt(fd->get(), SOL_SOCKET, SO_SNDTIMEO, &no_timeout, sizeof(no_timeout));
  SetNoDelay(fd->get());
  return fd;
}

void DelayRelay::Launch(Connection* connection, uint64_t seed) {
  connection->to_server.from = connection->client.get();
  connection->to_server.to = connection->server.get();
  connection->to_client.from = connection->server.get();
  connection->to_client.to = connection->client.get();
  uint64_t direction_seed = seed;
  for (Direction* d : {&connection->to_server, &connection->to_client}) {
    d->reader = std::thread([this, connection, d, direction_seed] { ReadLoop(connection, d, direction_seed); });
    d->writer = std::thread([this, connection, d] { WriteLoop(connection, d); });
    ++direction_seed;
  }
}

void DelayRelay::ReapFinished() {
  for (auto it = live_.begin(); it != live_.end();) {
    if ((*it)->finished_threads < 4) {
      ++it;
      continue;
    }
    Join(**it);
    it = live_.erase(it);
  }
}

void DelayRelay::AcceptLoop() {
  while (!stopping_) {
    struct pollfd fds[2] = {{listen_fd_.get(), POLLIN, 0}, {wake_fd_.get(), POLLIN, 0}};
    const int ready = ::poll(fds, 2, 1000);
    {
      absl::MutexLock lock(&mu_);
      ReapFinished();
    }
    if (stopping_) break;
    if (ready <= 0 || (fds[0].revents & POLLIN) == 0) continue;
    UniqueFd client(::accept4(listen_fd_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!client.valid() || cut_) continue;  // Refused while cut: the client sees a reset.
    absl::StatusOr<UniqueFd> server = ConnectToTarget();
    if (!server.ok()) continue;  // The target is down: pass that on.
    SetNoDelay(client.get());
    absl::MutexLock lock(&mu_);
    // Checked under the lock Cut() takes, so no connection slips past a cut.
    if (cut_ || stopping_) continue;
    auto connection = std::make_unique<Connection>();
    connection->client = std::move(client);
    connection->server = *std::move(server);
    const uint64_t count = ++connections_;
    Launch(connection.get(), conditions_.seed * 1000003 + count * 2);
    live_.push_back(std::move(connection));
  }
}

}  // namespace replfs::testing
