#include "tools/as_of_plan.h"

#include <algorithm>
#include <map>

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

// What the plan knows of one path.
struct PathHistory {
  const Entry* now = nullptr;  // Live entry, any kind.
  std::vector<const VersionRecord*> records;
};

// The record whose content the path had at `as_of_ms`: began <= as_of <
// kept, the latest-begun when intervals overlap (clocks of different nodes).
const VersionRecord* Covering(const std::vector<const VersionRecord*>& records,
                              int64_t as_of_ms) {
  const VersionRecord* best = nullptr;
  for (const VersionRecord* record : records) {
    if (record->began_unix_ms() > as_of_ms || record->kept_unix_ms() <= as_of_ms) continue;
    if (best == nullptr || record->began_unix_ms() > best->began_unix_ms()) best = record;
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

AsOfPlan PlanAsOf(const std::vector<Entry>& current, const std::vector<VersionRecord>& kept,
                  int64_t as_of_ms) {
  AsOfPlan plan;
  std::map<std::string, PathHistory> paths;  // Ordered: steps come out by path.
  for (const Entry& entry : current) {
    const Kind kind = entry.content().kind();
    if (!IsLive(kind)) continue;
    if (kind == KIND_DIR && ContentBeganUnixMs(entry) > as_of_ms) {
      plan.directories_created_since.push_back(entry.path());
    }
    if (IsFileLike(kind)) paths[entry.path()].now = &entry;
  }
  for (const VersionRecord& record : kept) paths[record.path()].records.push_back(&record);
  // A directory (or fifo) is planned for only where a file was before:
  // its restore has to know that something else stands there now.
  for (const Entry& entry : current) {
    const Kind kind = entry.content().kind();
    if (!IsLive(kind) || IsFileLike(kind)) continue;
    auto it = paths.find(entry.path());
    if (it != paths.end()) it->second.now = &entry;
  }

  const std::string time = FormatRestoreTime(as_of_ms);
  for (const auto& [path, history] : paths) {
    const bool file_now = history.now != nullptr && IsFileLike(history.now->content().kind());
    if (file_now && ContentBeganUnixMs(*history.now) <= as_of_ms) {
      ++plan.unchanged;
      continue;
    }
    AsOfStep step;
    step.path = path;
    if (const VersionRecord* covering = Covering(history.records, as_of_ms)) {
      if (covering->kept_name().empty()) {
        step.kind = AsOfStep::Kind::kCannotRestore;
        step.why = absl::StrCat(
            "its content at ", time, " was not kept: ",
            covering->not_kept_reason().empty() ? "no reason recorded"
                                                : covering->not_kept_reason());
      } else if (history.now != nullptr && !file_now) {
        step.kind = AsOfStep::Kind::kCannotRestore;
        step.why = absl::StrCat(KindWord(history.now->content().kind()),
                                " stands there now; move it away first");
      } else {
        step.kind = AsOfStep::Kind::kRestore;
        step.version = *covering;
      }
      plan.steps.push_back(std::move(step));
      continue;
    }
    if (!file_now) continue;  // Gone by TIME, or never there: nothing to do.
    const bool existed_around_then =
        std::any_of(history.records.begin(), history.records.end(),
                    [&](const VersionRecord* r) { return r->kept_unix_ms() > as_of_ms; });
    if (existed_around_then) {
      step.kind = AsOfStep::Kind::kCannotRestore;
      step.why = absl::StrCat("no version covering ", time, " is kept");
    } else {
      step.kind = AsOfStep::Kind::kRemoveCreatedSince;
    }
    plan.steps.push_back(std::move(step));
  }

  std::sort(plan.directories_created_since.begin(), plan.directories_created_since.end(),
            [](const std::string& a, const std::string& b) {
              const size_t depth_a = Depth(a);
              const size_t depth_b = Depth(b);
              return depth_a != depth_b ? depth_a > depth_b : a > b;
            });
  return plan;
}

}  // namespace replfs
