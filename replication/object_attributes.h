#ifndef REPLFS_REPLICATION_OBJECT_ATTRIBUTES_H_
#define REPLFS_REPLICATION_OBJECT_ATTRIBUTES_H_

#include <cstdint>

#include "absl/status/status.h"
#include "entry.pb.h"

namespace replfs {

// Gives the object `fd` (O_PATH or regular) of kind `kind` an entry's
// attribute register: owner, mode, exactly the entry's replicated xattrs,
// and (not for directories) its mtime. Idempotent.
absl::Status SetObjectAttributes(int fd, Kind kind, const Attributes& attributes,
                                 int64_t mtime_ns);

}  // namespace replfs

#endif  // REPLFS_REPLICATION_OBJECT_ATTRIBUTES_H_
