#ifndef REPLFS_REPLICATION_OBJECT_ATTRIBUTES_H_
#define REPLFS_REPLICATION_OBJECT_ATTRIBUTES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "entry.pb.h"

namespace replfs {

// What of an attribute register the file system would not store: the
// object is applied without it, and this says what is missing and why.
struct DroppedAttributes {
  std::vector<std::string> items;  // "xattr user.big: No space left on device"
  // Whether trying again may store them (the file system refused them, not
  // replfs: a namespace it never replicates stays dropped).
  bool retryable = false;
  // Set-id bits were left off a file (by policy: not a problem to retry).
  bool setid_stripped = false;
  bool empty() const { return items.empty(); }
};

// Gives the object `fd` (O_PATH or regular) of kind `kind` an entry's
// attribute register: owner, mode, exactly the entry's replicated xattrs,
// and (not for directories) its mtime. Idempotent. What the file system
// refuses to store of the owner, the xattrs or the mtime is skipped and
// added to `dropped` (a file system without ownership, an xattr too large
// for it or in a namespace it lacks, a time it cannot represent), as is an
// xattr in a namespace replfs does not replicate (security.*, trusted.*):
// the rest still applies. A mode it refuses fails the call. Unless
// `allow_setid`, a file (anything but a directory) never gets the setuid or
// setgid bit; `dropped->setid_stripped` says when one was left off.
absl::Status SetObjectAttributes(int fd, Kind kind, const Attributes& attributes,
                                 int64_t mtime_ns, bool allow_setid, DroppedAttributes* dropped);

}  // namespace replfs

#endif  // REPLFS_REPLICATION_OBJECT_ATTRIBUTES_H_
