#ifndef REPLFS_FUSE_OPTIONS_H_
#define REPLFS_FUSE_OPTIONS_H_

#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "storage/log.h"

namespace replfs {

// Everything `replfs BACKING MOUNTPOINT [-f] [-o opt,...]` was told. Every
// replfs setting is a `-o key=value` (so mount(8) and fstab can pass it) and
// also a `--key=value` flag.
struct Options {
  std::string backing;      // Absolute, canonical.
  std::string mountpoint;   // Absolute, canonical.
  std::string state_dir;    // Default: BACKING/.replfs
  double cache_timeout = 3600;
  bool writeback_cache = true;      // The kernel's writeback cache (-o writeback=).
  bool passthrough = true;          // Kernel passthrough of file I/O (-o passthrough=).
  LogLevel log_level = LogLevel::kWarning;
  bool foreground = false;
  bool debug = false;
  bool single_thread = false;
  bool show_help = false;
  bool show_version = false;
  bool allow_other = false;
  // Replication.
  std::string listen;               // HOST:PORT to serve peers on; "" = none.
  std::vector<std::string> peers;   // HOST:PORT of each peer to pull from.
  // Pulled from only while no peer answers, after fallback_after seconds.
  std::vector<std::string> fallback_peers;
  double fallback_after = 10;
  std::string cluster = "replfs";   // Peers of another cluster are refused.
  bool insecure = false;            // Allow plaintext on non-loopback addresses.
  bool allow_setuid = false;        // Keep set-id bits of files from peers.
  std::string tls_ca;               // Mutual TLS: cluster CA, own cert and key.
  std::string tls_cert;
  std::string tls_key;
  std::string config_file;
  double tombstone_grace = 86400;   // Seconds before an acknowledged tombstone is purged.
  // Non-directory inodes that may keep an O_PATH fd (-1: half the fd limit).
  int64_t inode_fds = -1;
  // Arguments for libfuse's own mount options (fsname, allow_other, ...).
  std::string fuse_mount_options;
};

// Parses argv. Errors are one human sentence, suitable for one line.
absl::StatusOr<Options> ParseOptions(int argc, char** argv);

// Whether HOST:PORT names a loopback address (127.0.0.0/8, ::1, localhost).
bool IsLoopbackAddress(const std::string& host_port);

// Checks the directories and derived settings; fills canonical paths.
absl::Status ValidateOptions(Options* options);

void PrintUsage(const char* program);

}  // namespace replfs

#endif  // REPLFS_FUSE_OPTIONS_H_
