#include "tests/chaos/conflict_harvester.h"

#include <algorithm>
#include <cstddef>
#include <filesystem>
#include <string>
#include <system_error>

#include "absl/status/statusor.h"
#include "tests/chaos/chaos_common.h"
#include "tests/cluster.h"

namespace replfs::testing::chaos {

void ConflictHarvester::Harvest() {
  namespace fs = std::filesystem;
  for (const std::string& dir : dirs_) {
    std::error_code error;
    size_t present = 0;
    for (fs::directory_iterator it(dir, error), end; !error && it != end; it.increment(error)) {
      ++present;
      const std::string path = it->path().string();
      if (seen_.contains(path)) continue;
      absl::StatusOr<std::string> content = ReadFile(path);
      if (!content.ok()) continue;  // Pruned meanwhile.
      seen_.insert(path);
      hashes_.insert(ContentHash(*content));
    }
    peak_ = std::max(peak_, present);
  }
}

}  // namespace replfs::testing::chaos
