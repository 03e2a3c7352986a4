// A start on a full disk: the version records that a crash left without
// their kept files cannot be deleted there (the store refuses writes), and
// the keeper opens all the same; its first prune with room deletes them.
// Mounts a small tmpfs, so it needs root.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "base/unique_fd.h"
#include "gtest/gtest.h"
#include "storage/metadata_store.h"
#include "storage/version_keeper.h"
#include "tests/small_filesystem.h"
#include "tests/support/kept_versions.h"
#include "tests/support/scratch_dir.h"

namespace replfs {
namespace {

class VersionKeeperFullDiskTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::mkdir(Path("").c_str(), 0755), 0);
    absl::StatusOr<std::unique_ptr<testing::SmallFilesystem>> mounted =
        testing::SmallFilesystem::Tmpfs(Path(""), "size=32m");
    ASSERT_TRUE(mounted.ok()) << mounted.status();
    filesystem_ = *std::move(mounted);
    for (const char* dir : {"store", "tree"}) ASSERT_EQ(::mkdir(Path(dir).c_str(), 0755), 0);
    MetadataStore::OpenOptions options;
    options.max_reserve_bytes = 0;  // No reserve to fall back on: a full disk refuses writes.
    absl::StatusOr<std::unique_ptr<MetadataStore>> store =
        MetadataStore::Open(Path("store"), options);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
  }

  std::string Path(const std::string& relative) const {
    return scratch_.Path(relative.empty() ? "fs" : "fs/" + relative);
  }
  absl::StatusOr<std::unique_ptr<VersionKeeper>> OpenKeeper() {
    return VersionKeeper::Open(store_.get(), Path("versions"), VersionPolicy());
  }
  // Writes `content` to `name` in the tree, then keeps it as deleted.
  KeptFile DeleteKeeping(VersionKeeper& keeper, const std::string& name,
                         const std::string& content) {
    const std::string path = Path("tree/" + name);
    UniqueFd file(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    EXPECT_TRUE(file.valid()) << path;
    EXPECT_EQ(::write(file.get(), content.data(), content.size()),
              static_cast<ssize_t>(content.size()));
    file.Reset();
    UniqueFd tree(::open(Path("tree").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    return testing::KeepAsDeleted(keeper, tree.get(), name);
  }
  size_t RecordsOf(const std::string& path) const {
    return testing::VersionRecordsOf(*store_, path).size();
  }
  // Writes a file until the file system has no room left.
  void FillTheDisk() {
    UniqueFd filler(::open(Path("filler").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
    ASSERT_TRUE(filler.valid());
    const std::vector<char> chunk(64 << 10, 'x');
    for (int i = 0; i < 1024; ++i) {
      if (::write(filler.get(), chunk.data(), chunk.size()) < 0) {
        ASSERT_EQ(errno, ENOSPC);
        return;
      }
    }
    FAIL() << "a tmpfs of 32 MiB took 64 MiB";
  }

  // Declared in the order they go: the store before its file system.
  testing::ScratchDir scratch_{"replfs-versions-full-disk"};
  std::unique_ptr<testing::SmallFilesystem> filesystem_;
  std::unique_ptr<MetadataStore> store_;
};

TEST_F(VersionKeeperFullDiskTest, RecordsWithoutTheirFilesWaitForRoomAndTheKeeperStillOpens) {
  std::string removed_id;
  {
    absl::StatusOr<std::unique_ptr<VersionKeeper>> keeper = OpenKeeper();
    ASSERT_TRUE(keeper.ok()) << keeper.status();
    DeleteKeeping(**keeper, "intact.html", "12345");
    removed_id = DeleteKeeping(**keeper, "removed.html", "its file goes, its record stays").id;
    // What a crash leaves between a files-first drop's unlink and its commit.
    ASSERT_EQ(::unlink((*keeper)->KeptPath(removed_id).c_str()), 0);
  }
  FillTheDisk();

  absl::StatusOr<std::unique_ptr<VersionKeeper>> on_full_disk = OpenKeeper();
  ASSERT_TRUE(on_full_disk.ok()) << "a full disk stopped the start: " << on_full_disk.status();
  EXPECT_EQ(RecordsOf("removed.html"), 1u) << "the store was expected to refuse the deletion";
  EXPECT_EQ((*on_full_disk)->totals().kept, 1u);
  EXPECT_EQ((*on_full_disk)->totals().bytes, 5u);
  EXPECT_EQ((*on_full_disk)->totals().not_kept, 0u) << "a record whose file is gone is no version";
  const absl::StatusOr<uint64_t> refused = (*on_full_disk)->Prune(absl::ToUnixMillis(absl::Now()));
  EXPECT_FALSE(refused.ok()) << "the store was expected to refuse the deletion again";
  EXPECT_EQ(RecordsOf("removed.html"), 1u);

  ASSERT_EQ(::unlink(Path("filler").c_str()), 0);
  const absl::StatusOr<uint64_t> pruned = (*on_full_disk)->Prune(absl::ToUnixMillis(absl::Now()));
  ASSERT_TRUE(pruned.ok()) << pruned.status();
  EXPECT_EQ(RecordsOf("removed.html"), 0u);
  EXPECT_EQ(RecordsOf("intact.html"), 1u);
  EXPECT_EQ((*on_full_disk)->totals().kept, 1u);
  EXPECT_EQ((*on_full_disk)->totals().not_kept, 0u);
}

}  // namespace
}  // namespace replfs
