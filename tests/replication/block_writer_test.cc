// BlockWriter: the blocks of a file the applier builds reach the file
// intact, whole blocks of a large file without passing through the page
// cache, everything else (a short tail, a misaligned offset) the usual way.
#include "replication/block_writer.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "base/unique_fd.h"
#include "gtest/gtest.h"
#include "storage/content_hasher.h"

namespace replfs {
namespace {

std::string RandomBytes(std::mt19937_64& rng, size_t n) {
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng() & 0xff);
  return s;
}

class BlockWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string templ = (std::filesystem::temp_directory_path() / "block-writer-XXXXXX").string();
    fd_.Reset(::mkstemp(templ.data()));
    ASSERT_TRUE(fd_.valid());
    path_ = templ;
  }
  void TearDown() override { ::unlink(path_.c_str()); }

  std::string ReadBack() {
    const off_t size = ::lseek(fd_.get(), 0, SEEK_END);
    std::string data(static_cast<size_t>(size), '\0');
    EXPECT_EQ(::pread(fd_.get(), data.data(), data.size(), 0), size);
    return data;
  }

  // How many pages of the file's first `bytes` are in the page cache.
  size_t CachedPages(size_t bytes) {
    void* map = ::mmap(nullptr, bytes, PROT_READ, MAP_SHARED, fd_.get(), 0);
    EXPECT_NE(map, MAP_FAILED);
    if (map == MAP_FAILED) return 0;
    const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
    std::vector<unsigned char> resident((bytes + page - 1) / page);
    EXPECT_EQ(::mincore(map, bytes, resident.data()), 0);
    ::munmap(map, bytes);
    size_t cached = 0;
    for (unsigned char r : resident) cached += r & 1;
    return cached;
  }

  // Whether this file system accepts O_DIRECT at all.
  bool DirectIoSupported() {
    UniqueFd probe(::open(path_.c_str(), O_RDWR | O_DIRECT | O_CLOEXEC));
    return probe.valid();
  }

  UniqueFd fd_;
  std::string path_;
};

TEST_F(BlockWriterTest, WholeBlocksBypassThePageCacheAndTheTailDoesNot) {
  std::mt19937_64 rng(1);
  const std::string first = RandomBytes(rng, kBlockSize);
  const std::string third = RandomBytes(rng, kBlockSize);
  const std::string tail = RandomBytes(rng, 1000);
  ASSERT_EQ(::ftruncate(fd_.get(), 3 * kBlockSize + 1000), 0);
  BlockWriter writer(fd_.get(), /*direct=*/true);
  ASSERT_TRUE(writer.Write(third, 2 * uint64_t{kBlockSize}).ok());
  ASSERT_TRUE(writer.Write(first, 0).ok());
  ASSERT_TRUE(writer.Write(tail, 3 * uint64_t{kBlockSize}).ok());

  // The file's own flags are back as they were: later writes are buffered.
  EXPECT_EQ(::fcntl(fd_.get(), F_GETFL) & O_DIRECT, 0);
  if (DirectIoSupported()) {
    EXPECT_EQ(CachedPages(3 * size_t{kBlockSize}), 0u);
  }
  EXPECT_EQ(ReadBack(), first + std::string(kBlockSize, '\0') + third + tail);
}

TEST_F(BlockWriterTest, BufferedWritesAndMisalignedBlocksArriveIntact) {
  std::mt19937_64 rng(2);
  const std::string block = RandomBytes(rng, kBlockSize);
  BlockWriter buffered(fd_.get(), /*direct=*/false);
  ASSERT_TRUE(buffered.Write(block, 0).ok());
  EXPECT_GT(CachedPages(kBlockSize), 0u);
  // A whole block at an offset O_DIRECT cannot take goes the usual way.
  BlockWriter direct(fd_.get(), /*direct=*/true);
  ASSERT_TRUE(direct.Write(block, kBlockSize + 100).ok());
  EXPECT_EQ(ReadBack(), block + std::string(100, '\0') + block);
}

}  // namespace
}  // namespace replfs
