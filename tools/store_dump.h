#ifndef REPLFS_TOOLS_STORE_DUMP_H_
#define REPLFS_TOOLS_STORE_DUMP_H_

#include <ostream>
#include <string>

#include "absl/status/status.h"

namespace replfs {

// Prints the entries (E/) and the change log (S/) of the replica whose
// backing directory or state folder is `location`, in human form or as JSON
// lines. Works on a stopped replica and on a running one (by reading a
// snapshot copy of the store, since LevelDB admits one process).
absl::Status DumpStore(const std::string& location, bool json, std::ostream& out);

}  // namespace replfs

#endif  // REPLFS_TOOLS_STORE_DUMP_H_
