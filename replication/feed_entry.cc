#include "replication/feed_entry.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <optional>
#include <string>

#include "replication/local_blocks.h"
#include "storage/beneath.h"
#include "storage/file_blocks.h"

namespace replfs {

namespace {

// The block from the entry's own file, where it almost always is: no
// block-index lookup.
std::optional<std::string> ReadOwnBlock(const Entry& entry, int root_fd) {
  absl::StatusOr<UniqueFd> fd =
      OpenBeneath(root_fd, entry.path(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  if (!fd.ok()) return std::nullopt;
  struct stat st;
  if (::fstat(fd->get(), &st) != 0 || !S_ISREG(st.st_mode) ||
      static_cast<uint64_t>(st.st_size) != entry.content().size()) {
    return std::nullopt;
  }
  return ReadVerifiedBlock(fd->get(), entry.content().size(), 0, entry.content().block_hashes(0));
}

}  // namespace

absl::StatusOr<Entry> FeedEntry(const Entry& stored, const MetadataStore& store, int root_fd) {
  Entry out = stored;
  out.clear_local_stat();
  Content& content = *out.mutable_content();
  if (!IsSmallFileBlock(content)) return out;
  std::optional<std::string> data = ReadOwnBlock(out, root_fd);
  if (!data.has_value()) {
    absl::StatusOr<std::optional<std::string>> elsewhere =
        ReadLocalBlock(store, root_fd, content.block_hashes(0));
    if (!elsewhere.ok()) return elsewhere.status();
    data = std::move(*elsewhere);
  }
  if (!data.has_value() || data->size() != content.size()) return out;
  content.clear_block_hashes();
  content.set_is_inline(true);
  content.set_inline_data(std::move(*data));
  return out;
}

}  // namespace replfs
