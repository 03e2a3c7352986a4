#ifndef REPLFS_STORAGE_DIRTY_BLOCKS_H_
#define REPLFS_STORAGE_DIRTY_BLOCKS_H_

#include <cstdint>

#include "absl/container/btree_set.h"

namespace replfs {

// The blocks of one file written since its content was last committed, so
// that a commit rehashes only those. `all` is set when the whole file must be
// rehashed (new file, or a change we cannot attribute to blocks).
struct DirtyBlocks {
  bool all = false;
  absl::btree_set<uint64_t> blocks;

  void MarkRange(uint64_t offset, uint64_t length, uint32_t block_size) {
    if (all || length == 0) return;
    const uint64_t first = offset / block_size;
    const uint64_t last = (offset + length - 1) / block_size;
    // A huge range is cheaper to express as "everything".
    if (last - first > 1u << 20) {
      all = true;
      blocks.clear();
      return;
    }
    for (uint64_t b = first; b <= last; ++b) blocks.insert(b);
  }
  // A size change (truncate down or up) rewrites the bytes between the two
  // sizes: shrinking drops them, growing again brings them back as zeros.
  // Without marking them, a shrink followed by a regrow inside one commit
  // window would leave full blocks that look untouched but now hold zeros.
  void MarkResized(uint64_t old_size, uint64_t new_size, uint32_t block_size) {
    if (old_size == new_size) return;
    const uint64_t low = old_size < new_size ? old_size : new_size;
    const uint64_t high = old_size < new_size ? new_size : old_size;
    MarkRange(low, high - low, block_size);
  }
  void MarkAll() {
    all = true;
    blocks.clear();
  }
  // Adds what `other` marks (a commit that gave up hands its blocks back).
  void Merge(const DirtyBlocks& other) {
    if (all) return;
    if (other.all) {
      MarkAll();
      return;
    }
    blocks.insert(other.blocks.begin(), other.blocks.end());
  }
  bool Empty() const { return !all && blocks.empty(); }
  bool Contains(uint64_t block) const { return all || blocks.contains(block); }
  void Clear() {
    all = false;
    blocks.clear();
  }
};

}  // namespace replfs

#endif  // REPLFS_STORAGE_DIRTY_BLOCKS_H_
