#include "tools/conflict_restore.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "proto/version_text.h"

namespace replfs {
namespace {

std::string ShellQuote(const std::string& text) {
  return absl::StrCat("'", absl::StrReplaceAll(text, {{"'", "'\\''"}}), "'");
}

// tools/ speaks only the wire protocol (tools/check-layering), so it holds
// its streams this way rather than with storage/'s UniqueFd.
struct FileCloser {
  void operator()(std::FILE* file) const { std::fclose(file); }
};
using OwnedFile = std::unique_ptr<std::FILE, FileCloser>;

std::string Relative(const std::string& path) {
  size_t start = 0;
  while (start < path.size() && path[start] == '/') ++start;
  return path.substr(start);
}

}  // namespace

std::string ConflictName(const ConflictCopy& conflict) {
  return absl::StrCat(conflict.path(), "@", VersionToString(conflict.loser_version()));
}

std::string ConflictSource(const std::string& state_dir, const ConflictCopy& conflict) {
  return absl::StrCat(state_dir, "/", Relative(conflict.copy_path()));
}

std::string ConflictDestination(const std::string& mountpoint, const ConflictCopy& conflict) {
  return absl::StrCat(mountpoint == "/" ? "" : mountpoint, "/", Relative(conflict.path()));
}

std::string RestoreCommand(const std::string& state_dir, const std::string& mountpoint,
                           const ConflictCopy& conflict) {
  return absl::StrCat(
      "cp -- ", ShellQuote(ConflictSource(state_dir, conflict)), " ",
      ShellQuote(ConflictDestination(mountpoint.empty() ? "MOUNTPOINT" : mountpoint, conflict)));
}

absl::StatusOr<ConflictCopy> FindConflict(const std::vector<ConflictCopy>& conflicts,
                                          const std::string& spec) {
  std::vector<const ConflictCopy*> by_path;
  for (const ConflictCopy& conflict : conflicts) {
    if (ConflictName(conflict) == spec) return conflict;
    if (Relative(conflict.path()) == Relative(spec)) by_path.push_back(&conflict);
  }
  if (by_path.size() == 1) return *by_path.front();
  if (by_path.empty()) {
    return absl::NotFoundError(
        absl::StrCat("no conflict copy of ", spec, " (replfs-status --conflicts lists them)"));
  }
  std::vector<std::string> names;
  names.reserve(by_path.size());
  for (const ConflictCopy* conflict : by_path) names.push_back(ConflictName(*conflict));
  return absl::FailedPreconditionError(
      absl::StrCat(by_path.size(), " conflict copies of ", spec,
                   " are kept; name one: ", absl::StrJoin(names, ", ")));
}

absl::Status RestoreConflict(const std::string& state_dir, const std::string& mountpoint,
                             const ConflictCopy& conflict) {
  if (mountpoint.empty()) {
    return absl::FailedPreconditionError("the replica's mountpoint is not known");
  }
  const std::string source = ConflictSource(state_dir, conflict);
  const std::string destination = ConflictDestination(mountpoint, conflict);
  OwnedFile from(std::fopen(source.c_str(), "rbe"));
  if (from == nullptr) return absl::ErrnoToStatus(errno, absl::StrCat("open ", source));
  const int to_fd = ::open(destination.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (to_fd < 0) return absl::ErrnoToStatus(errno, absl::StrCat("create ", destination));
  OwnedFile to(::fdopen(to_fd, "w"));
  if (to == nullptr) {
    const int error = errno;
    ::close(to_fd);
    return absl::ErrnoToStatus(error, absl::StrCat("create ", destination));
  }
  char buffer[1 << 16];
  for (;;) {
    const size_t n = std::fread(buffer, 1, sizeof(buffer), from.get());
    if (n == 0 && std::ferror(from.get())) {
      return absl::ErrnoToStatus(errno, absl::StrCat("read ", source));
    }
    if (n == 0) break;
    if (std::fwrite(buffer, 1, n, to.get()) != n) {
      return absl::ErrnoToStatus(errno, absl::StrCat("write ", destination));
    }
  }
  // The content is committed (and replicated) when the handle closes; a
  // buffered write that fails shows here too.
  if (std::fclose(to.release()) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("close ", destination));
  }
  return absl::OkStatus();
}

}  // namespace replfs
