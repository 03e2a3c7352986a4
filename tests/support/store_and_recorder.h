#ifndef REPLFS_TESTS_SUPPORT_STORE_AND_RECORDER_H_
#define REPLFS_TESTS_SUPPORT_STORE_AND_RECORDER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "base/unique_fd.h"
#include "gtest/gtest.h"
#include "storage/change_recorder.h"
#include "storage/hlc.h"
#include "storage/metadata_store.h"
#include "storage/startup_scan.h"
#include "tests/support/scratch_dir.h"

namespace replfs::testing {

// A backing directory in a scratch folder laid out as a replica's (the
// store in BACKING/.replfs/store, beside tmp/ and conflicts/), an O_PATH fd
// of its root, and a ChangeRecorder committing local changes to the store
// as node `node`: what the tests of the recorder, the start-up scan and
// apply recovery each set up.
class StoreAndRecorderTest : public ::testing::Test {
 protected:
  StoreAndRecorderTest(const std::string& scratch_prefix, uint64_t node,
                       HybridLogicalClock::WallClockMs wall_clock_ms = HybridLogicalClock::SystemWallClockMs);

  void SetUp() override;

  std::string Backing() const { return dir_.Path("backing"); }
  std::string B(const std::string& rel) const { return Backing() + "/" + rel; }

  // Replaces the backing file at `rel` with one holding `data`.
  void WriteFile(const std::string& rel, const std::string& data) const;
  // The entry of `rel`, if the store has one; a read error fails the test.
  std::optional<Entry> Find(const std::string& rel) const;
  // The start-up scan of the backing directory, as a replica runs it.
  ScanReport Scan();

  ScratchDir dir_;
  const uint64_t node_;
  UniqueFd root_;
  HybridLogicalClock clock_;
  std::unique_ptr<MetadataStore> store_;
  std::unique_ptr<ChangeRecorder> recorder_;
};

}  // namespace replfs::testing

#endif  // REPLFS_TESTS_SUPPORT_STORE_AND_RECORDER_H_
