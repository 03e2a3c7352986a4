#ifndef REPLFS_TESTS_CHAOS_CHAOS_WRITER_H_
#define REPLFS_TESTS_CHAOS_CHAOS_WRITER_H_

// Writers and their history.

#include <atomic>
#include <cstdint>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "base/unique_fd.h"
#include "tests/chaos/chaos_common.h"

namespace replfs::testing::chaos {

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

const char* KindName(OpKind kind);

// Whether `error` says the mount itself is gone (the replica was killed).
bool MountGone(int error);

class Writer {
 public:
  Writer(int id, std::string mountpoint, uint64_t seed, const std::atomic<bool>* stop,
         SteadyClock::time_point epoch)
      : id_(id), mountpoint_(std::move(mountpoint)), random_(seed), stop_(stop), epoch_(epoch) {}

  void Run();

  const std::vector<Op>& ops() const { return ops_; }
  const std::vector<std::string>& anomalies() const { return anomalies_; }
  // Milliseconds since the epoch at which the running operation started (-1: none).
  int64_t busy_since_ms() const { return busy_since_ms_; }

 private:
  int Uniform(int low, int high) { return std::uniform_int_distribution<int>(low, high)(random_); }

  // The mount's root, opened and checked to be the FUSE mount: after a kill
  // the mountpoint is a plain directory for a while, and a write that went
  // there would never replicate.
  bool EnsureRoot();

  std::string PickPath();

  // Unique per write: the header names writer and operation number.
  std::string MakeContent(uint64_t number, const std::string& path);

  void Finish(Op& op, bool ok, int error);

  void RunOne();

  // Opens `path` for writing without changing it and sets `seen` to what it
  // holds, read through that handle. While the handle is open no remote
  // version replaces the file, so `seen` is exactly what the operation
  // then overwrites, renames or removes. Returns the handle; invalid when
  // the file does not exist (seen "absent") or cannot be opened (seen "").
  UniqueFd Pin(const std::string& path, std::string* seen);

  // Replaces the file's content (creating it if absent) through a handle
  // pinned first, so that `seen` is what it replaced.
  void Write(Op& op);

  // Appends a unique line, then reads the whole file back through the same
  // handle (a remote version never replaces a file open for writing, so
  // this is the content the append produced).
  void Append(Op& op);

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

}  // namespace replfs::testing::chaos

#endif  // REPLFS_TESTS_CHAOS_CHAOS_WRITER_H_
