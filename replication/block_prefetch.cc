#include "replication/block_prefetch.h"

#include <algorithm>
#include <future>
#include <utility>

#include "absl/container/flat_hash_set.h"

namespace replfs {

void PrefetchedBlocks::Prefetch(const std::vector<Wanted>& wanted) {
  std::vector<std::vector<std::string>> requests;
  uint64_t request_bytes = 0;
  absl::flat_hash_set<std::string> asked;
  for (const Wanted& block : wanted) {
    if (blocks_.contains(block.hash) || !asked.insert(block.hash).second) continue;
    if (requests.empty() || requests.back().size() == kBlocksPerRequest ||
        request_bytes + block.bytes > kBytesPerRequest) {
      requests.emplace_back();
      request_bytes = 0;
    }
    requests.back().push_back(block.hash);
    request_bytes += block.bytes;
  }
  for (size_t first = 0; first < requests.size(); first += kRequestsInFlight) {
    const size_t last = std::min(requests.size(), first + kRequestsInFlight);
    std::vector<std::future<absl::StatusOr<std::vector<std::string>>>> replies;
    for (size_t r = first; r < last; ++r) {
      replies.push_back(std::async(std::launch::async, [this, request = &requests[r]] {
        return peer_->Fetch(*request);
      }));
    }
    for (size_t r = first; r < last; ++r) {
      absl::StatusOr<std::vector<std::string>> blocks = replies[r - first].get();
      // A failed request is left to the build, which asks again and
      // reports why (the peer no longer holds a block, hangs, lies).
      if (!blocks.ok() || blocks->size() != requests[r].size()) continue;
      for (size_t i = 0; i < blocks->size(); ++i) {
        blocks_.emplace(requests[r][i], std::move((*blocks)[i]));
      }
    }
  }
}

absl::StatusOr<std::vector<std::string>> PrefetchedBlocks::Fetch(
    const std::vector<std::string>& hashes) {
  std::vector<std::string> out;
  out.reserve(hashes.size());
  for (const std::string& hash : hashes) {
    auto it = blocks_.find(hash);
    if (it == blocks_.end()) return peer_->Fetch(hashes);
    out.push_back(it->second);
  }
  return out;
}

}  // namespace replfs
