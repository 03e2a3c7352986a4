#ifndef REPLFS_TESTS_CHAOS_WRITE_VERDICTS_H_
#define REPLFS_TESTS_CHAOS_WRITE_VERDICTS_H_

// The write invariant.

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tests/chaos/chaos_writer.h"

namespace replfs::testing::chaos {

// path -> content hash of every file under `root` (the state folder skipped).
absl::StatusOr<std::map<std::string, std::string>> FileHashes(const std::string& root,
                                                              bool skip_state_folder);

struct Verdicts {
  int present = 0;     // At its path in the final tree.
  int moved = 0;       // At another path (a rename carried it).
  int superseded = 0;  // A later operation on its path replaced or removed it.
  int conflict = 0;    // Kept as a conflict copy.
  std::vector<std::string> lost;
  std::set<std::string> lost_paths;
};

bool Touches(const Op& op, const std::string& path);

// A write w (close returned 0, content hash h, path p) is accounted for if:
//  present:    the final tree holds h at p;
//  moved:      the final tree holds h at another path (renames move
//              content unchanged, and h is unique to w);
//  conflict:   some replica keeps h as a conflict copy;
//  superseded: a later operation on p (a write, append, delete, or rename
//              from or to p) that had seen w: it started after w completed,
//              completed or may have taken effect (its replica died under
//              it), and was made by w's writer (same replica, one after the
//              other) or by a writer whose replica showed h at p just before
//              it. Only such a descendant of w may replace w without a
//              copy; a later operation that had not seen w was concurrent
//              with it, and if it won, w must survive as a conflict copy.
// Anything else is a lost write.
Verdicts CheckWrites(const std::vector<Op>& all, const std::map<std::string, std::string>& final_tree,
                     const std::set<std::string>& conflict_hashes, const std::string& tree_report);

}  // namespace replfs::testing::chaos

#endif  // REPLFS_TESTS_CHAOS_WRITE_VERDICTS_H_
