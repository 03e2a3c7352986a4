#ifndef REPLFS_TOOLS_STORE_DUMP_H_
#define REPLFS_TOOLS_STORE_DUMP_H_

#include <ostream>

#include "absl/status/status.h"
#include "tools/status_client.h"

namespace replfs {

// Prints the entries (E/) and the change log (S/) of a running replica, read
// page by page over its admin socket, in human form or as JSON lines; then
// the device and socket nodes of its backing directory, which it never
// records.
absl::Status DumpStore(const StatusClient& replica, bool json, std::ostream& out);

}  // namespace replfs

#endif  // REPLFS_TOOLS_STORE_DUMP_H_
