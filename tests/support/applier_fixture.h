#ifndef REPLFS_TESTS_SUPPORT_APPLIER_FIXTURE_H_
#define REPLFS_TESTS_SUPPORT_APPLIER_FIXTURE_H_

#include <cstdint>
#include <memory>
#include <string>

#include "replication/remote_applier.h"
#include "storage/filesystem_hooks.h"
#include "storage/ignore_set.h"
#include "tests/support/store_and_recorder.h"

namespace replfs::testing {

// A StoreAndRecorderTest with a RemoteApplier on its backing directory,
// set up as a replica's (state folder ".replfs" at the root, its temp and
// conflicts folders inside), applying as the recorder's node.
class ApplierFixture : public StoreAndRecorderTest {
 protected:
  ApplierFixture(const std::string& scratch_prefix, uint64_t node)
      : StoreAndRecorderTest(scratch_prefix, node) {}

  // Call from SetUp, after StoreAndRecorderTest::SetUp.
  // `ignore`: the paths this replica keeps to itself (none when null).
  void MakeApplier(FilesystemHooks* hooks, const IgnoreSet* ignore = nullptr) {
    ApplierOptions options;
    options.ignore = ignore;
    options.node_id = node_;
    options.hidden_name = ".replfs";
    options.temp_dir = B(".replfs/tmp");
    options.conflicts_dir = B(".replfs/conflicts");
    applier_ = std::make_unique<RemoteApplier>(root_.get(), store_.get(), &clock_, hooks, options);
  }

  std::unique_ptr<RemoteApplier> applier_;
};

}  // namespace replfs::testing

#endif  // REPLFS_TESTS_SUPPORT_APPLIER_FIXTURE_H_
