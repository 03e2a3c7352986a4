#include "storage/ignore_patterns.h"

#include <fnmatch.h>

#include <cstddef>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace replfs {
namespace {

// One name against one pattern name (no '/' in either): fnmatch's '*', '?',
// '[...]' and backslash escapes.
bool NameMatches(const std::string& pattern, absl::string_view name) {
  const std::string text(name);
  return ::fnmatch(pattern.c_str(), text.c_str(), 0) == 0;
}

// `pattern[i..]` against `names[j..]`, "**" matching any number of names.
bool NamesMatch(const std::vector<std::string>& pattern, size_t i,
                const std::vector<absl::string_view>& names, size_t j) {
  while (i < pattern.size()) {
    if (pattern[i] == "**") {
      // At the end: everything beneath (at least one name).
      if (i + 1 == pattern.size()) return j < names.size();
      for (size_t k = j; k <= names.size(); ++k) {
        if (NamesMatch(pattern, i + 1, names, k)) return true;
      }
      return false;
    }
    if (j == names.size() || !NameMatches(pattern[i], names[j])) return false;
    ++i;
    ++j;
  }
  return j == names.size();
}

// Drops trailing blanks unless the last one is escaped ("\ ").
absl::string_view TrimTrailingBlanks(absl::string_view line) {
  while (!line.empty() && line.back() == ' ') {
    if (line.size() >= 2 && line[line.size() - 2] == '\\') break;
    line.remove_suffix(1);
  }
  return line;
}

}  // namespace

absl::StatusOr<bool> IgnorePatterns::ParseLine(absl::string_view line, Pattern* pattern) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  line = TrimTrailingBlanks(line);
  if (line.empty() || line.front() == '#') return false;
  pattern->source = std::string(line);
  if (line.front() == '!') {
    pattern->negated = true;
    line.remove_prefix(1);
  } else if (absl::StartsWith(line, "\\!") || absl::StartsWith(line, "\\#")) {
    line.remove_prefix(1);
  }
  if (!line.empty() && line.back() == '/') {
    pattern->directories_only = true;
    line.remove_suffix(1);
  }
  pattern->anchored = line.find('/') != absl::string_view::npos;
  if (absl::StartsWith(line, "/")) line.remove_prefix(1);
  if (line.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("ignore pattern '", pattern->source, "' names nothing"));
  }
  for (absl::string_view name : absl::StrSplit(line, '/')) {
    if (name.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("ignore pattern '", pattern->source, "' has an empty name (\"//\")"));
    }
    pattern->names.emplace_back(name);
  }
  return true;
}

absl::StatusOr<IgnorePatterns> IgnorePatterns::Parse(const std::vector<std::string>& lines) {
  IgnorePatterns patterns;
  for (const std::string& line : lines) {
    Pattern pattern;
    absl::StatusOr<bool> parsed = ParseLine(line, &pattern);
    if (!parsed.ok()) return parsed.status();
    if (*parsed) patterns.patterns_.push_back(std::move(pattern));
  }
  return patterns;
}

bool IgnorePatterns::Verdict(const std::vector<absl::string_view>& names, bool is_dir) const {
  bool ignored = false;
  for (const Pattern& pattern : patterns_) {
    if (pattern.directories_only && !is_dir) continue;
    const bool matches =
        pattern.anchored ? NamesMatch(pattern.names, 0, names, 0)
                         : NameMatches(pattern.names.front(), names.back());
    if (matches) ignored = !pattern.negated;
  }
  return ignored;
}

bool IgnorePatterns::Ignored(absl::string_view path, bool is_dir) const {
  if (patterns_.empty() || path.empty()) return false;
  const std::vector<absl::string_view> names = absl::StrSplit(path, '/', absl::SkipEmpty());
  if (names.empty()) return false;
  // An ignored directory is never looked into: what is beneath it stays
  // ignored whatever a later "!" pattern says.
  std::vector<absl::string_view> prefix;
  prefix.reserve(names.size());
  for (size_t i = 0; i + 1 < names.size(); ++i) {
    prefix.push_back(names[i]);
    if (Verdict(prefix, /*is_dir=*/true)) return true;
  }
  return Verdict(names, is_dir);
}

std::vector<std::string> IgnorePatterns::Sources() const {
  std::vector<std::string> sources;
  sources.reserve(patterns_.size());
  for (const Pattern& pattern : patterns_) sources.push_back(pattern.source);
  return sources;
}

std::string DescribeIgnorePatterns(const std::vector<std::string>& patterns) {
  if (patterns.empty()) return "none";
  std::string described;
  for (const std::string& pattern : patterns) {
    absl::StrAppend(&described, described.empty() ? "" : " ", "'", pattern, "'");
  }
  return described;
}

}  // namespace replfs
