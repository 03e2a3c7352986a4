#include "storage/knowledge.h"

#include <algorithm>
#include <optional>

#include "absl/container/btree_map.h"
#include "storage/deferred_entries.h"
#include "storage/version.h"

namespace replfs {
namespace {

using Vector = google::protobuf::RepeatedPtrField<VersionVectorItem>;

// Caps, in `caps`, each node whose counter in `held` is past what the
// store holds for the same path: the replica has not seen that change.
absl::Status CapHeldBack(const MetadataStore& store, const Entry& held,
                         absl::btree_map<uint64_t, uint64_t>* caps) {
  absl::StatusOr<std::optional<Entry>> stored = store.Get(held.path());
  if (!stored.ok()) return stored.status();
  const Vector empty;
  const Vector& have = stored->has_value() ? (*stored)->content().vector() : empty;
  for (const VersionVectorItem& item : held.content().vector()) {
    if (item.counter() <= CounterOf(have, item.node())) continue;
    auto [it, inserted] = caps->try_emplace(item.node(), item.counter() - 1);
    if (!inserted) it->second = std::min(it->second, item.counter() - 1);
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<KnowledgeVector> ComputeKnowledge(const MetadataStore& store) {
  absl::StatusOr<KnowledgeVector> knowledge = store.PurgedKnowledge();
  if (!knowledge.ok()) return knowledge.status();
  Vector* vector = knowledge->mutable_vector();
  // The node ids are few; the entries many: merge into a map, not the
  // sorted vector, per entry.
  absl::btree_map<uint64_t, uint64_t> highest;
  for (const VersionVectorItem& item : *vector) highest[item.node()] = item.counter();
  absl::Status scanned = store.ScanEntries("", [&](const Entry& entry) {
    for (const VersionVectorItem& item : entry.content().vector()) {
      uint64_t& counter = highest[item.node()];
      counter = std::max(counter, item.counter());
    }
    return true;
  });
  if (!scanned.ok()) return scanned;

  absl::btree_map<uint64_t, uint64_t> caps;
  absl::Status capped = absl::OkStatus();
  absl::Status deferred = DeferredEntries(store).Scan([&](const Entry& held) {
    capped = CapHeldBack(store, held, &caps);
    return capped.ok();
  });
  if (!deferred.ok()) return deferred;
  if (!capped.ok()) return capped;
  absl::Status set_aside = store.ScanSetAside("", [&](const SetAsideRecord& record) {
    capped = CapHeldBack(store, record.entry(), &caps);
    return capped.ok();
  });
  if (!set_aside.ok()) return set_aside;
  if (!capped.ok()) return capped;

  vector->Clear();
  for (const auto& [node, counter] : highest) {
    auto cap = caps.find(node);
    const uint64_t known = cap == caps.end() ? counter : std::min(counter, cap->second);
    if (known == 0) continue;
    VersionVectorItem* item = vector->Add();
    item->set_node(node);
    item->set_counter(known);
  }
  return knowledge;
}

}  // namespace replfs
