#include "storage/version.h"

#include <algorithm>

namespace replfs {

using Vector = google::protobuf::RepeatedPtrField<VersionVectorItem>;

int CompareVersions(const Version& a, const Version& b) {
  if (a.hlc() != b.hlc()) return a.hlc() < b.hlc() ? -1 : 1;
  if (a.node() != b.node()) return a.node() < b.node() ? -1 : 1;
  return 0;
}

Version MakeVersion(uint64_t hlc, uint64_t node) {
  Version v;
  v.set_hlc(hlc);
  v.set_node(node);
  return v;
}

uint64_t CounterOf(const Vector& vector, uint64_t node) {
  for (const auto& item : vector) {
    if (item.node() == node) return item.counter();
  }
  return 0;
}

namespace {

void SortByNode(Vector* vector) {
  std::sort(vector->begin(), vector->end(),
            [](const VersionVectorItem& x, const VersionVectorItem& y) {
              return x.node() < y.node();
            });
}

}  // namespace

void BumpVector(Vector* vector, uint64_t node, uint64_t at_least) {
  for (auto& item : *vector) {
    if (item.node() == node) {
      item.set_counter(std::max(item.counter() + 1, at_least));
      return;
    }
  }
  VersionVectorItem* item = vector->Add();
  item->set_node(node);
  item->set_counter(std::max<uint64_t>(1, at_least));
  SortByNode(vector);
}

void MergeVectors(Vector* into, const Vector& other) {
  for (const auto& theirs : other) {
    bool found = false;
    for (auto& mine : *into) {
      if (mine.node() == theirs.node()) {
        mine.set_counter(std::max(mine.counter(), theirs.counter()));
        found = true;
        break;
      }
    }
    if (!found) *into->Add() = theirs;
  }
  SortByNode(into);
}

bool VectorDominates(const Vector& a, const Vector& b) {
  return std::all_of(b.begin(), b.end(), [&](const VersionVectorItem& item) {
    return CounterOf(a, item.node()) >= item.counter();
  });
}

}  // namespace replfs
