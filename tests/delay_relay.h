#ifndef REPLFS_TESTS_DELAY_RELAY_H_
#define REPLFS_TESTS_DELAY_RELAY_H_

#include <atomic>
#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/unique_fd.h"

namespace replfs::testing {

// What a WAN link does to the bytes crossing it.
struct LinkConditions {
  // Each chunk is released delay + uniform[-jitter, +jitter] (never less
  // than zero) after it was read, and never before the chunk ahead of it.
  absl::Duration delay = absl::Milliseconds(40);
  absl::Duration jitter = absl::Milliseconds(5);
  // Every `stall_every` (zero: never) the link holds all its traffic, both
  // directions, for stall_min..stall_max (drawn per stall from `seed`).
  absl::Duration stall_every = absl::ZeroDuration();
  absl::Duration stall_min = absl::Milliseconds(200);
  absl::Duration stall_max = absl::Milliseconds(500);
  uint64_t seed = 1;
};

// When one link is stalled: the k-th stall starts at epoch + (k+1) *
// stall_every and lasts a length drawn from the seed and k. A pure function
// of time, so both directions of a link share it without a thread.
class StallSchedule {
 public:
  StallSchedule(absl::Time epoch, const LinkConditions& conditions);
  // `t`, or the end of the stall that `t` falls in.
  absl::Time NotDuringAStall(absl::Time t) const;

 private:
  absl::Duration Length(int64_t k) const;
  absl::Time epoch_;
  LinkConditions conditions_;
};

// An IPv4 address and port, e.g. {"10.77.1.254", 7500}.
struct Endpoint {
  std::string address;
  int port = 0;
  std::string ToString() const;
};

// One direction of a WAN link, for the WAN test bed: listens on `listen`
// and forwards each connection to `target`, both in the network namespace
// at `netns_path` (empty: the caller's), delaying every chunk it reads as
// `conditions` and `stalls` say, order kept per direction.
//
// Threads: one accepting; per connection and direction one reading (stamps
// each chunk with its release time and queues it, at most kMaxQueuedBytes,
// so a slow receiver slows the sender as TCP would) and one writing (sends
// each chunk at its time). Cut() shuts every socket down, which wakes them
// all at once, and refuses new connections until Heal().
class DelayRelay {
 public:
  DelayRelay(std::string netns_path, Endpoint listen, Endpoint target, LinkConditions conditions,
             std::shared_ptr<const StallSchedule> stalls);
  ~DelayRelay();  // Stop().
  DelayRelay(const DelayRelay&) = delete;
  DelayRelay& operator=(const DelayRelay&) = delete;

  absl::Status Start();
  // Closes every connection and joins every thread. Idempotent.
  void Stop();
  void Cut();
  void Heal();
  bool cut() const { return cut_; }

  const Endpoint& listen() const { return listen_; }
  const Endpoint& target() const { return target_; }
  uint64_t connections() const { return connections_; }
  uint64_t bytes_forwarded() const { return bytes_forwarded_; }

 private:
  static constexpr size_t kMaxQueuedBytes = size_t{4} << 20;

  struct Chunk {
    absl::Time release;
    std::string bytes;
  };
  // One direction of one connection: the queue between its two threads.
  struct Direction {
    int from = -1;
    int to = -1;
    absl::Mutex mu;
    std::list<Chunk> queue ABSL_GUARDED_BY(mu);
    size_t queued_bytes ABSL_GUARDED_BY(mu) = 0;
    bool reader_done ABSL_GUARDED_BY(mu) = false;  // Nothing more comes.
    bool aborted ABSL_GUARDED_BY(mu) = false;      // Drop what is queued.
    absl::CondVar changed;  // Any of the above changed.
    std::thread reader;
    std::thread writer;
  };
  struct Connection {
    UniqueFd client;
    UniqueFd server;
    Direction to_server;
    Direction to_client;
    std::atomic<int> finished_threads{0};
  };

  void AcceptLoop();
  absl::StatusOr<UniqueFd> ConnectToTarget() const;
  void Launch(Connection* connection, uint64_t seed);
  void ReadLoop(Connection* connection, Direction* direction, uint64_t seed);
  void WriteLoop(Connection* connection, Direction* direction);
  static void ShutDown(Connection& connection);
  static void Abort(Direction& direction);
  void ReapFinished() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  static void Join(Connection& connection);

  std::string netns_path_;
  Endpoint listen_;
  Endpoint target_;
  LinkConditions conditions_;
  std::shared_ptr<const StallSchedule> stalls_;
  UniqueFd listen_fd_;
  UniqueFd wake_fd_;  // eventfd: tells the accept loop to stop.
  std::atomic<bool> cut_{false};
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> connections_{0};
  std::atomic<uint64_t> bytes_forwarded_{0};
  std::thread acceptor_;
  absl::Mutex mu_;
  std::list<std::unique_ptr<Connection>> live_ ABSL_GUARDED_BY(mu_);
};

}  // namespace replfs::testing

#endif  // REPLFS_TESTS_DELAY_RELAY_H_
