#include "tools/as_of_plan.h"

#include <algorithm>
#include <map>
#include <optional>

#include "absl/strings/str_cat.h"
#include "tools/restore_time.h"

namespace replfs {
namespace {

bool IsFileLike(Kind kind) { return kind == KIND_FILE || kind == KIND_SYMLINK; }

bool IsLive(Kind kind) { return kind != KIND_TOMBSTONE && kind != KIND_UNSPECIFIED; }

const char* KindWord(Kind kind) {
  switch (kind) {
    case KIND_DIR: return "a directory";
    case KIND_FIFO: return "a fifo";
    default: return "something else";
  }
}

// The record whose content the path had at `as_of_ms`: began <= as_of <
// kept, the latest-begun when intervals overlap (clocks of different nodes).
const VersionRecord* Covering(const std::vector<VersionRecord>& records, int64_t as_of_ms) {
  const VersionRecord* best = nullptr;
  for (const VersionRecord& record : records) {
    if (record.began_unix_ms() > as_of_ms || record.kept_unix_ms() <= as_of_ms) continue;
    if (best == nullptr || record.began_unix_ms() > best->began_unix_ms()) best = &record;
  }
  return best;
}

size_t Depth(const std::string& path) {
  return static_cast<size_t>(std::count(path.begin(), path.end(), '/'));
}

}  // namespace

int64_t ContentBeganUnixMs(const Entry& entry) {
  return static_cast<int64_t>(entry.content().version().hlc() >> 16);
}

bool DirectoryCreatedSince(const Entry& entry, int64_t as_of_ms) {
  return entry.content().kind() == KIND_DIR && ContentBeganUnixMs(entry) > as_of_ms;
}

void SortDeepestFirst(std::vector<std::string>* directories) {
  std::sort(directories->begin(), directories->end(),
            [](const std::string& a, const std::string& b) {
              const size_t depth_a = Depth(a);
              const size_t depth_b = Depth(b);
              return depth_a != depth_b ? depth_a > depth_b : a > b;
            });
}

std::optional<AsOfStep> PlanPath(const std::string& path, const Entry* now,
                                 const std::vector<VersionRecord>& records, int64_t as_of_ms,
                                 size_t* unchanged) {
  if (now != nullptr && !IsLive(now->content().kind())) now = nullptr;
  const bool file_now = now != nullptr && IsFileLike(now->content().kind());
  if (file_now && ContentBeganUnixMs(*now) <= as_of_ms) {
    ++*unchanged;
    return std::nullopt;
  }
  AsOfStep step;
  step.path = path;
  if (const VersionRecord* covering = Covering(records, as_of_ms)) {
    if (covering->kept_name().empty()) {
      step.kind = AsOfStep::Kind::kCannotRestore;
      step.why = absl::StrCat(
          "its content at ", FormatRestoreTime(as_of_ms), " was not kept: ",
          covering->not_kept_reason().empty() ? "no reason recorded"
                                              : covering->not_kept_reason());
    } else if (now != nullptr && !file_now) {
      step.kind = AsOfStep::Kind::kCannotRestore;
      step.why = absl::StrCat(KindWord(now->content().kind()),
                              " stands there now; move it away first");
    } else {
      step.kind = AsOfStep::Kind::kRestore;
      step.version = *covering;
    }
    return step;
  }
  if (!file_now) return std::nullopt;  // Gone by TIME, or never there: nothing to do.
  const bool existed_around_then =
      std::any_of(records.begin(), records.end(),
                  [&](const VersionRecord& r) { return r.kept_unix_ms() > as_of_ms; });
  if (existed_around_then) {
    step.kind = AsOfStep::Kind::kCannotRestore;
    step.why = absl::StrCat("no version covering ", FormatRestoreTime(as_of_ms), " is kept");
  } else {
    step.kind = AsOfStep::Kind::kRemoveCreatedSince;
  }
  return step;
}

AsOfPlan PlanAsOf(const std::vector<Entry>& current, const std::vector<VersionRecord>& kept,
                  int64_t as_of_ms) {
  AsOfPlan plan;
  // What the plan knows of each path, ordered: steps come out by path.
  struct PathHistory {
    const Entry* now = nullptr;
    std::vector<VersionRecord> records;
  };
  std::map<std::string, PathHistory> paths;
  for (const Entry& entry : current) {
    if (DirectoryCreatedSince(entry, as_of_ms)) {
      plan.directories_created_since.push_back(entry.path());
    }
    paths[entry.path()].now = &entry;
  }
  for (const VersionRecord& record : kept) paths[record.path()].records.push_back(record);
  for (const auto& [path, history] : paths) {
    std::optional<AsOfStep> step =
        PlanPath(path, history.now, history.records, as_of_ms, &plan.unchanged);
    if (step.has_value()) plan.steps.push_back(*std::move(step));
  }
  SortDeepestFirst(&plan.directories_created_since);
  return plan;
}

}  // namespace replfs
