#ifndef REPLFS_STORAGE_VERSION_H_
#define REPLFS_STORAGE_VERSION_H_

#include <cstdint>
#include <string>

#include "entry.pb.h"
#include "proto/version_text.h"  // VersionToString

namespace replfs {

// Total order on versions: (hlc, node) lexicographically. Returns <0, 0, >0.
int CompareVersions(const Version& a, const Version& b);

inline bool VersionLess(const Version& a, const Version& b) {
  return CompareVersions(a, b) < 0;
}

Version MakeVersion(uint64_t hlc, uint64_t node);

// Advances `node`'s counter in a sorted version vector by one, and to at
// least `at_least`. Local changes pass their version's HLC: a node's counter
// then keeps growing even after the path's entry was purged (a tombstone
// forgotten once every peer had it), so a write made after a purge still
// counts as concurrent with, not as outdated by, a peer's version that
// descends from the forgotten history. (Restarted from 1, its count would
// be dominated by that history's and its content dropped without a copy.)
void BumpVector(google::protobuf::RepeatedPtrField<VersionVectorItem>* vector,
                uint64_t node, uint64_t at_least = 0);

// `node`'s counter in `vector` (0 when it has none).
uint64_t CounterOf(const google::protobuf::RepeatedPtrField<VersionVectorItem>& vector,
                   uint64_t node);

// Element-wise maximum of two vectors, written into `into`.
void MergeVectors(
    google::protobuf::RepeatedPtrField<VersionVectorItem>* into,
    const google::protobuf::RepeatedPtrField<VersionVectorItem>& other);

// True when every counter of `b` is <= the same node's counter in `a`:
// the change `a` was made after seeing `b`.
bool VectorDominates(
    const google::protobuf::RepeatedPtrField<VersionVectorItem>& a,
    const google::protobuf::RepeatedPtrField<VersionVectorItem>& b);

}  // namespace replfs

#endif  // REPLFS_STORAGE_VERSION_H_
