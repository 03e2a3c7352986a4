#ifndef REPLFS_FUSE_UNSETTLED_KEEP_H_
#define REPLFS_FUSE_UNSETTLED_KEEP_H_

#include <optional>
#include <string>
#include <utility>

#include "entry.pb.h"
#include "fuse/change_stamp.h"
#include "storage/version_keeper.h"

namespace replfs {

// A content kept at an open whose writes go past the daemon (passthrough):
// whether they change the file only a close can tell, so its record waits
// for the last writer's close. A close that finds the file as kept leaves
// it waiting (it still holds what the file holds); the next change in
// place records it, and it is discarded unrecorded when the inode goes.
// Shared by the inode and the commit worker's jobs.
struct UnsettledKeep {
  UnsettledKeep(VersionKeeper* keeper, KeptFile copy, std::string name, ChangeStamp as_kept)
      : versions(keeper), kept(std::move(copy)), path(std::move(name)), stamp(as_kept) {}
  ~UnsettledKeep() {
    if (!recorded) versions->Discard(kept);
  }
  UnsettledKeep(const UnsettledKeep&) = delete;
  UnsettledKeep& operator=(const UnsettledKeep&) = delete;

  VersionKeeper* const versions;
  KeptFile kept;
  const std::string path;
  const ChangeStamp stamp;  // The file's when kept.
  // Set by the commit worker only: the path's entry when kept (read in
  // order with the commits), and whether the record is in the store.
  std::optional<Entry> before;
  bool recorded = false;
};

}  // namespace replfs

#endif  // REPLFS_FUSE_UNSETTLED_KEEP_H_
