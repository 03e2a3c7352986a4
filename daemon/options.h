#ifndef REPLFS_DAEMON_OPTIONS_H_
#define REPLFS_DAEMON_OPTIONS_H_

#include <string>

#include "absl/status/statusor.h"
#include "daemon/replication_options.h"
#include "fuse/mount_options.h"
#include "storage/log.h"

namespace replfs {

// Everything `replfs BACKING MOUNTPOINT [-f] [-o opt,...]` was told. Every
// replfs setting is a `-o key=value` (so mount(8) and fstab can pass it) and
// also a `--key=value` flag; a config file (-o config=) may hold any of them.
struct Options {
  MountOptions mount;               // The FUSE half (fuse/).
  ReplicationOptions replication;   // The replication half.
  std::string state_dir;            // Default: BACKING/.replfs
  LogLevel log_level = LogLevel::kWarning;
  bool foreground = false;
  bool show_help = false;
  bool show_version = false;
  std::string config_file;
};

// Parses argv (and the config file it names, or `config_file` when given:
// a reload reads the file by the absolute name found at start). Errors are
// one human sentence, suitable for one line.
absl::StatusOr<Options> ParseOptions(int argc, char** argv, const std::string& config_file = "");

// Checks the directories and derived settings; fills canonical paths (the
// state folder and the config file made absolute).
absl::Status ValidateOptions(Options* options);

}  // namespace replfs

#endif  // REPLFS_DAEMON_OPTIONS_H_
