#ifndef REPLFS_TESTS_SUPPORT_KEPT_VERSIONS_H_
#define REPLFS_TESTS_SUPPORT_KEPT_VERSIONS_H_

#include <sys/stat.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "gtest/gtest.h"
#include "storage/metadata_store.h"
#include "storage/version_keeper.h"
#include "storage/version_records.h"

namespace replfs::testing {

// The origin replica the kept versions of these tests name.
inline constexpr uint64_t kKeepingReplica = 7;

// Keeps `name` (in the directory `tree_fd`) as deleted: moved aside and
// recorded, the way a local unlink keeps it.
inline KeptFile KeepAsDeleted(VersionKeeper& keeper, int tree_fd, const std::string& name) {
  struct stat st {};
  EXPECT_EQ(::fstatat(tree_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW), 0) << name;
  KeptFile kept = keeper.MoveAside(tree_fd, name.c_str(), st);
  EXPECT_TRUE(kept.kept()) << kept.not_kept_reason;
  const absl::Status recorded = keeper.Record(kept, name, KEPT_DELETED, kKeepingReplica);
  EXPECT_TRUE(recorded.ok()) << recorded;
  return kept;
}

// The version records the store holds of `path`; of every path when it is
// empty.
inline std::vector<VersionRecord> VersionRecordsOf(const MetadataStore& store,
                                                   const std::string& path) {
  std::vector<VersionRecord> records;
  const absl::Status s = VersionRecords(store).Scan(
      path, /*subtree=*/path.empty(), "", [&](const VersionRecord& record, absl::string_view) {
        records.push_back(record);
        return true;
      });
  EXPECT_TRUE(s.ok()) << s;
  return records;
}

}  // namespace replfs::testing

#endif  // REPLFS_TESTS_SUPPORT_KEPT_VERSIONS_H_
