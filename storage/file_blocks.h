#ifndef REPLFS_STORAGE_FILE_BLOCKS_H_
#define REPLFS_STORAGE_FILE_BLOCKS_H_

#include <string>
#include <vector>

#include "entry.pb.h"

namespace replfs {

// A file's data, as the store knows it, is a list of block hashes. A file
// of at most kInlineLimit bytes travels inline in the change feed (one
// round trip less for a receiver), but the store keeps it as one block of
// its own size, read from the backing file and indexed in H/ like any
// other block: the store does not hold a second copy of every small file,
// and a chmod or rename of one rewrites a few hundred bytes, not its data.

// Turns inline content into that one block (no-op for anything else).
void StoreInlineAsBlock(Content* content);

// Whether `content` is a file small enough to travel inline, held as one
// block.
bool IsSmallFileBlock(const Content& content);

// The block hashes of a file's data, whichever form it is in (inline bytes
// count as one block; an empty file has none).
std::vector<std::string> FileBlockHashes(const Content& content);

// Whether two file contents hold the same data, whichever form each is in.
bool SameFileData(const Content& a, const Content& b);

}  // namespace replfs

#endif  // REPLFS_STORAGE_FILE_BLOCKS_H_
