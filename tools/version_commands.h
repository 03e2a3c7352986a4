#ifndef REPLFS_TOOLS_VERSION_COMMANDS_H_
#define REPLFS_TOOLS_VERSION_COMMANDS_H_

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>

#include "absl/time/time.h"

namespace replfs {

// `replfs-status --versions` and `--restore MOUNT/PATH --version|--as-of`:
// what a replica kept of the files under one of its mounts, and putting it
// back through the mount.

struct VersionCommand {
  std::string path;        // As given: a file or directory through the mount.
  std::string version_id;  // --version: a kept name as --versions lists it.
  std::optional<int64_t> as_of_unix_ms;
  bool exact = false;    // --as-of also removes what was created since.
  bool dry_run = false;  // Print the plan, change nothing.
  // The replica's state folder when the user named it (one started with
  // -o state_dir=); empty: the mount's BACKING/.replfs.
  std::string state_dir;
  absl::Duration timeout = absl::Seconds(3);
};

// Exit statuses: every step done; something could not be restored (or a
// version was not found); nothing could be done (the path is in no replfs
// mount, the replica did not answer).
constexpr int kCommandDone = 0;
constexpr int kCommandIncomplete = 1;
constexpr int kCommandFailed = 2;

// Whether `path` names something inside a replfs mount (per /proc/mounts).
bool IsInReplfsMount(const std::string& path);

// Lists the versions kept of the file, or of every path beneath it when it
// is a directory or has none of its own, with their hashes.
int ListVersions(const VersionCommand& command, std::ostream& out, std::ostream& err);
// Puts version `command.version_id` of the file back.
int RestoreToVersion(const VersionCommand& command, std::ostream& out, std::ostream& err);
// Puts the file, or every file beneath the directory, back as it was at
// `command.as_of_unix_ms`.
int RestoreAsOf(const VersionCommand& command, std::ostream& out, std::ostream& err);

}  // namespace replfs

#endif  // REPLFS_TOOLS_VERSION_COMMANDS_H_
