#include "replication/subtree_move.h"

#include <algorithm>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace replfs {
namespace {

bool SameVersion(const Version& a, const Version& b) {
  return a.hlc() == b.hlc() && a.node() == b.node();
}

// The one path of `paths` that all the others lie beneath; empty when
// there is none.
absl::string_view RootOf(const std::vector<const Entry*>& entries) {
  const Entry* shortest = *std::min_element(
      entries.begin(), entries.end(),
      [](const Entry* a, const Entry* b) { return a->path().size() < b->path().size(); });
  const absl::string_view root = shortest->path();
  for (const Entry* e : entries) {
    if (e != shortest && !IsBeneath(e->path(), root)) return {};
  }
  return root;
}

// The move made of `commit`, if it is shaped as one.
bool MatchMove(const std::vector<const Entry*>& commit, SubtreeMove* move) {
  std::vector<const Entry*> tombstones, live;
  for (const Entry* e : commit) {
    (e->content().kind() == KIND_TOMBSTONE ? tombstones : live).push_back(e);
  }
  if (tombstones.empty() || tombstones.size() != live.size()) return false;
  const absl::string_view from = RootOf(tombstones);
  const absl::string_view to = RootOf(live);
  if (from.empty() || to.empty() || from == to || IsBeneath(from, to) || IsBeneath(to, from)) {
    return false;
  }
  absl::flat_hash_map<absl::string_view, const Entry*> live_by_path;
  for (const Entry* e : live) live_by_path.emplace(e->path(), e);
  move->from = std::string(from);
  move->to = std::string(to);
  move->entries.clear();
  move->entries.reserve(tombstones.size());
  for (const Entry* tombstone : tombstones) {
    const absl::string_view rel = absl::string_view(tombstone->path()).substr(from.size());
    auto it = live_by_path.find(absl::StrCat(to, rel));
    if (it == live_by_path.end()) return false;
    move->entries.push_back(MovedEntry{tombstone, it->second});
  }
  std::stable_partition(move->entries.begin(), move->entries.end(), [&](const MovedEntry& m) {
    return m.tombstone->path().size() == from.size();
  });
  return true;
}

}  // namespace

bool IsBeneath(absl::string_view path, absl::string_view root) {
  return path.size() > root.size() && absl::StartsWith(path, root) && path[root.size()] == '/';
}

std::vector<SubtreeMove> FindSubtreeMoves(const std::vector<const Entry*>& batch) {
  std::vector<SubtreeMove> moves;
  for (size_t begin = 0; begin < batch.size();) {
    size_t end = begin + 1;
    while (end < batch.size() && SameVersion(batch[end]->content().version(),
                                             batch[begin]->content().version())) {
      ++end;
    }
    const std::vector<const Entry*> commit(batch.begin() + static_cast<std::ptrdiff_t>(begin),
                                           batch.begin() + static_cast<std::ptrdiff_t>(end));
    SubtreeMove move;
    if (commit.size() >= 2 && MatchMove(commit, &move)) {
      move.begin = begin;
      move.end = end;
      moves.push_back(std::move(move));
    }
    begin = end;
  }
  return moves;
}

}  // namespace replfs
