#include "storage/file_blocks.h"

#include <algorithm>

#include "storage/content_hasher.h"

namespace replfs {

void StoreInlineAsBlock(Content* content) {
  if (content->kind() != KIND_FILE || !content->is_inline() || content->inline_data().empty()) {
    return;
  }
  content->clear_block_hashes();
  content->add_block_hashes(Sha256(content->inline_data()));
  content->clear_inline_data();
  content->set_is_inline(false);
  content->set_block_size(kBlockSize);
}

bool IsSmallFileBlock(const Content& content) {
  return content.kind() == KIND_FILE && !content.is_inline() && content.size() > 0 &&
         content.size() <= kInlineLimit && content.block_hashes_size() == 1;
}

std::vector<std::string> FileBlockHashes(const Content& content) {
  if (!content.inline_data().empty()) return {Sha256(content.inline_data())};
  return {content.block_hashes().begin(), content.block_hashes().end()};
}

bool SameFileData(const Content& a, const Content& b) {
  if (a.size() != b.size()) return false;
  const bool a_has_bytes = !a.inline_data().empty();
  const bool b_has_bytes = !b.inline_data().empty();
  if (a_has_bytes && b_has_bytes) return a.inline_data() == b.inline_data();
  if (!a_has_bytes && !b_has_bytes) {
    return a.block_size() == b.block_size() &&
           std::equal(a.block_hashes().begin(), a.block_hashes().end(),
                      b.block_hashes().begin(), b.block_hashes().end());
  }
  return FileBlockHashes(a) == FileBlockHashes(b);
}

}  // namespace replfs
