#ifndef REPLFS_STORAGE_OBJECT_OBSERVER_H_
#define REPLFS_STORAGE_OBJECT_OBSERVER_H_

#include <sys/stat.h>

#include "absl/status/statusor.h"
#include "entry.pb.h"
#include "storage/dirty_blocks.h"

namespace replfs {

// What one backing object looks like now, expressed as the register contents
// of an Entry (no versions yet) plus the local stat the scan compares.
struct ObservedObject {
  Content content;        // kind, size, hashes/inline, symlink target, mtime
  Attributes attributes;  // mode, uid, gid, replicated xattrs
  LocalStat local_stat;
};

// Device and socket nodes: objects of this machine only. They can be made
// in the tree, but are never recorded in the store or replicated.
inline bool IsLocalOnly(mode_t mode) {
  return S_ISCHR(mode) || S_ISBLK(mode) || S_ISSOCK(mode);
}

// Xattr namespaces that replicate. security.* and trusted.* stay local:
// they belong to the machine's security policy, not to the tree.
bool IsReplicatedXattr(const char* name);

// Observes the object `fd` refers to (an O_PATH or regular fd; `st` is its
// fstat). For regular files `previous`/`dirty` let the hasher reuse hashes of
// unwritten blocks; pass nullptr to hash everything.
absl::StatusOr<ObservedObject> ObserveObject(int fd, const struct stat& st,
                                             const Content* previous,
                                             const DirtyBlocks* dirty);

// Whether ObserveObject can take a regular file's content from `previous`
// without reading it: nothing was written since (`dirty` is empty) and the
// size and mtime are those `previous` recorded (a chmod, a chown, a link).
bool ContentKnownWithoutReading(const struct stat& st, const Content* previous,
                                const DirtyBlocks* dirty);

// Convenience for walkers: observes `name` inside directory `dirfd` without
// following a final symlink.
absl::StatusOr<ObservedObject> ObserveAt(int dirfd, const char* name,
                                         const Content* previous,
                                         const DirtyBlocks* dirty);

LocalStat LocalStatOf(const struct stat& st);

// Whether an object of file type `mode` (st_mode) is of entry kind `kind`.
bool KindMatches(Kind kind, mode_t mode);

}  // namespace replfs

#endif  // REPLFS_STORAGE_OBJECT_OBSERVER_H_
