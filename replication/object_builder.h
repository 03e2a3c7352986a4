#ifndef REPLFS_REPLICATION_OBJECT_BUILDER_H_
#define REPLFS_REPLICATION_OBJECT_BUILDER_H_

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "base/unique_fd.h"
#include "entry.pb.h"
#include "replication/apply_options.h"
#include "replication/block_fetcher.h"
#include "replication/object_attributes.h"
#include "storage/metadata_store.h"

namespace replfs {

// A new object built in the temp folder, waiting to be renamed into place.
// It owns the temp folder's fd, which its destructor needs to unlink an
// object that was not renamed into place (convergence simulation, seed 168:
// with the fd owned elsewhere and closed first, such objects leaked and a
// restarted counter later hit them: "File exists"). Not copyable or movable:
// its address is stable while it waits.
struct PreparedObject {
  PreparedObject() = default;
  PreparedObject(const PreparedObject&) = delete;
  PreparedObject& operator=(const PreparedObject&) = delete;
  ~PreparedObject() {
    if (!temp_name.empty()) ::unlinkat(temp_dir.get(), temp_name.c_str(), 0);
  }
  int temp_dir_fd() const { return temp_dir.get(); }

  UniqueFd temp_dir;
  std::string temp_name;    // Empty: nothing to rename (dirs, tombstones).
  uint64_t placed_ino = 0;  // The built object's inode (kept by the rename).
  bool durable = false;     // Its data has been fsynced.
  DroppedAttributes dropped;  // What of its attributes the file system refused.
};

// Builds the live non-directory `entry` with `attributes` in the temp
// folder as a new object, ready to be renamed into place; nothing visible
// changes yet. File blocks come from local files (the old version, a
// renamed or copied file, this replica's conflict copy of that very
// version) or from `fetcher`, each verified against its hash. With
// `durable`, the file's data is fsynced before this returns; without, the
// caller must call MakeDurable before the rename (to fsync many objects in
// one go).
absl::Status PrepareObject(const Entry& entry, const Attributes& attributes, int root_fd,
                           const MetadataStore& store, const ApplierOptions& options,
                           std::atomic<uint64_t>* temp_counter, BlockFetcher* fetcher, ApplyStats* stats,
                           bool durable, PreparedObject* prepared);

// Makes the data of prepared files durable before they are renamed into
// place (a rename that reached the disk before its file's data would show
// an empty or partial file after a power loss, which the start-up scan
// would then take for a local edit). One file is fsynced; several are
// synced with one syncfs, which commits the journal and flushes the disk
// once for all of them. Objects already durable, or not files, are skipped.
absl::Status MakeDurable(const std::vector<PreparedObject*>& prepared);

}  // namespace replfs

#endif  // REPLFS_REPLICATION_OBJECT_BUILDER_H_
