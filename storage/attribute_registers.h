#ifndef REPLFS_STORAGE_ATTRIBUTE_REGISTERS_H_
#define REPLFS_STORAGE_ATTRIBUTE_REGISTERS_H_

#include <map>

#include "entry.pb.h"

namespace replfs {

// The attribute registers of one path: one LWW register per kind of object,
// independent of deletes and of the other kinds (DESIGN.md). A chmod
// concurrent with a delete, or with the object's replacement by another
// kind, is kept for the object of its kind that comes back, on every
// replica whatever the order entries arrive in.
//
// How an entry stores them: a live entry's `attributes` is its own kind's
// register (kind unset); a tombstone's is its newest register (kind set);
// every other register is in `other_kinds` (kind set, sorted by kind).
class AttributeRegisters {
 public:
  // The registers `entry` holds. A tombstone whose register has no kind
  // (from a replica older than these registers) holds none.
  static AttributeRegisters Of(const Entry& entry);

  // Takes `candidate` as the register of `kind` if it is newer than the
  // one held, or none is. Returns whether it did.
  bool Merge(Kind kind, const Attributes& candidate);
  // Merge for each register of `other`. Returns whether any was taken.
  bool MergeAll(const AttributeRegisters& other);
  // Sets the register of `kind`, newer or not (a local observation).
  void Put(Kind kind, const Attributes& attributes);

  // Null when there is none.
  const Attributes* Get(Kind kind) const;

  // Writes them into `entry` (attributes and other_kinds) as its content's
  // kind stores them. A live entry's own register must be held.
  void StoreIn(Entry* entry) const;

 private:
  std::map<Kind, Attributes> by_kind_;  // Each with its kind set.
};

}  // namespace replfs

#endif  // REPLFS_STORAGE_ATTRIBUTE_REGISTERS_H_
