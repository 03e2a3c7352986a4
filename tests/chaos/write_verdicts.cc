#include "tests/chaos/write_verdicts.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <system_error>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "tests/chaos/chaos_common.h"
#include "tests/chaos/chaos_writer.h"
#include "tests/cluster.h"

namespace replfs::testing::chaos {

absl::StatusOr<std::map<std::string, std::string>> FileHashes(const std::string& root,
                                                              bool skip_state_folder) {
  namespace fs = std::filesystem;
  std::map<std::string, std::string> out;
  std::error_code error;
  fs::recursive_directory_iterator it(root, error), end;
  if (error) return absl::InternalError(absl::StrCat("list ", root, ": ", error.message()));
  for (; it != end; it.increment(error)) {
    if (error) return absl::InternalError(absl::StrCat("list ", root, ": ", error.message()));
    const std::string relative = fs::relative(it->path(), root).string();
    if (skip_state_folder && it.depth() == 0 && relative == ".replfs") {
      it.disable_recursion_pending();
      continue;
    }
    if (!it->is_regular_file(error) || it->is_symlink(error)) continue;
    absl::StatusOr<std::string> content = ReadFile(it->path().string());
    if (!content.ok()) return content.status();
    out[relative] = ContentHash(*content);
  }
  return out;
}

bool Touches(const Op& op, const std::string& path) {
  return op.path == path || (op.kind == OpKind::kRename && op.to == path);
}

Verdicts CheckWrites(const std::vector<Op>& all, const std::map<std::string, std::string>& final_tree,
                     const std::set<std::string>& conflict_hashes, const std::string& tree_report) {
  std::map<std::string, std::string> path_of_hash;
  for (const auto& [path, hash] : final_tree) path_of_hash[hash] = path;
  Verdicts v;
  for (const Op& w : all) {
    if (w.outcome != Outcome::kDone || (w.kind != OpKind::kWrite && w.kind != OpKind::kAppend)) {
      continue;
    }
    auto at = final_tree.find(w.path);
    if (at != final_tree.end() && at->second == w.hash) {
      ++v.present;
    } else if (path_of_hash.contains(w.hash)) {
      ++v.moved;
    } else if (conflict_hashes.contains(w.hash)) {
      ++v.conflict;
    } else if (std::any_of(all.begin(), all.end(), [&](const Op& o) {
                 if (o.outcome == Outcome::kFailed || !Touches(o, w.path)) return false;
                 // An op that read w's bytes (hashes are unique per write)
                 // came after them, even one that started before w ended
                 // (it waited, e.g. on a replica restarting, and read
                 // later); a writer's own later op follows it by order.
                 const std::string& seen = o.path == w.path ? o.seen : o.seen_to;
                 return (&o != &w && seen == w.hash) || (o.writer == w.writer && o.start > w.end);
               })) {
      ++v.superseded;
    } else {
      std::string history;
      const auto t0 = all.front().start;
      for (const Op& o : all) {
        if (!Touches(o, w.path)) continue;
        absl::StrAppend(&history, "    ", absl::StrFormat("%9.3f-%9.3f", SecondsBetween(t0, o.start),
                                                         SecondsBetween(t0, o.end)),
                        " writer ", o.writer, " op ", o.number, " ", KindName(o.kind), " ", o.path,
                        o.to.empty() ? "" : absl::StrCat(" -> ", o.to), " ",
                        o.outcome == Outcome::kDone      ? "done"
                        : o.outcome == Outcome::kUnknown ? absl::StrCat("unknown (", strerror(o.error), ")")
                                                         : "failed",
                        o.hash.empty() ? "" : absl::StrCat(" ", o.hash.substr(0, 12)),
                        " saw ", (o.path == w.path ? o.seen : o.seen_to).substr(0, 12), "\n");
      }
      v.lost_paths.insert(w.path);
      v.lost.push_back(absl::StrCat(
          "LOST: writer ", w.writer, " op ", w.number, " ", KindName(w.kind), " ", w.path, " ",
          w.hash.substr(0, 12), "; final: ",
          at == final_tree.end() ? "absent" : at->second.substr(0, 12), "\n  history of ", w.path,
          " (seconds since the first op):\n", history, tree_report));
    }
  }
  return v;
}

}  // namespace replfs::testing::chaos
