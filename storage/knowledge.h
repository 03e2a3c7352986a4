#ifndef REPLFS_STORAGE_KNOWLEDGE_H_
#define REPLFS_STORAGE_KNOWLEDGE_H_

#include "absl/status/statusor.h"
#include "entry.pb.h"
#include "storage/metadata_store.h"

namespace replfs {

// What a replica has seen of every node's changes: per node, the highest
// counter in the content vectors of its entries and of the tombstones it
// purged. A version whose vector this dominates reached the replica; if
// the replica holds no entry for its path now, the path was deleted there
// (and the tombstone purged since).
//
// That holds because a node's counters grow with its clock and each log
// sends a node's changes in the order they were made. What breaks the
// order is taken out: an entry received and held back (deferred behind an
// open writer, or set aside) caps each node it carries news of below that
// news, so a replica that holds a node's later change but not that one
// never claims to have seen it. The answer errs only on the side of
// knowing less.
absl::StatusOr<KnowledgeVector> ComputeKnowledge(const MetadataStore& store);

}  // namespace replfs

#endif  // REPLFS_STORAGE_KNOWLEDGE_H_
