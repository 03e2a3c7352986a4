#include "replication/fallback_policy.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace replfs {

FallbackPolicy::FallbackPolicy(absl::Duration patience, size_t fallbacks, absl::Time start)
    : patience_(patience),
      fallbacks_(fallbacks),
      peer_last_connected_(start),
      fallback_last_connected_(start) {}

size_t FallbackPolicy::Update(absl::Time now, const Observation& seen) {
  peer_connected_ = seen.any_peer_connected;
  if (seen.any_peer_connected) peer_last_connected_ = now;
  if (seen.any_peer_live) {
    // A peer is back and caught up: it carries everything the fallbacks
    // would, so they are dropped at once.
    in_use_ = 0;
    return in_use_;
  }
  if (in_use_ == 0) {
    // A peer that is connected but still replaying its log is not silent.
    if (seen.any_peer_connected || now - peer_last_connected_ < patience_ || fallbacks_ == 0) {
      return in_use_;
    }
    in_use_ = 1;
    fallback_last_connected_ = now;
    return in_use_;
  }
  const size_t watched = std::min(in_use_, seen.fallback_connected.size());
  for (size_t i = 0; i < watched; ++i) {
    if (seen.fallback_connected[i]) fallback_last_connected_ = now;
  }
  // The fallbacks in use do not answer either: add the next one, keeping
  // the earlier ones (whichever answers first serves).
  if (in_use_ < fallbacks_ && now - fallback_last_connected_ >= patience_) {
    ++in_use_;
    fallback_last_connected_ = now;
  }
  return in_use_;
}

std::string FallbackPolicy::Reason(size_t index, absl::Time now) const {
  const std::string silent = absl::FormatDuration(absl::Trunc(now - peer_last_connected_,
                                                              absl::Seconds(1)));
  if (index < in_use_) {
    return absl::StrCat("in use: no configured peer has answered for ", silent,
                        index == 0 ? "" : "; the fallbacks before it do not answer either");
  }
  if (peer_connected_ && in_use_ == 0) return "standby: a configured peer is connected";
  if (in_use_ > 0) return "standby: a fallback before it in the list is in use";
  return absl::StrCat("standby: configured peers silent for ", silent, ", used after ",
                      absl::FormatDuration(patience_));
}

}  // namespace replfs
