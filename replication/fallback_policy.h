#ifndef REPLFS_REPLICATION_FALLBACK_POLICY_H_
#define REPLFS_REPLICATION_FALLBACK_POLICY_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace replfs {

// When a replica pulls from its fallback peers (-o fallback_peers): only
// while none of its configured peers answers. A spoke whose hub is down
// keeps receiving from another hub or the centre, and goes back to its hub
// alone once the hub is live again.
//
// Pure: the pullers' states and the time come in; how many fallbacks to use
// (always a prefix of the list, in the operator's order of preference) and
// why come out. Not thread-safe; FallbackSupervisor owns one.
class FallbackPolicy {
 public:
  // What the pullers look like at one moment.
  struct Observation {
    // A configured peer is connected and has sent its log up to its head.
    bool any_peer_live = false;
    // A configured peer is connected (perhaps still replaying its log).
    bool any_peer_connected = false;
    // Per fallback, whether it is connected now.
    std::vector<bool> fallback_connected;
  };

  // `patience`: how long the configured peers may all be silent before the
  // first fallback is used, and how long a fallback in use may fail to
  // connect before the next one is added.
  FallbackPolicy(absl::Duration patience, size_t fallbacks, absl::Time start);

  // Returns how many fallbacks (the first N of the list) to pull from now.
  size_t Update(absl::Time now, const Observation& seen);

  size_t in_use() const { return in_use_; }
  // Why fallback `index` is or is not in use, for replfs-status.
  std::string Reason(size_t index, absl::Time now) const;

 private:
  absl::Duration patience_;
  size_t fallbacks_;
  // The last time a configured peer was connected (start: give them time).
  absl::Time peer_last_connected_;
  // The last time a fallback in use was connected, or one was added.
  absl::Time fallback_last_connected_;
  size_t in_use_ = 0;
  bool peer_connected_ = false;
};

}  // namespace replfs

#endif  // REPLFS_REPLICATION_FALLBACK_POLICY_H_
