#ifndef REPLFS_STORAGE_IGNORE_PATTERNS_H_
#define REPLFS_STORAGE_IGNORE_PATTERNS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace replfs {

// Which paths are local to this replica (-o ignore=, -o ignore_file=), in
// gitignore's syntax and with its rules:
//   - blank lines and lines starting with '#' add nothing ("\#" is a '#');
//     trailing blanks are dropped unless escaped ("\ ");
//   - "!" negates: a path a later "!pattern" matches is not ignored ("\!"
//     is a '!'); the last pattern that matches a path decides;
//   - a trailing "/" matches directories only;
//   - a pattern with a "/" at its start or in its middle is matched against
//     the whole path from the root; one without, against the last name at
//     any depth;
//   - "*" and "?" match within one name, "[...]" a character class;
//     "**/" at the start or "/**/" in the middle match any number of
//     directories (none included), "/**" at the end everything beneath;
//   - beneath an ignored directory everything is ignored, whatever a later
//     "!" says (as in git: the directory is never looked into).
class IgnorePatterns {
 public:
  // Parses `lines` (one pattern each, as in a .gitignore file).
  static absl::StatusOr<IgnorePatterns> Parse(const std::vector<std::string>& lines);

  // Whether `path` ('/'-separated names from the root, no leading '/') is
  // ignored; `is_dir`: it names a directory.
  bool Ignored(absl::string_view path, bool is_dir) const;
  bool empty() const { return patterns_.empty(); }
  // The patterns as given (comments and blank lines left out), in order.
  std::vector<std::string> Sources() const;

 private:
  struct Pattern {
    std::string source;
    std::vector<std::string> names;  // The pattern split at '/'; "**" as is.
    bool negated = false;
    bool directories_only = false;
    bool anchored = false;  // Matched from the root, not against the last name.
  };

  // Parses one line; false when it holds no pattern.
  static absl::StatusOr<bool> ParseLine(absl::string_view line, Pattern* pattern);
  // The last matching pattern's verdict for the path of `names` itself
  // (its ancestors not considered); false when none matches.
  bool Verdict(const std::vector<absl::string_view>& names, bool is_dir) const;

  std::vector<Pattern> patterns_;
};

// `patterns` for a log line or a warning: quoted, separated by blanks, or
// "none".
std::string DescribeIgnorePatterns(const std::vector<std::string>& patterns);

}  // namespace replfs

#endif  // REPLFS_STORAGE_IGNORE_PATTERNS_H_
