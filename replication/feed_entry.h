#ifndef REPLFS_REPLICATION_FEED_ENTRY_H_
#define REPLFS_REPLICATION_FEED_ENTRY_H_

#include "absl/status/statusor.h"
#include "entry.pb.h"
#include "storage/metadata_store.h"

namespace replfs {

// What the change feed sends for a stored entry: the entry without this
// replica's local stat, and a small file's data inline (file_blocks.h) when
// its block is still readable here, so that a receiver needs no FetchBlocks
// round trip. A small file that changed since its commit (a newer commit
// of it follows) goes as the one block it is: the receiver fetches it like
// any block, and sets it aside if no peer has it any more.
absl::StatusOr<Entry> FeedEntry(const Entry& stored, const MetadataStore& store, int root_fd);

}  // namespace replfs

#endif  // REPLFS_REPLICATION_FEED_ENTRY_H_
