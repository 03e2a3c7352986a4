#ifndef REPLFS_REPLICATION_ENTRY_VALIDATION_H_
#define REPLFS_REPLICATION_ENTRY_VALIDATION_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "entry.pb.h"

namespace replfs {

// Limits on what a peer may send. Anything beyond them is hostile or broken.
struct EntryLimits {
  size_t max_path_bytes = 4095;       // PATH_MAX - 1
  size_t max_name_bytes = 255;        // NAME_MAX
  size_t max_symlink_bytes = 4095;
  // 128 GiB: 2^17 block hashes, a 4.3 MiB entry, 12 MB parsed. A receiver
  // parses, decides and sets aside the largest legal entry in bounded
  // memory (issue 10: under 128 MiB). A replica does not send what its
  // peers would refuse (ReplicationService skips it and says so).
  uint64_t max_file_bytes = uint64_t{1} << 37;
  size_t max_xattrs = 128;
  size_t max_xattr_value_bytes = 65536;
};

// Checks a path received from the network: relative, normalized (no "",
// ".", ".." components, no leading or trailing or doubled '/'), no NUL,
// within the length limits, and not inside the hidden state folder
// (`hidden_name` at the root; "" if none).
absl::Status ValidateRemotePath(absl::string_view path, absl::string_view hidden_name,
                                const EntryLimits& limits = {});

// Checks a whole entry received from the network before anything of it is
// applied: its path, kind, sizes and block list consistent with each other,
// hash lengths, inline data, symlink target, attribute bounds.
absl::Status ValidateRemoteEntry(const Entry& entry, absl::string_view hidden_name,
                                 const EntryLimits& limits = {});

}  // namespace replfs

#endif  // REPLFS_REPLICATION_ENTRY_VALIDATION_H_
