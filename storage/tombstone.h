#ifndef REPLFS_STORAGE_TOMBSTONE_H_
#define REPLFS_STORAGE_TOMBSTONE_H_

#include "entry.pb.h"

namespace replfs {

// The tombstone that deletes `live` at `version`: its content vector is
// `live`'s, advanced for the deleting node (version.node) to the
// version's HLC, so it dominates what it deletes; the attribute registers
// are kept (a concurrent chmod still compares against them).
Entry TombstoneOf(const Entry& live, const Version& version);

}  // namespace replfs

#endif  // REPLFS_STORAGE_TOMBSTONE_H_
