#ifndef REPLFS_TESTS_CLUSTER_H_
#define REPLFS_TESTS_CLUSTER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "replfs.pb.h"
#include "tests/support/replica_process.h"

namespace replfs::testing {


// Who pulls from whom: peers[i] lists the replicas that replica i pulls from.
// Replication is pull-based, so a bidirectional link is listed on both sides.
using Topology = std::vector<std::vector<int>>;
Topology FullMesh(int replicas);
// Replica `hub` linked with every other replica; spokes not with each other.
Topology HubAndSpoke(int replicas, int hub);

// One line per object of the tree under `root`, sorted by path, never
// following symlinks: "path kind mode uid gid size sha256" for files,
// "path symlink target" for symlinks, "path dir mode uid gid" for
// directories, plus sorted user.* xattrs. Timestamps, inode numbers and
// link counts are left out (a hard link replicates as an independent file).
// `hidden` (the state folder) is skipped at the top level. Without
// `hash_content` files are described by size only (cheap, for polling).
absl::StatusOr<std::vector<std::string>> TreeDigest(const std::string& root,
                                                    const std::string& hidden = ".replfs",
                                                    bool hash_content = true);

// A line-oriented diff of two digests ("-" only in a, "+" only in b).
std::string DigestDiff(const std::vector<std::string>& a, const std::vector<std::string>& b);

// Small file helpers for tests; errors are values.
absl::Status WriteFile(const std::string& path, const std::string& content);
absl::Status AppendFile(const std::string& path, const std::string& content);
absl::StatusOr<std::string> ReadFile(const std::string& path);
// SHA-256 (hex) of a file's content, read in 1 MiB chunks.
absl::StatusOr<std::string> FileSha256(const std::string& path);
// `size` bytes no compressor can shrink (a fixed-seed PRNG's output).
std::string IncompressibleBytes(size_t size, uint64_t seed);

// For test bodies (gtest must be included by the user).
#define REPLFS_ASSERT_OK(expr)                                   \
  do {                                                           \
    const absl::Status& replfs_assert_status_ = (expr);          \
    ASSERT_TRUE(replfs_assert_status_.ok()) << replfs_assert_status_; \
  } while (false)

// A replica's status and conflict list over its admin socket (5 s deadline).
absl::StatusOr<ReplicaStatus> AdminStatus(const ReplicaProcess& replica);
absl::StatusOr<ConflictsReply> AdminConflicts(const ReplicaProcess& replica);
// Releases `node` from the replica's tombstones (replfs-status --forget-puller).
absl::Status AdminForgetPuller(const ReplicaProcess& replica, uint64_t node);

// A mount to compare, with the name a failure report gives it.
struct NamedMount {
  std::string name;
  std::string mount;
};

// Waits until `mounts` show identical digests (metadata first, then
// content). On timeout: the diff of each tree against the first one's, then
// `diagnostics()` (if set), as an error. Cluster and the WAN bed share it.
absl::Status WaitForMountsToConverge(const std::vector<NamedMount>& mounts, absl::Duration timeout,
                                    const std::function<std::string()>& diagnostics);

// A replica's admin status (if running) and the tail of its log, headed by `name`.
std::string ReplicaDiagnostics(const std::string& name, const ReplicaProcess& replica);

// N real replicas (real `replfs` processes with FUSE mounts) in one temp
// dir, replicating over 127.0.0.1. Each replica i has backing dir
// <tmp>/bN, mount <tmp>/mN and its own port; its peers follow the topology.
// The destructor stops every replica (unmount + wait, SIGKILL if needed)
// and removes the temp dir, also when the test failed.
class Cluster {
 public:
  // `extra_args` are appended to every replica's command line.
  Cluster(int replicas, Topology topology, std::vector<std::string> extra_args = {});
  explicit Cluster(int replicas) : Cluster(replicas, FullMesh(replicas)) {}
  ~Cluster();
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  // Whether construction (temp dirs, ports) worked; tests ASSERT on it.
  const absl::Status& init_status() const { return init_status_; }

  int size() const { return static_cast<int>(replicas_.size()); }
  // Arguments for replica i only (before its Start).
  void AddArguments(int i, const std::vector<std::string>& args) { replica(i).AddArguments(args); }
  // Replaces what AddArguments gave replica i, for its next Start (a
  // restart with other options); it must be stopped. References from
  // replica(i) taken before are no longer valid.
  absl::Status SetArguments(int i, const std::vector<std::string>& args);
  absl::Status StartAll();
  absl::Status Start(int i);
  absl::Status Stop(int i);
  void Kill(int i);
  bool running(int i) const { return replicas_[static_cast<size_t>(i)]->pid() > 0; }
  ReplicaProcess& replica(int i) { return *replicas_[static_cast<size_t>(i)]; }
  int port(int i) const { return ports_[static_cast<size_t>(i)]; }

  std::string Mount(int i, const std::string& relative = "") const;
  std::string Backing(int i, const std::string& relative = "") const;
  // Through replica i's mount: whether `relative` exists (not following a
  // symlink); its content, or the error reading it gave ("<...>", for a
  // test's expectation); waiting until it holds `content`.
  bool Exists(int i, const std::string& relative) const;
  std::string Content(int i, const std::string& relative) const;
  bool WaitForContent(int i, const std::string& relative, const std::string& content,
                      absl::Duration timeout = absl::Seconds(20)) const;

  // The replica's admin endpoint (unix:BACKING/.replfs/admin.sock).
  absl::StatusOr<ReplicaStatus> Status(int i) const;
  absl::StatusOr<ConflictsReply> Conflicts(int i) const;
  // Sum over i's peers of a PeerStatus counter (e.g. block_bytes_fetched).
  absl::StatusOr<uint64_t> SumOverPeers(int i, const std::function<uint64_t(const PeerStatus&)>& field) const;
  absl::StatusOr<uint64_t> BlockBytesFetched(int i) const;

  // Waits until the mounts of `which` (default: every running replica)
  // show identical digests. On timeout: the diff of each tree against the
  // first one's, and every replica's status and log tail, as an error.
  absl::Status WaitForConvergence(absl::Duration timeout = absl::Seconds(30),
                                  std::vector<int> which = {});

  // Everything useful after a failure: statuses and log tails.
  std::string Diagnostics() const;

  // A path in the cluster's temp dir (removed with it), beside the
  // replicas' directories: for a test's scratch files.
  std::string TempPath(const std::string& name) const;

 private:
  std::vector<std::string> Arguments(int i) const;

  absl::Status init_status_;
  std::unique_ptr<TempDir> dir_;
  Topology topology_;
  std::vector<std::string> extra_args_;
  std::vector<int> ports_;
  std::vector<std::unique_ptr<ReplicaProcess>> replicas_;
};

}  // namespace replfs::testing

#endif  // REPLFS_TESTS_CLUSTER_H_
