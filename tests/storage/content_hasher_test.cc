#include "storage/content_hasher.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <random>
#include <string>

#include "base/unique_fd.h"
#include "gtest/gtest.h"

namespace replfs {
namespace {

// SHA-256 computed here, independently of the code under test.
std::string ReferenceSha256(const std::string& data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr);
  return std::string(reinterpret_cast<const char*>(digest), length);
}

std::string RandomBytes(std::mt19937_64& rng, size_t n) {
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng() & 0xff);
  return s;
}

// A scratch file whose expected bytes the test keeps in memory.
class ScratchFile {
 public:
  ScratchFile() {
    std::string templ = (std::filesystem::temp_directory_path() / "hasher-XXXXXX").string();
    fd_.Reset(::mkstemp(templ.data()));
    path_ = templ;
  }
  ~ScratchFile() { ::unlink(path_.c_str()); }
  int fd() const { return fd_.get(); }
  bool valid() const { return fd_.valid(); }

  void Write(uint64_t offset, const std::string& data) {
    ASSERT_EQ(::pwrite(fd(), data.data(), data.size(), static_cast<off_t>(offset)),
              static_cast<ssize_t>(data.size()));
    if (bytes_.size() < offset + data.size()) bytes_.resize(offset + data.size(), '\0');
    std::copy(data.begin(), data.end(), bytes_.begin() + static_cast<ptrdiff_t>(offset));
  }
  void Truncate(uint64_t size) {
    ASSERT_EQ(::ftruncate(fd(), static_cast<off_t>(size)), 0);
    bytes_.resize(size, '\0');
  }
  const std::string& bytes() const { return bytes_; }
  uint64_t size() const { return bytes_.size(); }

 private:
  UniqueFd fd_;
  std::string path_;
  std::string bytes_;
};

Content FullHash(const ScratchFile& file) {
  Content content;
  content.set_kind(KIND_FILE);
  absl::Status s = HashFileContent(file.fd(), file.size(), nullptr, nullptr, &content);
  EXPECT_TRUE(s.ok()) << s;
  return content;
}

void ExpectMatchesReference(const Content& content, const std::string& bytes) {
  EXPECT_EQ(content.size(), bytes.size());
  if (bytes.empty()) {
    EXPECT_TRUE(content.is_inline());
    EXPECT_TRUE(content.inline_data().empty());
    EXPECT_EQ(content.block_hashes_size(), 0);
    return;
  }
  EXPECT_FALSE(content.is_inline());
  EXPECT_TRUE(content.inline_data().empty());
  EXPECT_EQ(content.block_size(), kBlockSize);
  const uint64_t blocks = (bytes.size() + kBlockSize - 1) / kBlockSize;
  ASSERT_EQ(static_cast<uint64_t>(content.block_hashes_size()), blocks);
  for (uint64_t i = 0; i < blocks; ++i) {
    EXPECT_EQ(content.block_hashes(static_cast<int>(i)),
              ReferenceSha256(bytes.substr(i * kBlockSize, kBlockSize)))
        << "block " << i;
  }
}

TEST(ContentHasherTest, Sha256MatchesKnownVector) {
  // SHA-256("abc"), FIPS 180-2 appendix B.1.
  const std::string digest = Sha256("abc");
  ASSERT_EQ(digest.size(), kSha256Size);
  static constexpr unsigned char kExpected[] = {
      0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23,
      0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad};
  EXPECT_EQ(digest, std::string(reinterpret_cast<const char*>(kExpected), sizeof(kExpected)));
}

// The store keeps a small file as one block of its own size (the feed
// sends it inline); only an empty file has no block.
TEST(ContentHasherTest, SmallFilesAreOneBlockOfTheirSize) {
  std::mt19937_64 rng(1);
  for (uint64_t size : {uint64_t{0}, uint64_t{1}, uint64_t{100}, kInlineLimit}) {
    ScratchFile file;
    ASSERT_TRUE(file.valid());
    if (size > 0) file.Write(0, RandomBytes(rng, size));
    const Content content = FullHash(file);
    EXPECT_EQ(content.is_inline(), size == 0) << size;
    EXPECT_EQ(content.block_hashes_size(), size == 0 ? 0 : 1) << size;
    ExpectMatchesReference(content, file.bytes());
  }
}

TEST(ContentHasherTest, LargerFilesGetBlockHashes) {
  std::mt19937_64 rng(2);
  for (uint64_t size : {kInlineLimit + 1, uint64_t{kBlockSize}, uint64_t{kBlockSize} + 1,
                        uint64_t{kBlockSize} * 2 + kBlockSize / 2}) {
    ScratchFile file;
    ASSERT_TRUE(file.valid());
    file.Write(0, RandomBytes(rng, size));
    const Content content = FullHash(file);
    EXPECT_FALSE(content.is_inline()) << size;
    ExpectMatchesReference(content, file.bytes());
  }
}

// Files of 32 blocks and more are hashed by two threads, half each: every
// hash must still land at its own index, holes and reused hashes included.
TEST(ContentHasherTest, LargeFilesAreHashedInTwoHalvesInOrder) {
  std::mt19937_64 rng(5);
  ScratchFile file;
  ASSERT_TRUE(file.valid());
  const uint64_t blocks = 41;
  for (uint64_t i = 0; i < blocks; ++i) {
    if (i >= 10 && i < 13) continue;  // A hole of three blocks in the lower half.
    file.Write(i * kBlockSize, RandomBytes(rng, kBlockSize));
  }
  file.Write(blocks * kBlockSize, RandomBytes(rng, 100));  // A short tail.
  Content previous = FullHash(file);
  ExpectMatchesReference(previous, file.bytes());

  // Unwritten blocks in both halves keep their (poisoned) hashes; the
  // written ones, in both halves, are read again.
  const std::string poison(kSha256Size, 'P');
  previous.set_block_hashes(3, poison);
  previous.set_block_hashes(35, poison);
  file.Write(7 * kBlockSize, "lower");
  file.Write(30 * kBlockSize, "upper");
  DirtyBlocks dirty;
  dirty.MarkRange(7 * kBlockSize, 5, kBlockSize);
  dirty.MarkRange(30 * kBlockSize, 5, kBlockSize);
  Content next;
  next.set_kind(KIND_FILE);
  ASSERT_TRUE(HashFileContent(file.fd(), file.size(), &previous, &dirty, &next).ok());
  ASSERT_EQ(next.block_hashes_size(), static_cast<int>(blocks) + 1);
  EXPECT_EQ(next.block_hashes(3), poison);
  EXPECT_EQ(next.block_hashes(35), poison);
  for (uint64_t i : {uint64_t{7}, uint64_t{30}, blocks}) {
    EXPECT_EQ(next.block_hashes(static_cast<int>(i)),
              ReferenceSha256(file.bytes().substr(i * kBlockSize, kBlockSize)))
        << "block " << i;
  }
}

TEST(ContentHasherTest, IncrementalReusesHashesOfUnwrittenBlocks) {
  std::mt19937_64 rng(3);
  ScratchFile file;
  ASSERT_TRUE(file.valid());
  file.Write(0, RandomBytes(rng, 4 * uint64_t{kBlockSize}));
  Content previous = FullHash(file);
  // Poison the stored hashes of blocks 0 and 3: if the hasher reuses them
  // (as it should, they were not written), the poison shows in the result.
  const std::string poison(kSha256Size, 'P');
  previous.set_block_hashes(0, poison);
  previous.set_block_hashes(3, poison);
  file.Write(kBlockSize + 10, "changed");
  DirtyBlocks dirty;
  dirty.MarkRange(kBlockSize + 10, 7, kBlockSize);
  Content next;
  next.set_kind(KIND_FILE);
  ASSERT_TRUE(HashFileContent(file.fd(), file.size(), &previous, &dirty, &next).ok());
  ASSERT_EQ(next.block_hashes_size(), 4);
  EXPECT_EQ(next.block_hashes(0), poison);
  EXPECT_EQ(next.block_hashes(3), poison);
  EXPECT_EQ(next.block_hashes(1), ReferenceSha256(file.bytes().substr(kBlockSize, kBlockSize)));
  EXPECT_EQ(next.block_hashes(2), previous.block_hashes(2));
  // MarkAll forces everything to be read again.
  dirty.MarkAll();
  ASSERT_TRUE(HashFileContent(file.fd(), file.size(), &previous, &dirty, &next).ok());
  ExpectMatchesReference(next, file.bytes());
}

TEST(ContentHasherTest, ReportsShrinkDuringHashing) {
  std::mt19937_64 rng(4);
  ScratchFile file;
  ASSERT_TRUE(file.valid());
  file.Write(0, RandomBytes(rng, 2 * uint64_t{kBlockSize}));
  Content content;
  // Claim a larger size than the file has: the hasher must notice, not
  // hash a short block as if it were whole.
  const absl::Status s =
      HashFileContent(file.fd(), 3 * uint64_t{kBlockSize}, nullptr, nullptr, &content);
  EXPECT_EQ(s.code(), absl::StatusCode::kAborted) << s;
}

// Many random writes, truncations and extensions; after each batch of edits
// the incremental hash (previous content + dirty blocks) must equal a full
// rehash and the independently computed reference.
TEST(ContentHasherTest, IncrementalEqualsFullRehashOverRandomEdits) {
  std::mt19937_64 rng(20240601);
  ScratchFile file;
  ASSERT_TRUE(file.valid());
  file.Write(0, RandomBytes(rng, 3 * uint64_t{kBlockSize} + 123));
  Content previous = FullHash(file);
  constexpr uint64_t kMaxSize = 5 * uint64_t{kBlockSize} + 77;
  int incremental_reuses = 0;
  for (int round = 0; round < 120; ++round) {
    DirtyBlocks dirty;
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      const uint64_t old_size = file.size();
      switch (rng() % 6) {
        case 0:
        case 1:
        case 2: {  // A write, sometimes past the end (extends, maybe with a hole).
          const uint64_t offset = rng() % (std::min(old_size + (uint64_t{2} * kBlockSize), kMaxSize));
          const uint64_t length =
              std::min<uint64_t>(1 + rng() % (rng() % 2 ? 64 : kBlockSize + 5), kMaxSize - offset);
          if (length == 0) break;
          file.Write(offset, RandomBytes(rng, length));
          // A hole between the old end and the write is not marked: blocks
          // past the committed size are never reused anyway.
          dirty.MarkRange(offset, length, kBlockSize);
          break;
        }
        case 3: {  // Truncate down (sometimes into inline size).
          const uint64_t size = rng() % 4 == 0 ? rng() % (kInlineLimit + 1) : rng() % (old_size + 1);
          file.Truncate(size);
          dirty.MarkResized(old_size, size, kBlockSize);
          break;
        }
        case 4: {  // Extend with zeros.
          const uint64_t size = std::min(kMaxSize, old_size + rng() % (2 * uint64_t{kBlockSize}));
          file.Truncate(size);
          dirty.MarkResized(old_size, size, kBlockSize);
          break;
        }
        case 5: {  // Shrink then extend again in the same commit window.
          const uint64_t low = rng() % (old_size + 1);
          file.Truncate(low);
          dirty.MarkResized(old_size, low, kBlockSize);
          file.Truncate(old_size);
          dirty.MarkResized(low, old_size, kBlockSize);
          break;
        }
      }
    }
    Content incremental;
    incremental.set_kind(KIND_FILE);
    ASSERT_TRUE(HashFileContent(file.fd(), file.size(), &previous, &dirty, &incremental).ok());
    const Content full = FullHash(file);
    ASSERT_EQ(incremental.SerializeAsString(), full.SerializeAsString()) << "round " << round;
    ExpectMatchesReference(full, file.bytes());
    if (!dirty.all && !full.is_inline() &&
        static_cast<uint64_t>(dirty.blocks.size()) < static_cast<uint64_t>(full.block_hashes_size())) {
      ++incremental_reuses;
    }
    previous = incremental;
  }
  // The randomized edits must actually have exercised reuse.
  EXPECT_GT(incremental_reuses, 10);
}

TEST(DirtyBlocksTest, MarkRangeCoversTouchedBlocks) {
  DirtyBlocks dirty;
  EXPECT_TRUE(dirty.Empty());
  dirty.MarkRange(kBlockSize - 1, 2, kBlockSize);
  EXPECT_TRUE(dirty.Contains(0));
  EXPECT_TRUE(dirty.Contains(1));
  EXPECT_FALSE(dirty.Contains(2));
  dirty.MarkRange(5 * uint64_t{kBlockSize}, 0, kBlockSize);  // Empty range: nothing.
  EXPECT_FALSE(dirty.Contains(5));
  dirty.Clear();
  EXPECT_TRUE(dirty.Empty());
  dirty.MarkAll();
  EXPECT_TRUE(dirty.Contains(12345));
}

TEST(DirtyBlocksTest, MarkResizedCoversTheChangedTail) {
  DirtyBlocks dirty;
  dirty.MarkResized(3 * uint64_t{kBlockSize}, kBlockSize + kBlockSize / 2, kBlockSize);
  EXPECT_FALSE(dirty.Contains(0));
  EXPECT_TRUE(dirty.Contains(1));
  EXPECT_TRUE(dirty.Contains(2));
  dirty.Clear();
  dirty.MarkResized(kBlockSize, kBlockSize, kBlockSize);  // Same size: nothing.
  EXPECT_TRUE(dirty.Empty());
}

}  // namespace
}  // namespace replfs
