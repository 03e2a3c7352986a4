#ifndef REPLFS_TESTS_TCP_PROXY_H_
#define REPLFS_TESTS_TCP_PROXY_H_

#include <atomic>
#include <cstdint>
#include <list>
#include <memory>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"

namespace replfs::testing {

// One directed network link for fault tests: listens on 127.0.0.1:<port()>
// and forwards every connection to 127.0.0.1:<target_port>, byte for byte.
// A replica whose peer address is the proxy's can then be cut off from that
// peer and reconnected, without touching either process.
//
// Threads: one accepting, two per live connection (one per direction, each
// a blocking read-then-write loop). Cut() shuts the sockets down, which
// wakes any of them blocked in read or write (also when the far side is
// SIGSTOPped and its buffers are full), so a cut takes effect at once.
class TcpProxy {
 public:
  explicit TcpProxy(int target_port);
  ~TcpProxy();  // Stop().
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  // Binds 127.0.0.1:0 and starts accepting.
  absl::Status Start();
  // Closes every connection and joins every thread. Idempotent.
  void Stop();

  // Closes every open connection; until Heal(), new connections are
  // accepted and closed at once (the client sees its connection reset).
  void Cut();
  void Heal();
  bool cut() const { return cut_; }

  int port() const { return port_; }
  // Connections forwarded so far (for the test's report).
  uint64_t connections() const { return connections_; }

 private:
  struct Connection {
    int client_fd = -1;
    int server_fd = -1;
    std::thread to_server;
    std::thread to_client;
    std::atomic<int> finished_directions{0};
  };

  void AcceptLoop();
  static void Pump(Connection* connection, int from, int to);
  static void ShutDown(Connection& connection);
  // Joins and frees connections whose both directions ended.
  void ReapFinished() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  int target_port_;
  int port_ = 0;
  int listen_fd_ = -1;
  int wake_fd_ = -1;  // eventfd: tells the accept loop to stop.
  std::atomic<bool> cut_{false};
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> connections_{0};
  std::thread acceptor_;
  absl::Mutex mu_;
  std::list<std::unique_ptr<Connection>> live_ ABSL_GUARDED_BY(mu_);
};

}  // namespace replfs::testing

#endif  // REPLFS_TESTS_TCP_PROXY_H_
