// Chaos: three real replicas with real mounts, two writers, and a fault
// injector that SIGKILLs and restarts replicas, SIGSTOPs and resumes them,
// and cuts and heals the links between them (each replica pulls from its
// peers through an in-test TCP proxy). Afterwards, with the faults stopped,
// the replicas must converge to identical trees within a bounded time, and
// every write a writer saw complete must be accounted for.
//
// REPLFS_CHAOS_SECONDS sets the fault phase (default 90: the CI mode, about
// two minutes in all); REPLFS_CHAOS_SEED replays a schedule of choices
// (timing still differs from run to run).
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "replfs.grpc.pb.h"
#include "storage/content_hasher.h"
#include "storage/unique_fd.h"
#include "tests/cluster.h"
#include "tests/replica_process.h"
#include "tests/tcp_proxy.h"

namespace replfs::testing {
namespace {

using SteadyClock = std::chrono::steady_clock;
constexpr int kReplicas = 3;
constexpr int kWriters = 2;  // Writer k writes through replica k's mount.
constexpr long kFuseSuperMagic = 0x65735546;

int64_t EnvInt(const char* name, int64_t fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? std::strtoll(value, nullptr, 10) : fallback;
}

std::string Hex(const std::string& bytes) { return absl::BytesToHexString(bytes); }
std::string ContentHash(absl::string_view content) { return Hex(Sha256(content)); }

double SecondsBetween(SteadyClock::time_point a, SteadyClock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// ---------------------------------------------------------------------------
// Replicas whose peers are proxies: replica i pulls from j through
// link(i, j), so every directed link can be cut on its own.
class ProxiedCluster {
 public:
  ProxiedCluster() = default;
  ~ProxiedCluster() {
    // A stopped process would hold its unmount (and this test) forever.
    for (int i = 0; i < static_cast<int>(replicas_.size()); ++i) Resume(i);
    replicas_.clear();  // Unmounts and stops each by PID (SIGKILL if needed).
    proxies_.clear();
  }
  ProxiedCluster(const ProxiedCluster&) = delete;
  ProxiedCluster& operator=(const ProxiedCluster&) = delete;

  absl::Status Init() {
    for (int i = 0; i < kReplicas; ++i) {
      absl::StatusOr<int> port = FreeLoopbackPort();
      for (int attempt = 0; port.ok() && attempt < 20 &&
                            std::find(ports_.begin(), ports_.end(), *port) != ports_.end();
           ++attempt) {
        port = FreeLoopbackPort();
      }
      if (!port.ok()) return port.status();
      ports_.push_back(*port);
    }
    for (int from = 0; from < kReplicas; ++from) {
      for (int to = 0; to < kReplicas; ++to) {
        proxies_.push_back(std::make_unique<TcpProxy>(ports_[static_cast<size_t>(to)]));
        if (from == to) continue;
        if (absl::Status s = proxies_.back()->Start(); !s.ok()) return s;
      }
    }
    for (int i = 0; i < kReplicas; ++i) {
      std::vector<std::string> peers;
      for (int j = 0; j < kReplicas; ++j) {
        if (j != i) peers.push_back(absl::StrCat("127.0.0.1:", link(i, j).port()));
      }
      const std::string options =
          absl::StrCat("listen=127.0.0.1:", ports_[static_cast<size_t>(i)],
                       ",log_level=debug,peers=", absl::StrJoin(peers, ";"));
      replicas_.push_back(std::make_unique<ReplicaProcess>(
          dir_.Sub(absl::StrCat("b", i)), dir_.Sub(absl::StrCat("m", i)),
          std::vector<std::string>{"-o", options}));
      paused_.push_back(false);
    }
    return absl::OkStatus();
  }

  ReplicaProcess& replica(int i) { return *replicas_[static_cast<size_t>(i)]; }
  const ReplicaProcess& replica(int i) const { return *replicas_[static_cast<size_t>(i)]; }
  TcpProxy& link(int from, int to) {
    return *proxies_[static_cast<size_t>(from * kReplicas + to)];
  }
  bool running(int i) const { return replica(i).pid() > 0; }

  absl::Status Start(int i) { return replica(i).Start(); }
  void Kill(int i) {
    Resume(i);
    replica(i).Kill();
  }
  void Pause(int i) {
    if (!running(i)) return;
    ::kill(replica(i).pid(), SIGSTOP);
    paused_[static_cast<size_t>(i)] = true;
  }
  void Resume(int i) {
    if (running(i)) ::kill(replica(i).pid(), SIGCONT);
    paused_[static_cast<size_t>(i)] = false;
  }
  void HealAll() {
    for (auto& proxy : proxies_) proxy->Heal();
  }

  std::unique_ptr<Admin::Stub> AdminStub(int i) const {
    return Admin::NewStub(grpc::CreateChannel(
        absl::StrCat("unix:", replica(i).StateDir(), "/admin.sock"),
        grpc::InsecureChannelCredentials()));
  }
  absl::StatusOr<ReplicaStatus> Status(int i) const {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    ReplicaStatus status;
    grpc::Status s = AdminStub(i)->Status(&context, StatusRequest(), &status);
    if (!s.ok()) return absl::UnavailableError(s.error_message());
    return status;
  }
  absl::StatusOr<ConflictsReply> Conflicts(int i) const {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    ConflictsReply reply;
    grpc::Status s = AdminStub(i)->Conflicts(&context, ConflictsRequest(), &reply);
    if (!s.ok()) return absl::UnavailableError(s.error_message());
    return reply;
  }

  // Polls the mounts' digests (cheap ones first) until all agree.
  absl::Status WaitForConvergence(absl::Duration timeout) {
    auto all_equal = [&](bool hash_content) {
      absl::StatusOr<std::vector<std::string>> first;
      for (int i = 0; i < kReplicas; ++i) {
        absl::StatusOr<std::vector<std::string>> digest =
            TreeDigest(replica(i).mountpoint(), ".replfs", hash_content);
        if (!digest.ok()) return false;
        if (i == 0) {
          first = std::move(digest);
        } else if (*digest != *first) {
          return false;
        }
      }
      return true;
    };
    if (WaitUntil([&] { return all_equal(false) && all_equal(true); }, timeout,
                  absl::Milliseconds(200))) {
      return absl::OkStatus();
    }
    std::string report = absl::StrCat("replicas did not converge within ",
                                      absl::FormatDuration(timeout), "\n");
    absl::StatusOr<std::vector<std::string>> first = TreeDigest(replica(0).mountpoint());
    for (int i = 1; i < kReplicas && first.ok(); ++i) {
      absl::StatusOr<std::vector<std::string>> digest = TreeDigest(replica(i).mountpoint());
      absl::StrAppend(&report, "replica ", i, " vs replica 0:\n",
                      digest.ok() ? DigestDiff(*digest, *first) : digest.status().ToString());
    }
    return absl::DeadlineExceededError(absl::StrCat(report, Diagnostics()));
  }

  // Status and log tail of every replica, and every log line that names one
  // of `paths`.
  std::string Diagnostics(const std::set<std::string>& paths = {}) const {
    std::string out;
    for (int i = 0; i < kReplicas; ++i) {
      absl::StrAppend(&out, "==== replica ", i, " (port ", ports_[static_cast<size_t>(i)], ", ",
                      running(i) ? "running" : "stopped", ") ====\n");
      if (running(i)) {
        absl::StatusOr<ReplicaStatus> status = Status(i);
        absl::StrAppend(&out, status.ok() ? status->ShortDebugString() : status.status().ToString(),
                        "\n");
      }
      const std::string log = replica(i).Log();
      if (!paths.empty()) {
        std::vector<absl::string_view> lines;
        for (absl::string_view line : absl::StrSplit(log, '\n')) {
          for (const std::string& p : paths) {
            if (absl::StrContains(line, absl::StrCat(" ", p, ":")) ||
                absl::StrContains(line, absl::StrCat(" ", p, " "))) {
              lines.push_back(line);
              break;
            }
          }
        }
        const size_t first = lines.size() > 80 ? lines.size() - 80 : 0;
        absl::StrAppend(&out, "-- log lines naming the lost paths --\n");
        for (size_t k = first; k < lines.size(); ++k) absl::StrAppend(&out, lines[k], "\n");
      }
      absl::StrAppend(&out, "-- log tail --\n",
                      log.size() > 8000 ? log.substr(log.size() - 8000) : log, "\n");
    }
    return out;
  }

 private:
  TempDir dir_{"replfs-chaos"};
  std::vector<int> ports_;
  std::vector<std::unique_ptr<TcpProxy>> proxies_;  // [from * kReplicas + to]
  std::vector<std::unique_ptr<ReplicaProcess>> replicas_;
  std::vector<bool> paused_;
};

// ---------------------------------------------------------------------------
// Writers and their history.

enum class OpKind { kWrite, kAppend, kRename, kDelete };
// kFailed: a clean error (ENOENT), nothing happened. kUnknown: the mount
// died or failed under it; the change may or may not have been made (a
// killed replica's backing file may hold it, and its start-up scan commits
// it).
enum class Outcome { kDone, kUnknown, kFailed };

struct Op {
  int writer = 0;
  uint64_t number = 0;
  OpKind kind = OpKind::kWrite;
  std::string path;
  std::string to;    // Rename target.
  std::string hash;  // Write/append done: SHA-256 of the file's content after it.
  // What this writer's replica held at `path` (and `to`) when the operation
  // took effect: a content hash, "absent", or "" if it could not be read.
  // Says which earlier writes the operation had seen. Read through a handle
  // open for writing, which keeps remote versions out until the operation
  // is done (see Writer::Pin): a look before the operation could miss a
  // version that arrived in between and that the operation then replaced
  // (chaos seed 1572470657: a write "saw absent", but by its open the
  // other writer's version had arrived, and its O_TRUNC rightly superseded
  // it; the check called that version lost).
  std::string seen;
  std::string seen_to;
  SteadyClock::time_point start, end;
  Outcome outcome = Outcome::kFailed;
  int error = 0;
};

const char* KindName(OpKind kind) {
  switch (kind) {
    case OpKind::kWrite: return "write";
    case OpKind::kAppend: return "append";
    case OpKind::kRename: return "rename";
    case OpKind::kDelete: return "delete";
  }
  return "?";
}

// Whether `error` says the mount itself is gone (the replica was killed).
bool MountGone(int error) { return error == ENOTCONN || error == ECONNABORTED || error == ENODEV; }

class Writer {
 public:
  Writer(int id, std::string mountpoint, uint64_t seed, const std::atomic<bool>* stop,
         SteadyClock::time_point epoch)
      : id_(id), mountpoint_(std::move(mountpoint)), random_(seed), stop_(stop), epoch_(epoch) {}

  void Run() {
    while (!*stop_) {
      if (!EnsureRoot()) break;
      RunOne();
      std::this_thread::sleep_for(std::chrono::milliseconds(Uniform(1, 12)));
    }
    root_.Reset();
  }

  const std::vector<Op>& ops() const { return ops_; }
  const std::vector<std::string>& anomalies() const { return anomalies_; }
  // Milliseconds since the epoch at which the running operation started (-1: none).
  int64_t busy_since_ms() const { return busy_since_ms_; }

 private:
  int Uniform(int low, int high) { return std::uniform_int_distribution<int>(low, high)(random_); }

  // The mount's root, opened and checked to be the FUSE mount: after a kill
  // the mountpoint is a plain directory for a while, and a write that went
  // there would never replicate.
  bool EnsureRoot() {
    while (!*stop_) {
      if (root_.valid()) return true;
      UniqueFd fd(::open(mountpoint_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
      struct statfs fs;
      if (fd.valid() && ::fstatfs(fd.get(), &fs) == 0 && fs.f_type == kFuseSuperMagic) {
        root_ = std::move(fd);
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

  std::string PickPath() {
    if (Uniform(0, 3) == 0) return absl::StrCat("shared/f", Uniform(0, 3));
    return absl::StrCat("w", id_, "/f", Uniform(0, 11));
  }

  // Unique per write: the header names writer and operation number.
  std::string MakeContent(uint64_t number, const std::string& path) {
    const int roll = Uniform(0, 99);
    const size_t size = roll < 80   ? static_cast<size_t>(Uniform(20, 3000))
                        : roll < 95 ? static_cast<size_t>(Uniform(5000, 200000))
                                    : static_cast<size_t>(Uniform(1100000, 2600000));
    std::string content =
        absl::StrCat("replfs-chaos writer ", id_, " op ", number, " path ", path, "\n");
    content.reserve(size + content.size());
    std::uniform_int_distribution<int> byte('a', 'z');
    while (content.size() < size) content.push_back(static_cast<char>(byte(random_)));
    return content;
  }

  void Finish(Op& op, bool ok, int error) {
    op.end = SteadyClock::now();
    op.error = ok ? 0 : error;
    op.outcome = ok ? Outcome::kDone : error == ENOENT ? Outcome::kFailed : Outcome::kUnknown;
    if (!ok && MountGone(error)) root_.Reset();
    ops_.push_back(op);
    busy_since_ms_ = -1;
  }

  void RunOne() {
    Op op;
    op.writer = id_;
    op.number = ++counter_;
    op.path = PickPath();
    const int roll = Uniform(0, 99);
    op.kind = roll < 45 ? OpKind::kWrite : roll < 70 ? OpKind::kAppend
              : roll < 85 ? OpKind::kRename : OpKind::kDelete;
    if (op.kind == OpKind::kRename) {
      op.to = PickPath();
      if (op.to == op.path) op.to = absl::StrCat("w", id_, "/renamed", Uniform(0, 1));
    }
    op.start = SteadyClock::now();
    busy_since_ms_ =
        std::chrono::duration_cast<std::chrono::milliseconds>(op.start - epoch_).count();
    switch (op.kind) {
      case OpKind::kWrite: return Write(op);
      case OpKind::kAppend: return Append(op);
      case OpKind::kRename: {
        const UniqueFd from = Pin(op.path, &op.seen);
        const UniqueFd to = Pin(op.to, &op.seen_to);
        const bool ok = ::renameat(root_.get(), op.path.c_str(), root_.get(), op.to.c_str()) == 0;
        return Finish(op, ok, errno);
      }
      case OpKind::kDelete: {
        const UniqueFd pinned = Pin(op.path, &op.seen);
        const bool ok = ::unlinkat(root_.get(), op.path.c_str(), 0) == 0;
        return Finish(op, ok, errno);
      }
    }
  }

  // Opens `path` for writing without changing it and sets `seen` to what it
  // holds, read through that handle. While the handle is open no remote
  // version replaces the file, so `seen` is exactly what the operation
  // then overwrites, renames or removes. Returns the handle; invalid when
  // the file does not exist (seen "absent") or cannot be opened (seen "").
  UniqueFd Pin(const std::string& path, std::string* seen) {
    UniqueFd fd(::openat(root_.get(), path.c_str(), O_RDWR | O_NOFOLLOW | O_CLOEXEC));
    if (!fd.valid()) {
      *seen = errno == ENOENT ? "absent" : "";
      return fd;
    }
    std::string content;
    char buffer[65536];
    for (;;) {
      const ssize_t n = ::pread(fd.get(), buffer, sizeof(buffer), static_cast<off_t>(content.size()));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        *seen = "";
        return fd;
      }
      if (n == 0) break;
      content.append(buffer, static_cast<size_t>(n));
    }
    *seen = ContentHash(content);
    return fd;
  }

  // Replaces the file's content (creating it if absent) through a handle
  // pinned first, so that `seen` is what it replaced.
  void Write(Op& op) {
    const std::string content = MakeContent(op.number, op.path);
    UniqueFd fd = Pin(op.path, &op.seen);
    if (!fd.valid() && op.seen == "absent") {
      fd.Reset(::openat(root_.get(), op.path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
      // Created meanwhile (a remote version arrived): pin that one.
      if (!fd.valid() && errno == EEXIST) fd = Pin(op.path, &op.seen);
    }
    if (!fd.valid()) return Finish(op, false, errno);
    if (::ftruncate(fd.get(), 0) != 0) return Finish(op, false, errno);
    size_t done = 0;
    int error = 0;
    while (done < content.size()) {
      const ssize_t n = ::write(fd.get(), content.data() + done, content.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        error = n < 0 ? errno : EIO;
        break;
      }
      done += static_cast<size_t>(n);
    }
    // close's result is the one that counts: it reports what the flush of
    // the cached pages met.
    const bool closed = ::close(fd.Release()) == 0;
    if (!closed && error == 0) error = errno;
    op.hash = ContentHash(content);
    if (error != 0) op.hash.clear();
    Finish(op, error == 0 && closed, error);
  }

  // Appends a unique line, then reads the whole file back through the same
  // handle (a remote version never replaces a file open for writing, so
  // this is the content the append produced).
  void Append(Op& op) {
    const std::string tag = absl::StrCat("append writer ", id_, " op ", op.number, "\n");
    UniqueFd fd(::openat(root_.get(), op.path.c_str(), O_RDWR | O_APPEND | O_CLOEXEC));
    if (!fd.valid()) {
      op.seen = errno == ENOENT ? "absent" : "";
      return Finish(op, false, errno);
    }
    int error = 0;
    std::string content;
    if (::write(fd.get(), tag.data(), tag.size()) != static_cast<ssize_t>(tag.size())) {
      error = errno != 0 ? errno : EIO;
    }
    struct stat st;
    if (error == 0 && ::fstat(fd.get(), &st) != 0) error = errno;
    if (error == 0) {
      content.resize(static_cast<size_t>(st.st_size));
      size_t done = 0;
      while (done < content.size()) {
        const ssize_t n = ::pread(fd.get(), content.data() + done, content.size() - done,
                                  static_cast<off_t>(done));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
          error = n < 0 ? errno : EIO;
          break;
        }
        done += static_cast<size_t>(n);
      }
    }
    const bool closed = ::close(fd.Release()) == 0;
    if (!closed && error == 0) error = errno;
    if (error == 0 && closed && !content.ends_with(tag)) {
      anomalies_.push_back(absl::StrCat("writer ", id_, " op ", op.number, ": append to ", op.path,
                                        " read back ", content.size(),
                                        " bytes that do not end with the appended line"));
    }
    op.hash = error == 0 ? ContentHash(content) : "";
    // What the append extended, read through the same handle.
    if (error == 0 && content.ends_with(tag)) {
      op.seen = ContentHash(absl::string_view(content).substr(0, content.size() - tag.size()));
    }
    Finish(op, error == 0 && closed, error);
  }

  const int id_;
  const std::string mountpoint_;
  std::mt19937_64 random_;
  const std::atomic<bool>* stop_;
  const SteadyClock::time_point epoch_;
  UniqueFd root_;
  uint64_t counter_ = 0;
  std::vector<Op> ops_;
  std::vector<std::string> anomalies_;
  std::atomic<int64_t> busy_since_ms_{-1};
};

// ---------------------------------------------------------------------------
// Faults.

struct FaultCounts {
  int kills = 0;
  int pauses = 0;
  int cuts = 0;
  int total() const { return kills + pauses + cuts; }
};

class FaultInjector {
 public:
  FaultInjector(ProxiedCluster* cluster, uint64_t seed, SteadyClock::time_point epoch)
      : cluster_(cluster), random_(seed), epoch_(epoch) {}

  // Injects faults, one at a time (cuts stay while others happen), until
  // `until`; then heals every link. Every paused replica is resumed before
  // the next step, whatever happens.
  void Run(SteadyClock::time_point until) {
    std::vector<SteadyClock::time_point> heal_at(kReplicas * kReplicas, SteadyClock::time_point::max());
    while (SteadyClock::now() < until && error_.empty()) {
      Sleep(Uniform(300, 2500), until);
      for (int from = 0; from < kReplicas; ++from) {
        for (int to = 0; to < kReplicas; ++to) {
          auto& at = heal_at[static_cast<size_t>(from * kReplicas + to)];
          if (SteadyClock::now() >= at) {
            cluster_->link(from, to).Heal();
            Note(absl::StrCat("heal ", from, "->", to));
            at = SteadyClock::time_point::max();
          }
        }
      }
      if (SteadyClock::now() >= until) break;
      const int replica = Uniform(0, kReplicas - 1);
      const int roll = Uniform(0, 99);
      if (roll < 35) {
        cluster_->Kill(replica);
        Note(absl::StrCat("kill ", replica));
        ++counts_.kills;
        Sleep(Uniform(100, 2000), SteadyClock::time_point::max());
        Note(absl::StrCat("start ", replica));
        if (absl::Status s = cluster_->Start(replica); !s.ok()) {
          error_ = absl::StrCat("restart of replica ", replica, " failed: ", s.ToString());
        }
      } else if (roll < 65) {
        cluster_->Pause(replica);
        Note(absl::StrCat("pause ", replica));
        ++counts_.pauses;
        Sleep(Uniform(200, 3000), SteadyClock::time_point::max());
        cluster_->Resume(replica);
        Note(absl::StrCat("resume ", replica));
      } else {
        // Both directions of a pair, or one direction only.
        int other = Uniform(0, kReplicas - 2);
        if (other >= replica) ++other;
        const auto heal = SteadyClock::now() + std::chrono::milliseconds(Uniform(500, 8000));
        cluster_->link(replica, other).Cut();
        Note(absl::StrCat("cut ", replica, "->", other));
        heal_at[static_cast<size_t>(replica * kReplicas + other)] = heal;
        if (Uniform(0, 1) == 0) {
          cluster_->link(other, replica).Cut();
          Note(absl::StrCat("cut ", other, "->", replica));
          heal_at[static_cast<size_t>(other * kReplicas + replica)] = heal;
        }
        ++counts_.cuts;
      }
    }
    cluster_->HealAll();
  }

  const FaultCounts& counts() const { return counts_; }
  // What happened when (seconds since the first operation), for reports.
  const std::vector<std::string>& events() const { return events_; }
  const std::string& error() const { return error_; }

 private:
  int Uniform(int low, int high) { return std::uniform_int_distribution<int>(low, high)(random_); }
  static void Sleep(int ms, SteadyClock::time_point until) {
    const auto wake = std::min(until, SteadyClock::now() + std::chrono::milliseconds(ms));
    std::this_thread::sleep_until(wake);
  }

  void Note(const std::string& what) {
    events_.push_back(absl::StrFormat("%9.3f %s", SecondsBetween(epoch_, SteadyClock::now()), what));
  }

  ProxiedCluster* cluster_;
  std::mt19937_64 random_;
  SteadyClock::time_point epoch_;
  std::vector<std::string> events_;
  FaultCounts counts_;
  std::string error_;
};

// ---------------------------------------------------------------------------
// Conflict copies are capped in number per replica (oldest pruned first), so
// a long run collects the hashes of every copy while it exists: a write kept
// as a copy and pruned later by that policy was still kept.
class ConflictHarvester {
 public:
  explicit ConflictHarvester(std::vector<std::string> dirs) : dirs_(std::move(dirs)) {}

  // Hashes copies not seen before (a copy's name holds the loser's
  // version, so a name is never reused for other content).
  void Harvest() {
    namespace fs = std::filesystem;
    for (const std::string& dir : dirs_) {
      std::error_code error;
      size_t present = 0;
      for (fs::directory_iterator it(dir, error), end; !error && it != end; it.increment(error)) {
        ++present;
        const std::string path = it->path().string();
        if (seen_.contains(path)) continue;
        absl::StatusOr<std::string> content = ReadFile(path);
        if (!content.ok()) continue;  // Pruned meanwhile.
        seen_.insert(path);
        hashes_.insert(ContentHash(*content));
      }
      peak_ = std::max(peak_, present);
    }
  }
  const std::set<std::string>& hashes() const { return hashes_; }
  size_t copies_seen() const { return seen_.size(); }
  size_t peak_per_replica() const { return peak_; }

 private:
  std::vector<std::string> dirs_;
  std::set<std::string> seen_;
  std::set<std::string> hashes_;
  size_t peak_ = 0;
};

// ---------------------------------------------------------------------------
// The write invariant.

// path -> content hash of every file under `root` (the state folder skipped).
absl::StatusOr<std::map<std::string, std::string>> FileHashes(const std::string& root,
                                                              bool skip_state_folder) {
  namespace fs = std::filesystem;
  std::map<std::string, std::string> out;
  std::error_code error;
  fs::recursive_directory_iterator it(root, error), end;
  if (error) return absl::InternalError(absl::StrCat("list ", root, ": ", error.message()));
  for (; it != end; it.increment(error)) {
    if (error) return absl::InternalError(absl::StrCat("list ", root, ": ", error.message()));
    const std::string relative = fs::relative(it->path(), root).string();
    if (skip_state_folder && it.depth() == 0 && relative == ".replfs") {
      it.disable_recursion_pending();
      continue;
    }
    if (!it->is_regular_file(error) || it->is_symlink(error)) continue;
    absl::StatusOr<std::string> content = ReadFile(it->path().string());
    if (!content.ok()) return content.status();
    out[relative] = ContentHash(*content);
  }
  return out;
}

struct Verdicts {
  int present = 0;     // At its path in the final tree.
  int moved = 0;       // At another path (a rename carried it).
  int superseded = 0;  // A later operation on its path replaced or removed it.
  int conflict = 0;    // Kept as a conflict copy.
  std::vector<std::string> lost;
  std::set<std::string> lost_paths;
};

bool Touches(const Op& op, const std::string& path) {
  return op.path == path || (op.kind == OpKind::kRename && op.to == path);
}

// A write w (close returned 0, content hash h, path p) is accounted for if:
//  present:    the final tree holds h at p;
//  moved:      the final tree holds h at another path (renames move
//              content unchanged, and h is unique to w);
//  conflict:   some replica keeps h as a conflict copy;
//  superseded: a later operation on p (a write, append, delete, or rename
//              from or to p) that had seen w: it started after w completed,
//              completed or may have taken effect (its replica died under
//              it), and was made by w's writer (same replica, one after the
//              other) or by a writer whose replica showed h at p just before
//              it. Only such a descendant of w may replace w without a
//              copy; a later operation that had not seen w was concurrent
//              with it, and if it won, w must survive as a conflict copy.
// Anything else is a lost write.
Verdicts CheckWrites(const std::vector<Op>& all, const std::map<std::string, std::string>& final_tree,
                     const std::set<std::string>& conflict_hashes, const std::string& tree_report) {
  std::map<std::string, std::string> path_of_hash;
  for (const auto& [path, hash] : final_tree) path_of_hash[hash] = path;
  Verdicts v;
  for (const Op& w : all) {
    if (w.outcome != Outcome::kDone || (w.kind != OpKind::kWrite && w.kind != OpKind::kAppend)) {
      continue;
    }
    auto at = final_tree.find(w.path);
    if (at != final_tree.end() && at->second == w.hash) {
      ++v.present;
    } else if (path_of_hash.contains(w.hash)) {
      ++v.moved;
    } else if (conflict_hashes.contains(w.hash)) {
      ++v.conflict;
    } else if (std::any_of(all.begin(), all.end(), [&](const Op& o) {
                 if (o.outcome == Outcome::kFailed || !Touches(o, w.path) || o.start <= w.end) {
                   return false;
                 }
                 const std::string& seen = o.path == w.path ? o.seen : o.seen_to;
                 return o.writer == w.writer || seen == w.hash;
               })) {
      ++v.superseded;
    } else {
      std::string history;
      const auto t0 = all.front().start;
      for (const Op& o : all) {
        if (!Touches(o, w.path)) continue;
        absl::StrAppend(&history, "    ", absl::StrFormat("%9.3f-%9.3f", SecondsBetween(t0, o.start),
                                                         SecondsBetween(t0, o.end)),
                        " writer ", o.writer, " op ", o.number, " ", KindName(o.kind), " ", o.path,
                        o.to.empty() ? "" : absl::StrCat(" -> ", o.to), " ",
                        o.outcome == Outcome::kDone      ? "done"
                        : o.outcome == Outcome::kUnknown ? absl::StrCat("unknown (", strerror(o.error), ")")
                                                         : "failed",
                        o.hash.empty() ? "" : absl::StrCat(" ", o.hash.substr(0, 12)),
                        " saw ", (o.path == w.path ? o.seen : o.seen_to).substr(0, 12), "\n");
      }
      v.lost_paths.insert(w.path);
      v.lost.push_back(absl::StrCat(
          "LOST: writer ", w.writer, " op ", w.number, " ", KindName(w.kind), " ", w.path, " ",
          w.hash.substr(0, 12), "; final: ",
          at == final_tree.end() ? "absent" : at->second.substr(0, 12), "\n  history of ", w.path,
          " (seconds since the first op):\n", history, tree_report));
    }
  }
  return v;
}

// ---------------------------------------------------------------------------

TEST(ChaosTest, ConvergesAndKeepsEveryCompletedWriteUnderFaults) {
  const int64_t seconds = std::clamp<int64_t>(EnvInt("REPLFS_CHAOS_SECONDS", 90), 5, 86400);
  const uint64_t seed = static_cast<uint64_t>(EnvInt("REPLFS_CHAOS_SEED", std::random_device()()));
  std::printf("[chaos] seed %llu (REPLFS_CHAOS_SEED), fault phase %lld s (REPLFS_CHAOS_SECONDS)\n",
              static_cast<unsigned long long>(seed), static_cast<long long>(seconds));

  ProxiedCluster cluster;
  REPLFS_ASSERT_OK(cluster.Init());
  for (int i = 0; i < kReplicas; ++i) REPLFS_ASSERT_OK(cluster.Start(i));
  for (const char* dir : {"w0", "w1", "shared"}) {
    ASSERT_EQ(::mkdir(cluster.replica(0).MountPath(dir).c_str(), 0755), 0) << dir;
  }
  REPLFS_ASSERT_OK(cluster.WaitForConvergence(absl::Seconds(30)));

  const auto epoch = SteadyClock::now();
  std::atomic<bool> stop_writers{false};
  std::vector<std::unique_ptr<Writer>> writers;
  for (int k = 0; k < kWriters; ++k) {
    writers.push_back(std::make_unique<Writer>(k, cluster.replica(k).mountpoint(),
                                               seed * 7919 + static_cast<uint64_t>(k),
                                               &stop_writers, epoch));
  }
  FaultInjector faults(&cluster, seed, epoch);
  std::vector<std::string> conflict_dirs;
  for (int i = 0; i < kReplicas; ++i) {
    conflict_dirs.push_back(cluster.replica(i).StateDir() + "/conflicts");
  }
  ConflictHarvester harvester(conflict_dirs);
  {
    // Declared after the cluster: joined before it is torn down.
    std::vector<std::thread> writer_threads;
    for (auto& w : writers) writer_threads.emplace_back([&w] { w->Run(); });
    std::atomic<bool> stop_harvesting{false};
    std::thread harvesting([&] {
      while (!stop_harvesting) {
        harvester.Harvest();
        std::this_thread::sleep_for(std::chrono::seconds(1));
      }
    });
    faults.Run(epoch + std::chrono::seconds(seconds));
    stop_writers = true;
    stop_harvesting = true;
    harvesting.join();
    // A writer can be blocked on a replica that hangs (a bug): give it a
    // bounded time, then kill that replica, which fails the blocked call.
    for (int k = 0; k < kWriters; ++k) {
      const bool finished = WaitUntil([&] { return writers[static_cast<size_t>(k)]->busy_since_ms() < 0; },
                                      absl::Seconds(60));
      if (!finished) {
        ADD_FAILURE() << "writer " << k << " is stuck in an operation started at "
                      << writers[static_cast<size_t>(k)]->busy_since_ms() << " ms: replica " << k
                      << " hangs\n"
                      << cluster.Diagnostics();
        cluster.Kill(k);
      }
    }
    for (auto& t : writer_threads) t.join();
  }
  EXPECT_TRUE(faults.error().empty()) << faults.error();

  // Faults over: every link healed, every replica resumed and running.
  cluster.HealAll();
  for (int i = 0; i < kReplicas; ++i) {
    cluster.Resume(i);
    if (!cluster.running(i)) REPLFS_ASSERT_OK(cluster.Start(i));
  }
  const auto converge_start = SteadyClock::now();
  const absl::Status converged = cluster.WaitForConvergence(absl::Seconds(120));
  const double converge_seconds = SecondsBetween(converge_start, SteadyClock::now());
  EXPECT_TRUE(converged.ok()) << converged;

  // Every operation, in start order.
  std::vector<Op> all;
  std::vector<std::string> anomalies;
  for (auto& w : writers) {
    all.insert(all.end(), w->ops().begin(), w->ops().end());
    anomalies.insert(anomalies.end(), w->anomalies().begin(), w->anomalies().end());
  }
  std::sort(all.begin(), all.end(), [](const Op& a, const Op& b) { return a.start < b.start; });
  ASSERT_FALSE(all.empty());
  for (const std::string& a : anomalies) ADD_FAILURE() << a;

  absl::StatusOr<std::map<std::string, std::string>> final_tree =
      FileHashes(cluster.replica(0).mountpoint(), false);
  ASSERT_TRUE(final_tree.ok()) << final_tree.status();
  harvester.Harvest();
  const std::set<std::string>& conflict_hashes = harvester.hashes();
  size_t conflicts_listed = 0;
  for (int i = 0; i < kReplicas; ++i) {
    absl::StatusOr<ConflictsReply> listed = cluster.Conflicts(i);
    if (listed.ok()) conflicts_listed += static_cast<size_t>(listed->conflicts_size());
  }
  std::string tree_report = "  final tree (replica 0):\n";
  for (const auto& [path, hash] : *final_tree) {
    absl::StrAppend(&tree_report, "    ", path, " ", hash.substr(0, 12), "\n");
  }
  const Verdicts verdicts = CheckWrites(all, *final_tree, conflict_hashes, tree_report);

  std::map<OpKind, int> done, unknown;
  std::map<std::string, int> errors;
  for (const Op& o : all) {
    if (o.outcome == Outcome::kDone) ++done[o.kind];
    if (o.outcome == Outcome::kUnknown) {
      ++unknown[o.kind];
      ++errors[strerrorname_np(o.error) != nullptr ? strerrorname_np(o.error) : "?"];
    }
  }
  std::string error_breakdown;
  for (const auto& [name, count] : errors) absl::StrAppend(&error_breakdown, " ", name, "=", count);
  const int completed_writes = done[OpKind::kWrite] + done[OpKind::kAppend];
  std::printf(
      "[chaos] operations: %zu; completed: %d writes, %d appends, %d renames, %d deletes; "
      "outcome unknown (mount failed under them): %d writes, %d appends, %d renames, %d deletes "
      "(%s)\n",
      all.size(), done[OpKind::kWrite], done[OpKind::kAppend], done[OpKind::kRename],
      done[OpKind::kDelete], unknown[OpKind::kWrite], unknown[OpKind::kAppend],
      unknown[OpKind::kRename], unknown[OpKind::kDelete], error_breakdown.c_str());
  std::printf("[chaos] writes made (close returned 0): %d\n", completed_writes);
  std::printf("[chaos] faults injected: %d (kill+restart %d, stop+cont %d, link cuts %d)\n",
              faults.counts().total(), faults.counts().kills, faults.counts().pauses,
              faults.counts().cuts);
  std::printf("[chaos] seconds to converge: %.1f%s\n", converge_seconds,
              converged.ok() ? "" : " (DID NOT CONVERGE)");
  std::printf(
      "[chaos] completed writes: %d present, %d moved by a rename, %d superseded, %d kept as "
      "conflict copies, %zu lost; final tree %zu files; conflict copies: %zu seen, %zu listed at "
      "the end, at most %zu on one replica\n",
      verdicts.present, verdicts.moved, verdicts.superseded, verdicts.conflict,
      verdicts.lost.size(), final_tree->size(), harvester.copies_seen(), conflicts_listed,
      harvester.peak_per_replica());
  std::fflush(stdout);
  EXPECT_GT(faults.counts().total(), 0);
  EXPECT_GT(completed_writes, 0);
  for (size_t i = 0; i < verdicts.lost.size() && i < 10; ++i) ADD_FAILURE() << verdicts.lost[i];
  if (!verdicts.lost.empty()) {
    std::string events = "faults (seconds since the start of the writers):\n";
    for (const std::string& e : faults.events()) absl::StrAppend(&events, "  ", e, "\n");
    ADD_FAILURE() << events << cluster.Diagnostics(verdicts.lost_paths);
  }
}

}  // namespace
}  // namespace replfs::testing
