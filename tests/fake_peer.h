#ifndef REPLFS_TESTS_FAKE_PEER_H_
#define REPLFS_TESTS_FAKE_PEER_H_

// The test side of the replication protocol, for the security tests: a fake
// peer (an in-process gRPC server implementing Replication) whose Changes
// stream sends scripted raw messages to a real replica that pulls from it,
// plus builders for entries and a client for a replica's admin socket.

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "replfs.grpc.pb.h"

#include "tests/support/replica_process.h"  // WaitUntil, FreeLoopbackPort

namespace replfs::testing {

// What the fake sends on every Changes stream opened while it is in force.
struct ChangesScript {
  // gRPC message payloads, sent as they are: a serialized ChangeBatch, or a
  // truncated one, or bytes that are no protobuf at all.
  std::vector<std::string> messages;
  // After the messages, keep the stream open until the client drops it (a
  // real peer tails its log), instead of ending it.
  bool hold_open = true;
};

// FetchBlocks answers: for each requested hash, the data served for it
// (whether it matches the hash or not); unknown hashes are answered
// found=false. `extra_blocks` appends that many unrequested blocks.
struct BlockScript {
  std::map<std::string, std::string> data_by_hash;
  int extra_blocks = 0;
  // When non-zero: every requested hash is answered found=true with this
  // many bytes (a peer flooding the receiver's memory).
  uint64_t every_block_bytes = 0;
  // When set: FetchBlocks answers nothing until the call is cancelled (its
  // deadline passes or the receiver gives up), as a hung peer.
  bool hang = false;
};

class FakeReplicationService;

// A hostile (or, with a valid script, well-behaved) peer on 127.0.0.1.
// Hello succeeds for cluster "replfs"; Changes plays the script.
class FakePeer {
 public:
  FakePeer();
  ~FakePeer();
  FakePeer(const FakePeer&) = delete;
  FakePeer& operator=(const FakePeer&) = delete;

  // Binds 127.0.0.1 on a port the kernel picks and starts serving.
  absl::Status Start();
  int port() const { return port_; }
  std::string address() const;
  static constexpr uint64_t kNodeId = 0xFA4E0000000000D1ull;

  // Applies to streams and fetches that start from now on.
  void SetScript(ChangesScript script);
  void SetBlocks(BlockScript blocks);
  // What Hello answers (default: cluster "replfs", node kNodeId).
  void SetHello(const std::string& cluster, uint64_t node);

  int streams_opened() const;
  // Streams that ended because the client dropped them (cancelled, or a
  // write failed: it hung up) rather than by the script's end.
  int streams_dropped() const;
  int fetch_calls() const;
  // The `since` of the last Changes request: the replica's checkpoint.
  uint64_t last_since() const;
  // Waits (bounded) until at least `count` streams were dropped.
  bool WaitForDroppedStreams(int count, absl::Duration timeout) const;

 private:
  std::unique_ptr<FakeReplicationService> service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

// ---- Entries as a peer sends them ----

// An HLC timestamp `offset` away from the wall clock now.
uint64_t HlcFromNow(absl::Duration offset = absl::ZeroDuration());

// Live entries with both registers versioned at `hlc` by the fake peer.
// Inline file (<= 4 KiB of data).
Entry InlineFileEntry(const std::string& path, const std::string& data, uint64_t hlc);
// File held in blocks (1 MiB each); `hashes` are their SHA-256.
Entry BlockFileEntry(const std::string& path, uint64_t size, const std::vector<std::string>& hashes,
                     uint64_t hlc);
Entry DirEntry(const std::string& path, uint64_t hlc);
Entry SymlinkEntry(const std::string& path, const std::string& target, uint64_t hlc);
Entry TombstoneEntry(const std::string& path, uint64_t hlc);

// Serializes `entries` as one ChangeBatch, giving them seq first_seq, ...
std::string BatchBytes(std::vector<Entry> entries, uint64_t first_seq = 1);

// ---- Talking to a real replica ----

// Admin.Status over unix:BACKING/.replfs/admin.sock.
absl::StatusOr<ReplicaStatus> AdminStatus(const std::string& backing);
// The PeerStatus for `address` in the replica's status (NotFound if none).
absl::StatusOr<PeerStatus> PeerStatusFor(const std::string& backing, const std::string& address);
// Calls Hello on a replica's replication port (plaintext), as node `node`.
absl::StatusOr<HelloReply> CallHello(const std::string& address, uint64_t node = 0x7E57);

// ---- Small helpers ----

// One line per object below `root` ("path type size"), never following
// symlinks, skipping the relative paths in `skip` and everything under them.
std::set<std::string> TreeListing(const std::string& root, const std::set<std::string>& skip = {});
bool ProcessAlive(pid_t pid);

}  // namespace replfs::testing

#endif  // REPLFS_TESTS_FAKE_PEER_H_
