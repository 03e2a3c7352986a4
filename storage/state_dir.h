#ifndef REPLFS_STORAGE_STATE_DIR_H_
#define REPLFS_STORAGE_STATE_DIR_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "base/unique_fd.h"

namespace replfs {

// The replica's private folder (default BACKING/.replfs): the metadata
// store, the node id, the single-instance lock, and later conflict copies and
// the admin socket. Holding a StateDir means holding the lock: no second
// replfs can use the same folder while this object lives.
class StateDir {
 public:
  static constexpr int kLayoutVersion = 1;

  // Creates the folder if needed, takes the lock, checks the layout version
  // and loads (or, on first start, generates) the persistent node id.
  static absl::StatusOr<std::unique_ptr<StateDir>> Open(const std::string& path);

  const std::string& path() const { return path_; }
  uint64_t node_id() const { return node_id_; }
  std::string StorePath() const { return path_ + "/store"; }
  std::string TempPath() const { return path_ + "/tmp"; }
  std::string ConflictsPath() const { return path_ + "/conflicts"; }
  std::string VersionsPath() const { return path_ + "/versions"; }

 private:
  StateDir(std::string path, UniqueFd lock_fd, uint64_t node_id)
      : path_(std::move(path)), lock_fd_(std::move(lock_fd)), node_id_(node_id) {}

  std::string path_;
  UniqueFd lock_fd_;
  uint64_t node_id_;
};

// Reads a state folder's node id without taking the lock (for tools).
absl::StatusOr<uint64_t> ReadNodeId(const std::string& state_path);

}  // namespace replfs

#endif  // REPLFS_STORAGE_STATE_DIR_H_
