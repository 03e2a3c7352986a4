#include "storage/content_hasher.h"

#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <future>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "storage/file_blocks.h"

namespace replfs {

std::string Sha256(absl::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr);
  return std::string(reinterpret_cast<const char*>(digest), length);
}

namespace {

// Reads exactly `length` bytes at `offset` unless EOF comes first; returns
// the number read.
absl::StatusOr<size_t> ReadFully(int fd, char* buffer, size_t length,
                                 uint64_t offset) {
  size_t done = 0;
  while (done < length) {
    const ssize_t n = ::pread(fd, buffer + done, length - done,
                              static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::ErrnoToStatus(errno, "pread");
    }
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  return done;
}

// Whether block `index` of the new content can reuse the hash in `previous`:
// the block was not written, and it was a full block both before and now
// (a block that was the short tail of either version changed length).
bool CanReuse(const Content& previous, const DirtyBlocks& dirty,
              uint64_t index, uint64_t new_size) {
  if (dirty.Contains(index)) return false;
  if (previous.is_inline() || previous.block_size() != kBlockSize) return false;
  if (index >= static_cast<uint64_t>(previous.block_hashes_size())) return false;
  const uint64_t block_end = (index + 1) * uint64_t{kBlockSize};
  return block_end <= previous.size() && block_end <= new_size;
}

// Whether [offset, offset + length) of `fd` lies entirely in a hole, so its
// hash is that of zeros without reading (sparse files of many GiB).
bool IsHole(int fd, uint64_t offset, uint64_t length) {
  const off_t data = ::lseek(fd, static_cast<off_t>(offset), SEEK_DATA);
  if (data < 0) return errno == ENXIO;  // No data at or after offset.
  return static_cast<uint64_t>(data) >= offset + length;
}

const std::string& FullZeroBlockHash() {
  static const std::string* hash = new std::string(Sha256(std::string(kBlockSize, '\0')));
  return *hash;
}

// What the blocks of one commit are hashed from: the file, its size, and
// the earlier version whose unwritten blocks keep their hashes (or none).
struct BlockSource {
  int fd;
  uint64_t size;
  const Content* previous;
  const DirtyBlocks* dirty;
};

// Files of at least this many blocks are hashed by two threads.
constexpr uint64_t kParallelHashBlocks = 32;

// Sets (*hashes)[i] for the blocks i in [first, last) of `source`.
absl::Status HashBlocks(const BlockSource& source, uint64_t first, uint64_t last,
                        std::vector<std::string>* hashes) {
  std::vector<char> buffer(kBlockSize);
  for (uint64_t index = first; index < last; ++index) {
    std::string& hash = (*hashes)[index];
    if (source.previous != nullptr && CanReuse(*source.previous, *source.dirty, index, source.size)) {
      hash = source.previous->block_hashes(static_cast<int>(index));
      continue;
    }
    const uint64_t offset = index * kBlockSize;
    const size_t want = static_cast<size_t>(std::min<uint64_t>(kBlockSize, source.size - offset));
    if (IsHole(source.fd, offset, want)) {
      hash = want == kBlockSize ? FullZeroBlockHash() : Sha256(std::string(want, '\0'));
      continue;
    }
    absl::StatusOr<size_t> n = ReadFully(source.fd, buffer.data(), want, offset);
    if (!n.ok()) return n.status();
    if (*n != want) {
      // The file shrank under us; the next commit will see the new size.
      return absl::AbortedError(absl::StrCat("file shrank while hashing at ", offset + *n));
    }
    hash = Sha256(absl::string_view(buffer.data(), want));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status HashFileContent(int fd, uint64_t size, const Content* previous,
                             const DirtyBlocks* dirty, Content* content) {
  content->set_size(size);
  content->clear_block_hashes();
  content->clear_inline_data();
  content->set_block_size(kBlockSize);
  if (size <= kInlineLimit) {
    std::vector<char> buffer(kInlineLimit);
    absl::StatusOr<size_t> n = ReadFully(fd, buffer.data(), size, 0);
    if (!n.ok()) return n.status();
    content->set_is_inline(true);
    content->set_inline_data(buffer.data(), *n);
    content->set_size(*n);
    StoreInlineAsBlock(content);
    return absl::OkStatus();
  }
  content->set_is_inline(false);
  // Holes are recognised by SEEK_DATA, which cannot tell a hole from the
  // space past EOF: a file shorter than `size` must be caught here.
  struct stat st;
  if (::fstat(fd, &st) != 0) return absl::ErrnoToStatus(errno, "fstat");
  if (static_cast<uint64_t>(st.st_size) < size) {
    return absl::AbortedError(absl::StrCat("file shrank to ", st.st_size, " while hashing"));
  }
  const bool incremental = previous != nullptr && dirty != nullptr &&
                           previous->kind() == KIND_FILE && !dirty->all;
  const BlockSource source{fd, size, incremental ? previous : nullptr,
                           incremental ? dirty : nullptr};
  const uint64_t blocks = (size + kBlockSize - 1) / kBlockSize;
  std::vector<std::string> hashes(blocks);
  // A large file is hashed by two threads, half each: a commit of a 1 GiB
  // file waits for its hashes before any replica can fetch a block.
  const uint64_t split = blocks >= kParallelHashBlocks ? blocks / 2 : blocks;
  std::future<absl::Status> upper;
  if (split < blocks) {
    upper = std::async(std::launch::async,
                       [&] { return HashBlocks(source, split, blocks, &hashes); });
  }
  absl::Status lower = HashBlocks(source, 0, split, &hashes);
  if (upper.valid()) {
    absl::Status upper_status = upper.get();
    if (lower.ok()) lower = upper_status;
  }
  if (!lower.ok()) return lower;
  for (std::string& hash : hashes) content->add_block_hashes(std::move(hash));
  return absl::OkStatus();
}

}  // namespace replfs
