#include "replication/local_blocks.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "storage/beneath.h"
#include "storage/content_hasher.h"

namespace replfs {

std::optional<std::string> ReadVerifiedBlock(int fd, uint64_t file_size, uint64_t index,
                                             const std::string& hash) {
  const uint64_t start = index * kBlockSize;
  if (file_size <= start) return std::nullopt;
  std::string data(std::min<uint64_t>(kBlockSize, file_size - start), '\0');
  size_t done = 0;
  const off_t offset = static_cast<off_t>(start);
  while (done < data.size()) {
    const ssize_t n = ::pread(fd, data.data() + done, data.size() - done,
                              offset + static_cast<off_t>(done));
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  data.resize(done);
  if (data.empty() || Sha256(data) != hash) return std::nullopt;
  return data;
}

absl::StatusOr<std::optional<std::string>> ReadLocalBlock(const MetadataStore& store, int root_fd,
                                                          const std::string& hash) {
  // A few candidates are enough: they are rarely all stale.
  absl::StatusOr<std::vector<std::pair<std::string, uint64_t>>> places = store.FindBlock(hash, 4);
  if (!places.ok()) return places.status();
  for (const auto& [path, index] : *places) {
    // O_NONBLOCK: if the path is a fifo by now, opening it must not hang.
    absl::StatusOr<UniqueFd> fd = OpenBeneath(root_fd, path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
    if (!fd.ok()) continue;
    struct stat st;
    if (::fstat(fd->get(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    if (std::optional<std::string> data =
            ReadVerifiedBlock(fd->get(), static_cast<uint64_t>(st.st_size), index, hash)) {
      return data;
    }
  }
  return std::nullopt;
}

}  // namespace replfs
