// RemoteApplier against a store and a backing directory, without a mount:
// what applying entries does to the clock.
#include "replication/remote_applier.h"

#include <cstdint>
#include <memory>

#include "gtest/gtest.h"
#include "storage/filesystem_hooks.h"
#include "storage/version.h"
#include "tests/support/applier_fixture.h"

namespace replfs {
namespace {

constexpr uint64_t kLocalNode = 0xa11ce;
constexpr uint64_t kRemoteNode = 0xb0b;

class RemoteApplierTest : public testing::ApplierFixture {
 protected:
  RemoteApplierTest() : ApplierFixture("replfs-remote-applier", kLocalNode) {}

  void SetUp() override {
    ApplierFixture::SetUp();
    MakeApplier(&hooks_);
  }

  // A remote tombstone of "f" keeping a file's register and, for other
  // kinds, a directory's at `kept_hlc`.
  Entry TombstoneKeeping(uint64_t kept_hlc) {
    Entry e;
    e.set_path("f");
    e.mutable_content()->set_kind(KIND_TOMBSTONE);
    const uint64_t now = clock_.Now();
    *e.mutable_content()->mutable_version() = MakeVersion(now, kRemoteNode);
    *e.mutable_attributes()->mutable_version() = MakeVersion(now, kRemoteNode);
    e.mutable_attributes()->set_kind(KIND_FILE);
    e.mutable_attributes()->set_mode(0644);
    Attributes* kept = e.add_other_kinds();
    *kept->mutable_version() = MakeVersion(kept_hlc, kRemoteNode);
    kept->set_kind(KIND_DIR);
    kept->set_mode(0700);
    return e;
  }

  NoFilesystemHooks hooks_;
};

// A register kept for another kind may be an entry's newest version: what
// this replica changes after seeing it must beat it (a directory made here
// then must not take the kept register's mode), and one far ahead is a
// clock far ahead.
TEST_F(RemoteApplierTest, KeptRegistersAdvanceTheClockAndAreCheckedAgainstIt) {
  const uint64_t ahead = clock_.Now() + (uint64_t{5000} << 16);  // 5 s ahead.
  ApplyStats stats;
  ASSERT_TRUE(applier_->ApplyBatch({TombstoneKeeping(ahead)}, nullptr, &stats).ok());
  EXPECT_EQ(stats.applied, 1u);
  EXPECT_GT(clock_.Now(), ahead);
  const uint64_t far_ahead = clock_.Now() + (uint64_t{3600} * 1000 << 16);  // An hour.
  EXPECT_FALSE(applier_->ApplyBatch({TombstoneKeeping(far_ahead)}, nullptr, &stats).ok());
}

}  // namespace
}  // namespace replfs
