#ifndef REPLFS_DAEMON_DAEMON_H_
#define REPLFS_DAEMON_DAEMON_H_

#include <string>

#include "absl/status/status.h"

namespace replfs {

// Forks into the background before any thread exists, but keeps the parent
// waiting until the child reports that the mount is up (exit 0) or why it
// failed (the parent prints the reason and exits 1). So `mount` and scripts
// see start-up errors, and the child's threads (LevelDB, FUSE workers) are
// never lost to a fork.
class Daemon {
 public:
  // In the parent: waits for the child's verdict and exits; never returns.
  // In the child: returns. Without `background`, just returns.
  static void Start(bool background);
  // Reports success to the waiting parent (no-op in the foreground).
  static void ReportReady();
  // Reports failure to the waiting parent, or prints it in the foreground.
  static void ReportFailure(const std::string& message);
};

}  // namespace replfs

#endif  // REPLFS_DAEMON_DAEMON_H_
