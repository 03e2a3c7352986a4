#include "storage/attribute_registers.h"

#include "storage/version.h"

namespace replfs {

AttributeRegisters AttributeRegisters::Of(const Entry& entry) {
  AttributeRegisters registers;
  const Kind kind = entry.content().kind();
  const Kind own = kind == KIND_TOMBSTONE ? entry.attributes().kind() : kind;
  if (own != KIND_UNSPECIFIED) registers.Put(own, entry.attributes());
  for (const Attributes& other : entry.other_kinds()) registers.Merge(other.kind(), other);
  return registers;
}

bool AttributeRegisters::Merge(Kind kind, const Attributes& candidate) {
  if (kind == KIND_UNSPECIFIED || kind == KIND_TOMBSTONE) return false;
  const Attributes* held = Get(kind);
  if (held != nullptr && CompareVersions(candidate.version(), held->version()) <= 0) return false;
  Put(kind, candidate);
  return true;
}

bool AttributeRegisters::MergeAll(const AttributeRegisters& other) {
  bool took = false;
  for (const auto& [kind, attributes] : other.by_kind_) took |= Merge(kind, attributes);
  return took;
}

void AttributeRegisters::Put(Kind kind, const Attributes& attributes) {
  Attributes& stored = by_kind_[kind];
  stored = attributes;
  stored.set_kind(kind);
}

const Attributes* AttributeRegisters::Get(Kind kind) const {
  auto it = by_kind_.find(kind);
  return it == by_kind_.end() ? nullptr : &it->second;
}

void AttributeRegisters::StoreIn(Entry* entry) const {
  const Kind kind = entry->content().kind();
  Kind own = kind;
  if (kind == KIND_TOMBSTONE) {
    own = KIND_UNSPECIFIED;
    const Attributes* newest = nullptr;
    for (const auto& [held_kind, attributes] : by_kind_) {
      if (newest == nullptr || CompareVersions(attributes.version(), newest->version()) > 0) {
        newest = &attributes;
        own = held_kind;
      }
    }
  }
  entry->clear_other_kinds();
  for (const auto& [held_kind, attributes] : by_kind_) {
    if (held_kind != own) *entry->add_other_kinds() = attributes;
  }
  // A tombstone without any keeps what it has (an older replica's, no kind).
  const Attributes* own_register = Get(own);
  if (own_register == nullptr) return;
  *entry->mutable_attributes() = *own_register;
  if (kind != KIND_TOMBSTONE) entry->mutable_attributes()->clear_kind();
}

}  // namespace replfs
