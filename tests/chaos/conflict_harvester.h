#ifndef REPLFS_TESTS_CHAOS_CONFLICT_HARVESTER_H_
#define REPLFS_TESTS_CHAOS_CONFLICT_HARVESTER_H_

#include <cstddef>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace replfs::testing::chaos {

// Conflict copies are capped in number per replica (oldest pruned first), so
// a long run collects the hashes of every copy while it exists: a write kept
// as a copy and pruned later by that policy was still kept.
class ConflictHarvester {
 public:
  explicit ConflictHarvester(std::vector<std::string> dirs) : dirs_(std::move(dirs)) {}

  // Hashes copies not seen before (a copy's name holds the loser's
  // version, so a name is never reused for other content).
  void Harvest();
  const std::set<std::string>& hashes() const { return hashes_; }
  size_t copies_seen() const { return seen_.size(); }
  size_t peak_per_replica() const { return peak_; }

 private:
  std::vector<std::string> dirs_;
  std::set<std::string> seen_;
  std::set<std::string> hashes_;
  size_t peak_ = 0;
};

}  // namespace replfs::testing::chaos

#endif  // REPLFS_TESTS_CHAOS_CONFLICT_HARVESTER_H_
