#ifndef REPLFS_TESTS_SIMULATION_SIM_REPLICA_H_
#define REPLFS_TESTS_SIMULATION_SIM_REPLICA_H_

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "base/unique_fd.h"
#include "entry.pb.h"
#include "replication/block_fetcher.h"
#include "replication/remote_applier.h"
#include "storage/change_recorder.h"
#include "storage/filesystem_hooks.h"
#include "storage/hlc.h"
#include "storage/metadata_store.h"
#include "storage/state_dir.h"

namespace replfs::sim {

// The state folder's name at each simulated backing root (as replfs's default).
inline constexpr char kStateName[] = ".replfs";

// One simulated replica without FUSE or network: a backing directory, its
// state folder, store, skewed clock, change recorder and remote applier.
// Local operations do what the FUSE layer does: the syscall on the backing
// directory first, then the record of it. An operation the kernel refuses
// (rmdir of a non-empty directory, a rename into itself...) returns false
// and records nothing, like a failed syscall through the mount.
class SimReplica {
 public:
  // `sim_time_ms` is the simulation's shared time; this replica's wall clock
  // reads it plus `skew_ms`.
  static absl::StatusOr<std::unique_ptr<SimReplica>> Create(std::string backing, uint64_t node_id,
                                                            int64_t skew_ms,
                                                            const uint64_t* sim_time_ms);
  ~SimReplica();

  // Drops every in-memory object (store, clock, recorder, applier) and
  // reopens them from disk, as a process restart would.
  absl::Status Restart();

  absl::StatusOr<bool> Write(const std::string& path, uint64_t offset, const std::string& data,
                             bool truncate_first);
  absl::StatusOr<bool> Truncate(const std::string& path, uint64_t size);
  absl::StatusOr<bool> Unlink(const std::string& path);
  absl::StatusOr<bool> Mkdir(const std::string& path, mode_t mode);
  absl::StatusOr<bool> Rmdir(const std::string& path);
  absl::StatusOr<bool> Rename(const std::string& from, const std::string& to, unsigned int flags);
  absl::StatusOr<bool> Symlink(const std::string& target, const std::string& path);
  absl::StatusOr<bool> Chmod(const std::string& path, mode_t mode);

  // Applies a batch received from a peer (blocks it lacks come from `fetcher`).
  absl::Status Apply(const std::vector<Entry>& batch, BlockFetcher* fetcher, ApplyStats* stats);

  MetadataStore& store() { return *store_; }
  RemoteApplier& applier() { return *applier_; }
  int root_fd() const { return root_fd_.get(); }
  uint64_t node_id() const { return node_id_; }
  const std::string& backing() const { return backing_; }
  std::string state_path() const { return backing_ + "/" + kStateName; }
  uint64_t WallClockMs() const;

 private:
  SimReplica(std::string backing, uint64_t node_id, int64_t skew_ms, const uint64_t* sim_time_ms)
      : backing_(std::move(backing)), node_id_(node_id), skew_ms_(skew_ms),
        sim_time_ms_(sim_time_ms) {}
  absl::Status Open();
  void Close();
  // Records the object now at `path` (as the FUSE layer commits an inode).
  absl::Status RecordAt(const std::string& path);
  // After a local removal or rename away from `path`: an ancestor that was
  // a directory only because of a live descendant (its own entry a file or a
  // tombstone) and now has none is still a directory on disk, so it is
  // recorded as one, as the start-up scan would. Without this the store and
  // the disk disagree and the replicas diverge (found by this simulation:
  // the FUSE layer's CommitDelete/rename commit must do the same).
  absl::Status RecordUncoveredAncestors(const std::string& path);
  // Sets the mtime of `path` to this replica's clock, so runs replay exactly.
  void StampMtime(const std::string& path);

  std::string backing_;
  uint64_t node_id_;
  int64_t skew_ms_;
  const uint64_t* sim_time_ms_;
  UniqueFd root_fd_;
  std::unique_ptr<StateDir> state_;
  std::unique_ptr<MetadataStore> store_;
  std::unique_ptr<HybridLogicalClock> clock_;
  std::unique_ptr<ChangeRecorder> recorder_;
  NoFilesystemHooks hooks_;
  std::unique_ptr<RemoteApplier> applier_;
};

// Blocks for a receiver, read from the sending replica's own files (what the
// sender's FetchBlocks would serve). A fetcher made `unserving` answers
// NotFound, as a peer whose file changed since does: the receiver sets the
// entry aside.
class SimBlockFetcher final : public BlockFetcher {
 public:
  explicit SimBlockFetcher(SimReplica* sender, bool unserving = false)
      : sender_(sender), unserving_(unserving) {}
  absl::StatusOr<std::vector<std::string>> Fetch(const std::vector<std::string>& hashes) override;

 private:
  SimReplica* sender_;
  bool unserving_;
};

// Blocks from whichever replica holds them (a set-aside entry is retried
// from any peer).
class AnyReplicaFetcher final : public BlockFetcher {
 public:
  explicit AnyReplicaFetcher(std::vector<SimReplica*> replicas) : replicas_(std::move(replicas)) {}
  absl::StatusOr<std::vector<std::string>> Fetch(const std::vector<std::string>& hashes) override;

 private:
  std::vector<SimReplica*> replicas_;
};

}  // namespace replfs::sim

#endif  // REPLFS_TESTS_SIMULATION_SIM_REPLICA_H_
