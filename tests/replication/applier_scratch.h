#ifndef REPLFS_TESTS_REPLICATION_APPLIER_SCRATCH_H_
#define REPLFS_TESTS_REPLICATION_APPLIER_SCRATCH_H_

#include <fcntl.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "replication/apply_options.h"
#include "storage/hlc.h"
#include "storage/metadata_store.h"
#include "storage/unique_fd.h"
#include "tests/storage/scratch_dir.h"

namespace replfs {

// A backing directory with its state folder (.replfs: store, tmp,
// conflicts), for tests that drive a RemoteApplier without a mount.
class ApplierScratch : public ::testing::Test {
 protected:
  // This replica's node id and a peer's.
  static constexpr uint64_t kLocalNode = 0xa11ce;
  static constexpr uint64_t kRemoteNode = 0xb0b;

  explicit ApplierScratch(const std::string& prefix) : dir_(prefix) {}

  void SetUp() override {
    std::filesystem::create_directories(B(".replfs/tmp"));
    std::filesystem::create_directories(B(".replfs/conflicts"));
    root_.Reset(::open(Backing().c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    ASSERT_TRUE(root_.valid());
    absl::StatusOr<std::unique_ptr<MetadataStore>> s = MetadataStore::Open(B(".replfs/store"));
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
  }

  std::string Backing() const { return dir_.Path("backing"); }
  std::string B(const std::string& rel) const { return Backing() + "/" + rel; }

  // An applier's options for this folder.
  ApplierOptions Options(uint64_t node_id = 0) const {
    ApplierOptions options;
    options.node_id = node_id;
    options.hidden_name = ".replfs";
    options.temp_dir = B(".replfs/tmp");
    options.conflicts_dir = B(".replfs/conflicts");
    return options;
  }

  testing::ScratchDir dir_;
  UniqueFd root_;
  std::unique_ptr<MetadataStore> store_;
  HybridLogicalClock clock_;
};

}  // namespace replfs

#endif  // REPLFS_TESTS_REPLICATION_APPLIER_SCRATCH_H_
