#include "daemon/options.h"

#include <limits.h>
#include <stdlib.h>
#include <unistd.h>
#include <fuse_opt.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "fuse/mount_options.h"
#include "storage/ignore_patterns.h"

namespace replfs {
namespace {

// Raw values as fuse_opt fills them (C strings it allocates, freed by Take
// or else at the end).
struct RawOptions {
  ~RawOptions() {
    for (char* value : {state_dir, cache_timeout, writeback, passthrough_io, log_level, listen,
                        peers, fallback_peers, fallback_after, cluster, config, tls_ca,
                        tombstone_grace, inode_fds, tls_cert, tls_key, metrics, ignore_file,
                        max_rate, compression, keep_versions, versions_max}) {
      std::free(value);
    }
  }

  char* state_dir = nullptr;
  char* cache_timeout = nullptr;
  char* writeback = nullptr;
  char* passthrough_io = nullptr;
  char* log_level = nullptr;
  char* listen = nullptr;
  char* peers = nullptr;
  char* fallback_peers = nullptr;
  char* fallback_after = nullptr;
  char* cluster = nullptr;
  char* config = nullptr;
  char* tls_ca = nullptr;
  char* tombstone_grace = nullptr;
  char* inode_fds = nullptr;
  char* tls_cert = nullptr;
  char* tls_key = nullptr;
  char* metrics = nullptr;
  char* ignore_file = nullptr;
  char* max_rate = nullptr;
  char* compression = nullptr;
  char* keep_versions = nullptr;
  char* versions_max = nullptr;
  int insecure = 0;
  int allow_setuid = 0;
  std::vector<std::string> peer_list;  // From repeatable --peer= / -o peer=.
  std::vector<std::string> ignore_list;  // From repeatable --ignore= / -o ignore=.
  int foreground = 0;
  int debug = 0;
  int single_thread = 0;
  int help = 0;
  int version = 0;
  std::vector<std::string> positional;
  std::vector<std::string> passthrough;  // -o options for libfuse's mount.
  std::vector<std::string> unknown;
};

enum Key { kKeyHelp, kKeyVersion, kKeyForeground, kKeyDebug, kKeySingle, kKeyPeer, kKeyIgnore };

#define REPLFS_OPT(templ, field) {templ, offsetof(RawOptions, field), 0}
// FUSE_OPT_KEY, with its offset marker (-1U, the value fuse_opt compares
// with) converted explicitly.
#define REPLFS_KEY(templ, key) {templ, static_cast<unsigned long>(-1U), key}
const fuse_opt kOptionSpec[] = {
    REPLFS_OPT("state_dir=%s", state_dir),
    REPLFS_OPT("--state_dir=%s", state_dir),
    REPLFS_OPT("--state-dir=%s", state_dir),
    REPLFS_OPT("cache_timeout=%s", cache_timeout),
    REPLFS_OPT("--cache_timeout=%s", cache_timeout),
    REPLFS_OPT("--cache-timeout=%s", cache_timeout),
    REPLFS_OPT("writeback=%s", writeback),
    REPLFS_OPT("--writeback=%s", writeback),
    REPLFS_OPT("passthrough=%s", passthrough_io),
    REPLFS_OPT("--passthrough=%s", passthrough_io),
    REPLFS_OPT("log_level=%s", log_level),
    REPLFS_OPT("--log_level=%s", log_level),
    REPLFS_OPT("--log-level=%s", log_level),
    REPLFS_OPT("listen=%s", listen),
    REPLFS_OPT("--listen=%s", listen),
    REPLFS_OPT("metrics=%s", metrics),
    REPLFS_OPT("--metrics=%s", metrics),
    REPLFS_OPT("peers=%s", peers),
    REPLFS_OPT("--peers=%s", peers),
    REPLFS_OPT("fallback_peers=%s", fallback_peers),
    REPLFS_OPT("--fallback_peers=%s", fallback_peers),
    REPLFS_OPT("--fallback-peers=%s", fallback_peers),
    REPLFS_OPT("fallback_after=%s", fallback_after),
    REPLFS_OPT("--fallback_after=%s", fallback_after),
    REPLFS_OPT("--fallback-after=%s", fallback_after),
    REPLFS_OPT("cluster=%s", cluster),
    REPLFS_OPT("--cluster=%s", cluster),
    REPLFS_OPT("config=%s", config),
    REPLFS_OPT("inode_fds=%s", inode_fds),
    REPLFS_OPT("--inode_fds=%s", inode_fds),
    REPLFS_OPT("--inode-fds=%s", inode_fds),
    REPLFS_OPT("tombstone_grace=%s", tombstone_grace),
    REPLFS_OPT("--tombstone_grace=%s", tombstone_grace),
    REPLFS_OPT("--tombstone-grace=%s", tombstone_grace),
    REPLFS_OPT("tls_ca=%s", tls_ca),
    REPLFS_OPT("--tls_ca=%s", tls_ca),
    REPLFS_OPT("--tls-ca=%s", tls_ca),
    REPLFS_OPT("tls_cert=%s", tls_cert),
    REPLFS_OPT("--tls_cert=%s", tls_cert),
    REPLFS_OPT("--tls-cert=%s", tls_cert),
    REPLFS_OPT("tls_key=%s", tls_key),
    REPLFS_OPT("--tls_key=%s", tls_key),
    REPLFS_OPT("--tls-key=%s", tls_key),
    REPLFS_OPT("--config=%s", config),
    REPLFS_OPT("ignore_file=%s", ignore_file),
    REPLFS_OPT("max_rate=%s", max_rate),
    REPLFS_OPT("--max_rate=%s", max_rate),
    REPLFS_OPT("--max-rate=%s", max_rate),
    REPLFS_OPT("compression=%s", compression),
    REPLFS_OPT("--compression=%s", compression),
    REPLFS_OPT("keep_versions=%s", keep_versions),
    REPLFS_OPT("--keep_versions=%s", keep_versions),
    REPLFS_OPT("--keep-versions=%s", keep_versions),
    REPLFS_OPT("versions_max=%s", versions_max),
    REPLFS_OPT("--versions_max=%s", versions_max),
    REPLFS_OPT("--versions-max=%s", versions_max),
    REPLFS_OPT("--ignore_file=%s", ignore_file),
    REPLFS_OPT("--ignore-file=%s", ignore_file),
    {"insecure", offsetof(RawOptions, insecure), 1},
    {"--insecure", offsetof(RawOptions, insecure), 1},
    {"allow_setuid", offsetof(RawOptions, allow_setuid), 1},
    {"--allow_setuid", offsetof(RawOptions, allow_setuid), 1},
    REPLFS_KEY("peer=", kKeyPeer),
    REPLFS_KEY("--peer=", kKeyPeer),
    REPLFS_KEY("ignore=", kKeyIgnore),
    REPLFS_KEY("--ignore=", kKeyIgnore),
    REPLFS_KEY("-h", kKeyHelp),
    REPLFS_KEY("--help", kKeyHelp),
    REPLFS_KEY("-V", kKeyVersion),
    REPLFS_KEY("--version", kKeyVersion),
    REPLFS_KEY("-f", kKeyForeground),
    REPLFS_KEY("--foreground", kKeyForeground),
    REPLFS_KEY("-d", kKeyDebug),
    REPLFS_KEY("debug", kKeyDebug),
    REPLFS_KEY("-s", kKeySingle),
    FUSE_OPT_END,
};
#undef REPLFS_OPT

int ProcessArgument(void* data, const char* arg, int key, fuse_args*) {
  auto* raw = static_cast<RawOptions*>(data);
  switch (key) {
    case kKeyHelp:
      raw->help = 1;
      return 0;
    case kKeyVersion:
      raw->version = 1;
      return 0;
    case kKeyForeground:
      raw->foreground = 1;
      return 0;
    case kKeyDebug:
      raw->debug = 1;
      raw->foreground = 1;
      return 0;
    case kKeySingle:
      raw->single_thread = 1;
      return 0;
    case kKeyPeer: {
      const std::string option(arg);
      raw->peer_list.push_back(option.substr(option.find('=') + 1));
      return 0;
    }
    case kKeyIgnore: {
      const std::string option(arg);
      raw->ignore_list.push_back(option.substr(option.find('=') + 1));
      return 0;
    }
    case FUSE_OPT_KEY_NONOPT:
      raw->positional.emplace_back(arg);
      return 0;
    case FUSE_OPT_KEY_OPT: {
      const std::string option(arg);
      if (!option.starts_with("-") && IsPassthroughMountOption(option)) {
        raw->passthrough.push_back(option);
      } else {
        raw->unknown.push_back(option);
      }
      return 0;
    }
    default:
      return 0;
  }
}

// Parses argv-style arguments into `raw`.
absl::Status ParseInto(std::vector<std::string> arguments, RawOptions* raw) {
  std::vector<char*> argv;
  argv.reserve(arguments.size());
  for (std::string& a : arguments) argv.push_back(a.data());
  fuse_args args = FUSE_ARGS_INIT(static_cast<int>(argv.size()), argv.data());
  const int r = fuse_opt_parse(&args, raw, kOptionSpec, ProcessArgument);
  fuse_opt_free_args(&args);
  if (r != 0) return absl::InvalidArgumentError("cannot parse the options");
  return absl::OkStatus();
}

// A config file holds the same settings as -o, one `key = value` (or a
// bare flag like `insecure`) per line; `#` starts a comment.
absl::Status ParseConfigFile(const std::string& path, RawOptions* raw) {
  std::ifstream in(path);
  if (!in) return absl::InvalidArgumentError(absl::StrCat("cannot read config file ", path));
  std::vector<std::string> arguments = {"replfs"};
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    line = std::string(absl::StripAsciiWhitespace(line.substr(0, line.find('#'))));
    if (line.empty()) continue;
    const size_t eq = line.find('=');
    std::string option = line;
    if (eq != std::string::npos) {
      option = absl::StrCat(absl::StripAsciiWhitespace(line.substr(0, eq)), "=",
                            absl::StripAsciiWhitespace(line.substr(eq + 1)));
    }
    if (option.find(',') != std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ":", number, ": one setting per line, no commas"));
    }
    arguments.push_back("-o");
    arguments.push_back(option);
  }
  return ParseInto(std::move(arguments), raw);
}

// Reads an on/off setting into `value`; an empty one leaves the default.
absl::Status ParseOnOff(const std::string& name, const std::string& text, bool* value) {
  if (text == "off" || text == "no" || text == "0") {
    *value = false;
  } else if (text == "on" || text == "yes" || text == "1") {
    *value = true;
  } else if (!text.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, " must be on or off, got '", text, "'"));
  }
  return absl::OkStatus();
}

std::string Take(char*& value) {
  std::string s = value != nullptr ? value : "";
  std::free(value);
  value = nullptr;
  return s;
}

// Moves the file's value into the command line's where the command line
// did not set it.
void FillFrom(char*& command_line, char*& file) {
  if (command_line == nullptr) std::swap(command_line, file);
  Take(file);
}


// Reads a number of seconds >= 0 into `value`; an empty one leaves the default.
absl::Status ParseSeconds(const std::string& name, const std::string& text, double* value) {
  if (!text.empty() && (!absl::SimpleAtod(text, value) || *value < 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, " must be a number of seconds >= 0, got '", text, "'"));
  }
  return absl::OkStatus();
}

// Reads a byte count (a number, with k, M, G or T for 2^10, 2^20, 2^30 or
// 2^40 of them) into `value`; false when `text` is not one.
bool ParseBytes(absl::string_view number, uint64_t* value) {
  if (number.empty()) return false;
  uint64_t unit = 1;
  switch (number.back()) {
    case 'k': case 'K': unit = uint64_t{1} << 10; break;
    case 'm': case 'M': unit = uint64_t{1} << 20; break;
    case 'g': case 'G': unit = uint64_t{1} << 30; break;
    case 't': case 'T': unit = uint64_t{1} << 40; break;
    default: break;
  }
  if (unit != 1) number.remove_suffix(1);
  uint64_t count = 0;
  if (!absl::SimpleAtoi(number, &count) || count > (uint64_t{1} << 50) / unit) return false;
  *value = count * unit;
  return true;
}

// Reads a rate in bytes a second (ParseBytes) into `value`; an empty one
// leaves the default.
absl::Status ParseRate(const std::string& name, const std::string& text, uint64_t* value) {
  if (text.empty()) return absl::OkStatus();
  if (!ParseBytes(text, value) || *value > (uint64_t{1} << 40)) {
    return absl::InvalidArgumentError(absl::StrCat(
        name, " must be bytes a second, like 500k, 10M or 1G (0: no limit); got '", text, "'"));
  }
  return absl::OkStatus();
}

// -o keep_versions=DAYS and -o versions_max=SIZE|PERCENT%.
absl::Status ParseVersionRetention(RawOptions* raw, ReplicationOptions* replication) {
  if (const std::string days = Take(raw->keep_versions); !days.empty()) {
    if (!absl::SimpleAtoi(days, &replication->keep_versions_days) ||
        replication->keep_versions_days > 36500) {
      return absl::InvalidArgumentError(absl::StrCat(
          "keep_versions must be a number of days from 0 (off) to 36500, got '", days, "'"));
    }
  }
  if (const std::string cap = Take(raw->versions_max); !cap.empty()) {
    double percent = 0;
    if (absl::EndsWith(cap, "%")) {
      if (!absl::SimpleAtod(absl::string_view(cap).substr(0, cap.size() - 1), &percent) ||
          percent <= 0 || percent > 90) {
        return absl::InvalidArgumentError(absl::StrCat(
            "versions_max must be a size like 2G or a share of the backing file system "
            "from 0 to 90%, got '", cap, "'"));
      }
      replication->versions_max_percent = percent;
      replication->versions_max_bytes = 0;
    } else {
      if (!ParseBytes(cap, &replication->versions_max_bytes) ||
          replication->versions_max_bytes == 0) {
        return absl::InvalidArgumentError(absl::StrCat(
            "versions_max must be a size like 500M, 2G or 1T, or a share of the backing "
            "file system like 10%, got '", cap, "'"));
      }
      replication->versions_max_percent = 0;
    }
  }
  return absl::OkStatus();
}

// Settings from the config file fill in what the command line left unset;
// lists and flags add up.
absl::Status MergeConfigFile(const std::string& path, RawOptions* raw) {
  RawOptions file;
  if (absl::Status s = ParseConfigFile(path, &file); !s.ok()) return s;
  FillFrom(raw->state_dir, file.state_dir);
  FillFrom(raw->cache_timeout, file.cache_timeout);
  FillFrom(raw->writeback, file.writeback);
  FillFrom(raw->passthrough_io, file.passthrough_io);
  FillFrom(raw->log_level, file.log_level);
  FillFrom(raw->listen, file.listen);
  FillFrom(raw->metrics, file.metrics);
  FillFrom(raw->peers, file.peers);
  FillFrom(raw->fallback_peers, file.fallback_peers);
  FillFrom(raw->fallback_after, file.fallback_after);
  FillFrom(raw->cluster, file.cluster);
  FillFrom(raw->tls_ca, file.tls_ca);
  FillFrom(raw->tombstone_grace, file.tombstone_grace);
  FillFrom(raw->inode_fds, file.inode_fds);
  FillFrom(raw->tls_cert, file.tls_cert);
  FillFrom(raw->tls_key, file.tls_key);
  FillFrom(raw->ignore_file, file.ignore_file);
  FillFrom(raw->max_rate, file.max_rate);
  FillFrom(raw->compression, file.compression);
  FillFrom(raw->keep_versions, file.keep_versions);
  FillFrom(raw->versions_max, file.versions_max);
  Take(file.config);
  raw->insecure |= file.insecure;
  raw->allow_setuid |= file.allow_setuid;
  for (auto list : {&RawOptions::peer_list, &RawOptions::ignore_list, &RawOptions::unknown,
                     &RawOptions::positional, &RawOptions::passthrough}) {
    (raw->*list).insert((raw->*list).end(), (file.*list).begin(), (file.*list).end());
  }
  return absl::OkStatus();
}

// The settings read (and refused) even for --help and --version.
absl::Status ReadEarlySettings(RawOptions* raw, Options* options) {
  MountOptions& mount = options->mount;
  ReplicationOptions& replication = options->replication;
  if (absl::Status s = ParseOnOff("writeback", Take(raw->writeback), &mount.writeback_cache);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = ParseOnOff("passthrough", Take(raw->passthrough_io), &mount.passthrough);
      !s.ok()) {
    return s;
  }
  replication.listen = Take(raw->listen);
  replication.metrics = Take(raw->metrics);
  if (absl::Status s =
          ParseSeconds("fallback_after", Take(raw->fallback_after), &replication.fallback_after);
      !s.ok()) {
    return s;
  }
  if (absl::Status s =
          ParseSeconds("tombstone_grace", Take(raw->tombstone_grace), &replication.tombstone_grace);
      !s.ok()) {
    return s;
  }
  const std::string inode_fds = Take(raw->inode_fds);
  if (!inode_fds.empty() && (!absl::SimpleAtoi(inode_fds, &mount.inode_fds) || mount.inode_fds < 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("inode_fds must be a number of file descriptors >= 0, got '", inode_fds, "'"));
  }
  if (absl::Status s = ParseRate("max_rate", Take(raw->max_rate), &replication.max_rate);
      !s.ok()) {
    return s;
  }
  if (const std::string compression = Take(raw->compression); !compression.empty()) {
    if (compression != "gzip" && compression != "none") {
      return absl::InvalidArgumentError(
          absl::StrCat("compression must be gzip or none, got '", compression, "'"));
    }
    replication.compression = compression;
  }
  if (absl::Status s = ParseVersionRetention(raw, &replication); !s.ok()) return s;
  replication.tls_ca = Take(raw->tls_ca);
  replication.tls_cert = Take(raw->tls_cert);
  replication.tls_key = Take(raw->tls_key);
  replication.insecure = raw->insecure != 0;
  replication.allow_setuid = raw->allow_setuid != 0;
  return absl::OkStatus();
}

// -o ignore= patterns, then the lines of -o ignore_file=, checked.
absl::Status ReadIgnorePatterns(RawOptions* raw, ReplicationOptions* replication) {
  replication->ignore_patterns = raw->ignore_list;
  const std::string file = Take(raw->ignore_file);
  if (!file.empty()) {
    std::ifstream in(file);
    if (!in) return absl::InvalidArgumentError(absl::StrCat("cannot read ignore_file ", file));
    std::string line;
    while (std::getline(in, line)) replication->ignore_patterns.push_back(line);
    if (in.bad()) return absl::InvalidArgumentError(absl::StrCat("cannot read ignore_file ", file));
  }
  return IgnorePatterns::Parse(replication->ignore_patterns).status();
}

// The cluster and the peer lists, checked against each other.
absl::Status ReadReplicationSettings(RawOptions* raw, ReplicationOptions* replication) {
  const std::string cluster = Take(raw->cluster);
  if (!cluster.empty()) replication->cluster = cluster;
  AppendPeerList(Take(raw->peers), &replication->peers);
  for (const std::string& p : raw->peer_list) AppendPeerList(p, &replication->peers);
  AppendPeerList(Take(raw->fallback_peers), &replication->fallback_peers);
  if (absl::Status s = ReadIgnorePatterns(raw, replication); !s.ok()) return s;
  return CheckReplicationOptions(*replication);
}

// The two directories and what is left: the kernel's cache, logging and
// libfuse's own mount options.
absl::Status ReadMountSettings(RawOptions* raw, Options* options) {
  if (!raw->unknown.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown option '", raw->unknown.front(), "' (see replfs --help)"));
  }
  if (raw->positional.size() != 2) {
    return absl::InvalidArgumentError(absl::StrCat(
        "expected BACKING and MOUNTPOINT, got ", raw->positional.size(),
        " positional argument(s) (see replfs --help)"));
  }
  MountOptions& mount = options->mount;
  mount.backing = raw->positional[0];
  mount.mountpoint = raw->positional[1];
  options->state_dir = Take(raw->state_dir);
  const std::string cache_timeout = Take(raw->cache_timeout);
  if (!cache_timeout.empty() &&
      (!absl::SimpleAtod(cache_timeout, &mount.cache_timeout) || mount.cache_timeout < 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("cache_timeout must be a number of seconds >= 0, got '", cache_timeout, "'"));
  }
  const std::string log_level = Take(raw->log_level);
  if (!log_level.empty() && !ParseLogLevel(log_level, &options->log_level)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "log_level must be one of error, warning, info, debug; got '", log_level, "'"));
  }
  for (const std::string& option : raw->passthrough) {
    if (option == "allow_other") mount.allow_other = true;
  }
  mount.fuse_mount_options = absl::StrJoin(raw->passthrough, ",");
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Options> ParseOptions(int argc, char** argv, const std::string& config_file) {
  fuse_args args = FUSE_ARGS_INIT(argc, argv);
  RawOptions raw;
  if (fuse_opt_parse(&args, &raw, kOptionSpec, ProcessArgument) != 0) {
    fuse_opt_free_args(&args);
    return absl::InvalidArgumentError("cannot parse the command line");
  }
  fuse_opt_free_args(&args);
  Options options;
  options.show_help = raw.help != 0;
  options.show_version = raw.version != 0;
  options.foreground = raw.foreground != 0;
  options.mount.debug = raw.debug != 0;
  options.mount.single_thread = raw.single_thread != 0;
  options.config_file = Take(raw.config);
  if (!config_file.empty()) options.config_file = config_file;
  if (!options.config_file.empty()) {
    // Settings on the command line win over the config file's.
    if (absl::Status s = MergeConfigFile(options.config_file, &raw); !s.ok()) return s;
  }
  if (absl::Status s = ReadEarlySettings(&raw, &options); !s.ok()) return s;
  if (options.show_help || options.show_version) return options;
  if (absl::Status s = ReadReplicationSettings(&raw, &options.replication); !s.ok()) return s;
  if (absl::Status s = ReadMountSettings(&raw, &options); !s.ok()) return s;
  return options;
}

absl::Status ValidateOptions(Options* options) {
  if (absl::Status s = ValidateMountOptions(&options->mount); !s.ok()) return s;
  if (options->state_dir.empty()) {
    options->state_dir = options->mount.backing + "/.replfs";
  }
  for (std::string* path : {&options->state_dir, &options->config_file}) {
    if (path->empty() || path->front() == '/') continue;
    char cwd[PATH_MAX];
    if (::getcwd(cwd, sizeof(cwd)) == nullptr) return absl::ErrnoToStatus(errno, "getcwd");
    *path = absl::StrCat(cwd, "/", *path);
  }
  if (absl::Status s = ResolveTlsFiles(&options->replication); !s.ok()) return s;
  if (IsInsideDirectory(options->state_dir, options->mount.mountpoint)) {
    return absl::InvalidArgumentError("the state folder cannot be inside the mountpoint");
  }
  return absl::OkStatus();
}

}  // namespace replfs
