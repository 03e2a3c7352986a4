#ifndef REPLFS_TOOLS_STATUS_CLIENT_H_
#define REPLFS_TOOLS_STATUS_CLIENT_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "replfs.pb.h"

namespace replfs {

// Talks to one running replica's Admin service over its unix socket
// (STATE_DIR/admin.sock, mode 0600: root or the replica's owner only).
// Every call has a deadline: a hung or stopped replica is reported as
// unreachable, never waited for.
class StatusClient {
 public:
  explicit StatusClient(std::string admin_socket, absl::Duration timeout = absl::Seconds(3))
      : admin_socket_(std::move(admin_socket)), timeout_(timeout) {}

  absl::StatusOr<ReplicaStatus> Status() const;
  absl::StatusOr<std::vector<ConflictCopy>> Conflicts() const;
  // Whether the replica had a record of `node` pulling from it.
  absl::StatusOr<bool> ForgetPuller(uint64_t node) const;

 private:
  // Why the socket cannot be used, before gRPC turns it into a vaguer error.
  absl::Status CheckSocket() const;

  std::string admin_socket_;
  absl::Duration timeout_;
};

}  // namespace replfs

#endif  // REPLFS_TOOLS_STATUS_CLIENT_H_
