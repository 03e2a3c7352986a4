#include "tests/support/store_and_recorder.h"

#include <fcntl.h>

#include <filesystem>
#include <fstream>
#include <utility>

namespace replfs::testing {

StoreAndRecorderTest::StoreAndRecorderTest(const std::string& scratch_prefix, uint64_t node,
                                           HybridLogicalClock::WallClockMs wall_clock_ms)
    : dir_(scratch_prefix), node_(node), clock_(std::move(wall_clock_ms)) {}

void StoreAndRecorderTest::SetUp() {
  std::filesystem::create_directories(B(".replfs/tmp"));
  std::filesystem::create_directories(B(".replfs/conflicts"));
  root_.Reset(::open(Backing().c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  ASSERT_TRUE(root_.valid());
  absl::StatusOr<std::unique_ptr<MetadataStore>> store = MetadataStore::Open(B(".replfs/store"));
  ASSERT_TRUE(store.ok()) << store.status();
  store_ = *std::move(store);
  recorder_ = std::make_unique<ChangeRecorder>(store_.get(), &clock_, node_);
}

void StoreAndRecorderTest::WriteFile(const std::string& rel, const std::string& data) const {
  std::ofstream out(B(rel), std::ios::binary | std::ios::trunc);
  out << data;
}

std::optional<Entry> StoreAndRecorderTest::Find(const std::string& rel) const {
  absl::StatusOr<std::optional<Entry>> entry = store_->Get(rel);
  EXPECT_TRUE(entry.ok()) << rel << ": " << entry.status();
  return entry.ok() ? *entry : std::nullopt;
}

ScanReport StoreAndRecorderTest::Scan() {
  absl::StatusOr<ScanReport> report =
      ScanBackingDirectory(root_.get(), ".replfs", store_.get(), recorder_.get());
  EXPECT_TRUE(report.ok()) << report.status();
  return report.ok() ? *report : ScanReport{};
}

}  // namespace replfs::testing
