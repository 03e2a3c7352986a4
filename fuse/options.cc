#include "fuse/options.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace replfs {
namespace {

// Raw values as fuse_opt fills them (C strings it allocates).
struct RawOptions {
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
  int insecure = 0;
  int allow_setuid = 0;
  std::vector<std::string> peer_list;  // From repeatable --peer= / -o peer=.
  int foreground = 0;
  int debug = 0;
  int single_thread = 0;
  int help = 0;
  int version = 0;
  std::vector<std::string> positional;
  std::vector<std::string> passthrough;  // -o options for libfuse's mount.
  std::vector<std::string> unknown;
};

enum Key { kKeyHelp, kKeyVersion, kKeyForeground, kKeyDebug, kKeySingle, kKeyPeer };

#define REPLFS_OPT(templ, field) {templ, offsetof(RawOptions, field), 0}
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
    {"insecure", offsetof(RawOptions, insecure), 1},
    {"--insecure", offsetof(RawOptions, insecure), 1},
    {"allow_setuid", offsetof(RawOptions, allow_setuid), 1},
    {"--allow_setuid", offsetof(RawOptions, allow_setuid), 1},
    FUSE_OPT_KEY("peer=", kKeyPeer),
    FUSE_OPT_KEY("--peer=", kKeyPeer),
    FUSE_OPT_KEY("-h", kKeyHelp),
    FUSE_OPT_KEY("--help", kKeyHelp),
    FUSE_OPT_KEY("-V", kKeyVersion),
    FUSE_OPT_KEY("--version", kKeyVersion),
    FUSE_OPT_KEY("-f", kKeyForeground),
    FUSE_OPT_KEY("--foreground", kKeyForeground),
    FUSE_OPT_KEY("-d", kKeyDebug),
    FUSE_OPT_KEY("debug", kKeyDebug),
    FUSE_OPT_KEY("-s", kKeySingle),
    FUSE_OPT_END,
};
#undef REPLFS_OPT

// libfuse mount options we pass through unchanged. Anything else is an
// error: a typo in fstab must not be silently ignored.
bool IsPassthroughMountOption(const std::string& option) {
  static const char* const kAccepted[] = {
      "allow_other", "allow_root", "default_permissions", "ro", "rw", "nosuid", "suid",
      "nodev", "dev", "noexec", "exec", "noatime", "atime", "relatime", "norelatime",
      "strictatime", "nostrictatime", "lazytime", "nolazytime", "sync", "async",
      "dirsync", "auto_unmount", "nofail", "_netdev", "auto", "noauto", "user", "users",
      "nouser", "owner", "defaults", "x-systemd.automount"};
  const std::string key = option.substr(0, option.find('='));
  for (const char* accepted : kAccepted) {
    if (key == accepted) return true;
  }
  return key.starts_with("x-") || key == "max_read" || key == "blksize" ||
         key == "comment" || key == "fsname" || key == "subtype" || key == "max_threads" ||
         key == "max_idle_threads" || key == "clone_fd";
}

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

absl::StatusOr<std::string> Canonical(const std::string& path, const char* what) {
  char resolved[PATH_MAX];
  if (::realpath(path.c_str(), resolved) == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
  }
  struct stat st;
  if (::stat(resolved, &st) != 0 || !S_ISDIR(st.st_mode)) {
    return absl::InvalidArgumentError(absl::StrCat(what, " ", path, " is not a directory"));
  }
  return std::string(resolved);
}

bool IsInside(const std::string& inner, const std::string& outer) {
  return inner == outer || inner.starts_with(outer == "/" ? outer : outer + "/");
}

// Whether `path` is already the mountpoint of some filesystem.
bool IsMountpoint(const std::string& path) {
  std::ifstream mountinfo("/proc/self/mountinfo");
  std::string line;
  while (std::getline(mountinfo, line)) {
    std::vector<std::string> fields = absl::StrSplit(line, ' ');
    if (fields.size() > 4 && fields[4] == path) return true;
  }
  return false;
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

void ParsePeers(const std::string& list, std::vector<std::string>* peers) {
  for (absl::string_view peer : absl::StrSplit(list, absl::ByAnyChar("; "), absl::SkipEmpty())) {
    peers->emplace_back(peer);
  }
}

absl::Status CheckHostPort(const std::string& what, const std::string& host_port) {
  const size_t colon = host_port.rfind(':');
  int port = 0;
  if (colon == std::string::npos || colon == 0 ||
      !absl::SimpleAtoi(host_port.substr(colon + 1), &port) || port <= 0 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " must be HOST:PORT, got '", host_port, "'"));
  }
  return absl::OkStatus();
}

// Moves the file's value into the command line's where the command line
// did not set it.
void FillFrom(char*& command_line, char*& file) {
  if (command_line == nullptr) std::swap(command_line, file);
  Take(file);
}

}  // namespace

bool IsLoopbackAddress(const std::string& host_port) {
  const std::string host = host_port.substr(0, host_port.rfind(':'));
  if (host == "localhost" || host == "[::1]" || host == "::1") return true;
  // A literal IPv4 address in 127.0.0.0/8 (not a name like 127.example.com).
  in_addr address{};
  return ::inet_pton(AF_INET, host.c_str(), &address) == 1 &&
         (ntohl(address.s_addr) >> 24) == 127;
}

absl::StatusOr<Options> ParseOptions(int argc, char** argv) {
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
  options.debug = raw.debug != 0;
  options.single_thread = raw.single_thread != 0;
  const std::string config = Take(raw.config);
  if (!config.empty()) {
    // Settings on the command line win over the config file's.
    RawOptions file;
    if (absl::Status s = ParseConfigFile(config, &file); !s.ok()) return s;
    FillFrom(raw.state_dir, file.state_dir);
    FillFrom(raw.cache_timeout, file.cache_timeout);
    FillFrom(raw.writeback, file.writeback);
    FillFrom(raw.passthrough_io, file.passthrough_io);
    FillFrom(raw.log_level, file.log_level);
    FillFrom(raw.listen, file.listen);
    FillFrom(raw.peers, file.peers);
    FillFrom(raw.fallback_peers, file.fallback_peers);
    FillFrom(raw.fallback_after, file.fallback_after);
    FillFrom(raw.cluster, file.cluster);
    FillFrom(raw.tls_ca, file.tls_ca);
    FillFrom(raw.tombstone_grace, file.tombstone_grace);
    FillFrom(raw.inode_fds, file.inode_fds);
    FillFrom(raw.tls_cert, file.tls_cert);
    FillFrom(raw.tls_key, file.tls_key);
    Take(file.config);
    raw.insecure |= file.insecure;
    raw.allow_setuid |= file.allow_setuid;
    for (auto list : {&RawOptions::peer_list, &RawOptions::unknown, &RawOptions::positional,
                       &RawOptions::passthrough}) {
      (raw.*list).insert((raw.*list).end(), (file.*list).begin(), (file.*list).end());
    }
  }
  options.config_file = config;
  const std::string state_dir = Take(raw.state_dir);
  const std::string cache_timeout = Take(raw.cache_timeout);
  if (absl::Status s = ParseOnOff("writeback", Take(raw.writeback), &options.writeback_cache);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = ParseOnOff("passthrough", Take(raw.passthrough_io), &options.passthrough);
      !s.ok()) {
    return s;
  }
  const std::string log_level = Take(raw.log_level);
  options.listen = Take(raw.listen);
  const std::string peers = Take(raw.peers);
  const std::string fallback_peers = Take(raw.fallback_peers);
  const std::string fallback_after = Take(raw.fallback_after);
  if (!fallback_after.empty() &&
      (!absl::SimpleAtod(fallback_after, &options.fallback_after) || options.fallback_after < 0)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "fallback_after must be a number of seconds >= 0, got '", fallback_after, "'"));
  }
  const std::string cluster = Take(raw.cluster);
  const std::string tombstone_grace = Take(raw.tombstone_grace);
  if (!tombstone_grace.empty() &&
      (!absl::SimpleAtod(tombstone_grace, &options.tombstone_grace) || options.tombstone_grace < 0)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "tombstone_grace must be a number of seconds >= 0, got '", tombstone_grace, "'"));
  }
  const std::string inode_fds = Take(raw.inode_fds);
  if (!inode_fds.empty() && (!absl::SimpleAtoi(inode_fds, &options.inode_fds) || options.inode_fds < 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("inode_fds must be a number of file descriptors >= 0, got '", inode_fds, "'"));
  }
  options.tls_ca = Take(raw.tls_ca);
  options.tls_cert = Take(raw.tls_cert);
  options.tls_key = Take(raw.tls_key);
  options.insecure = raw.insecure != 0;
  options.allow_setuid = raw.allow_setuid != 0;
  if (options.show_help || options.show_version) return options;
  if (!cluster.empty()) options.cluster = cluster;
  ParsePeers(peers, &options.peers);
  for (const std::string& p : raw.peer_list) ParsePeers(p, &options.peers);
  for (const std::string& p : options.peers) {
    if (absl::Status s = CheckHostPort("a peer", p); !s.ok()) return s;
  }
  ParsePeers(fallback_peers, &options.fallback_peers);
  for (const std::string& p : options.fallback_peers) {
    if (absl::Status s = CheckHostPort("a fallback peer", p); !s.ok()) return s;
    if (std::find(options.peers.begin(), options.peers.end(), p) != options.peers.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat(p, " is both a peer and a fallback peer; list it once"));
    }
  }
  if (!options.fallback_peers.empty() && options.peers.empty()) {
    return absl::InvalidArgumentError(
        "fallback_peers are used only while the peers= are silent; give peers= as well");
  }
  const int tls_given = !options.tls_ca.empty() + !options.tls_cert.empty() + !options.tls_key.empty();
  if (tls_given != 0 && tls_given != 3) {
    return absl::InvalidArgumentError("TLS needs all of tls_ca=, tls_cert= and tls_key=");
  }
  if (!options.listen.empty()) {
    if (absl::Status s = CheckHostPort("listen", options.listen); !s.ok()) return s;
    if (!options.insecure && options.tls_ca.empty() && !IsLoopbackAddress(options.listen)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "refusing to serve replication on non-loopback address ", options.listen,
          " without TLS; pass -o insecure to allow plaintext on a trusted network"));
    }
  }
  if (!raw.unknown.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown option '", raw.unknown.front(), "' (see replfs --help)"));
  }
  if (raw.positional.size() != 2) {
    return absl::InvalidArgumentError(absl::StrCat(
        "expected BACKING and MOUNTPOINT, got ", raw.positional.size(),
        " positional argument(s) (see replfs --help)"));
  }
  options.backing = raw.positional[0];
  options.mountpoint = raw.positional[1];
  options.state_dir = state_dir;
  if (!cache_timeout.empty() &&
      (!absl::SimpleAtod(cache_timeout, &options.cache_timeout) || options.cache_timeout < 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("cache_timeout must be a number of seconds >= 0, got '", cache_timeout, "'"));
  }
  if (!log_level.empty() && !ParseLogLevel(log_level, &options.log_level)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "log_level must be one of error, warning, info, debug; got '", log_level, "'"));
  }
  for (const std::string& option : raw.passthrough) {
    if (option == "allow_other") options.allow_other = true;
  }
  options.fuse_mount_options = absl::StrJoin(raw.passthrough, ",");
  return options;
}

absl::Status ValidateOptions(Options* options) {
  absl::StatusOr<std::string> backing = Canonical(options->backing, "backing directory");
  if (!backing.ok()) return backing.status();
  absl::StatusOr<std::string> mountpoint = Canonical(options->mountpoint, "mountpoint");
  if (!mountpoint.ok()) return mountpoint.status();
  options->backing = *backing;
  options->mountpoint = *mountpoint;
  if (::access(options->backing.c_str(), R_OK | W_OK | X_OK) != 0) {
    return absl::PermissionDeniedError(absl::StrCat(
        "backing directory ", options->backing, " is not writable: ", std::strerror(errno)));
  }
  if (IsInside(options->mountpoint, options->backing)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "mountpoint ", options->mountpoint, " is inside the backing directory ",
        options->backing, "; that would make the mount contain itself"));
  }
  if (IsMountpoint(options->mountpoint)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "mountpoint ", options->mountpoint, " is busy: something is already mounted there"));
  }
  if (options->state_dir.empty()) {
    options->state_dir = options->backing + "/.replfs";
  } else if (options->state_dir.front() != '/') {
    char cwd[PATH_MAX];
    if (::getcwd(cwd, sizeof(cwd)) == nullptr) return absl::ErrnoToStatus(errno, "getcwd");
    options->state_dir = absl::StrCat(cwd, "/", options->state_dir);
  }
  // The daemon runs from "/": every file it reads later must be absolute.
  for (std::string* file : {&options->tls_ca, &options->tls_cert, &options->tls_key}) {
    if (file->empty()) continue;
    char resolved[PATH_MAX];
    if (::realpath(file->c_str(), resolved) == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("TLS file ", *file, ": ", std::strerror(errno)));
    }
    *file = resolved;
  }
  if (IsInside(options->state_dir, options->mountpoint)) {
    return absl::InvalidArgumentError("the state folder cannot be inside the mountpoint");
  }
  return absl::OkStatus();
}

void PrintUsage(const char* program) {
  std::printf(
      "usage: %s BACKING MOUNTPOINT [-f] [-o option[,option...]]\n"
      "\n"
      "Mounts a replicated view of the directory BACKING at MOUNTPOINT. Reads\n"
      "and writes go to BACKING at local speed; every change is recorded in the\n"
      "replica's change log (in the state folder) for replication.\n"
      "\n"
      "Also usable as: mount -t fuse.replfs BACKING MOUNTPOINT -o option,...\n"
      "and in /etc/fstab:  BACKING MOUNTPOINT fuse.replfs _netdev,allow_other 0 0\n"
      "\n"
      "replfs options (each also accepted as --key=value):\n"
      "  -o state_dir=DIR       state folder: metadata store, node id, lock\n"
      "                         (default BACKING/.replfs, hidden from the mount)\n"
      "  -o cache_timeout=SECS  how long the kernel may cache names and\n"
      "                         attributes (default 3600; changes made through\n"
      "                         replfs invalidate the cache explicitly)\n"
      "  -o passthrough=on|off  the kernel reads and writes files straight to\n"
      "                         the backing directory (default on where the\n"
      "                         kernel offers it: Linux 6.9+, run as root);\n"
      "                         off: file data goes through replfs\n"
      "  -o writeback=on|off    without passthrough, the kernel's writeback\n"
      "                         cache (default on: small buffered writes near\n"
      "                         native speed). off suits a read-mostly\n"
      "                         docroot: closing a file opened for reading\n"
      "                         then costs no request\n"
      "  -o inode_fds=N         how many files the kernel caches keep an open\n"
      "                         fd here (default: half the fd limit); the\n"
      "                         rest are reopened by file handle per request\n"
      "  -o log_level=LEVEL     error, warning (default), info or debug;\n"
      "                         logs go to stderr\n"
      "\n"
      "replication options:\n"
      "  -o listen=HOST:PORT    serve this replica's changes to peers there\n"
      "                         (loopback only unless -o insecure)\n"
      "  -o peers=H:P;H:P...    peers to pull changes from (';'-separated);\n"
      "  --peer=HOST:PORT       also repeatable as --peer= or -o peer=.\n"
      "                         Peers may be down or not started yet: replfs\n"
      "                         mounts anyway and retries with backoff. No\n"
      "                         peers: the replica works standalone.\n"
      "  -o fallback_peers=H:P;...  pulled from, in this order, only while no\n"
      "                         peer answers (a spoke whose hub is down keeps\n"
      "                         receiving from another hub or the centre)\n"
      "  -o fallback_after=SECS how long the peers may be silent before a\n"
      "                         fallback is used (default 10)\n"
      "  -o cluster=NAME        cluster name (default replfs); replicas of\n"
      "                         other clusters are refused\n"
      "  -o insecure            allow plaintext replication on non-loopback\n"
      "                         addresses\n"
      "  -o allow_setuid        keep setuid/setgid bits of files from peers\n"
      "                         (default: stripped, and logged)\n"
      "  -o tombstone_grace=SECS  keep deletions (tombstones) at least this long\n"
      "                         and until every peer has applied them\n"
      "                         (default 86400)\n"
      "  -o tls_ca=FILE,tls_cert=FILE,tls_key=FILE\n"
      "                         mutual TLS between replicas: every peer must\n"
      "                         present a certificate signed by the cluster CA\n"
      "                         (make them with tools/replfs-certs)\n"
      "  -o config=FILE         read settings from FILE: one `key = value` per\n"
      "                         line (any replfs option), # comments; the\n"
      "                         command line wins over the file\n"
      "\n"
      "general options:\n"
      "  -f, --foreground       stay in the foreground\n"
      "  -d, -o debug           foreground, with libfuse's request trace\n"
      "  -s                     single-threaded (for debugging)\n"
      "  -h, --help             this text\n"
      "  -V, --version          print the version\n"
      "\n"
      "mount options passed to the kernel: allow_other (default when run as\n"
      "root), allow_root, ro, nosuid, nodev, noexec, noatime, auto_unmount,\n"
      "fsname=, subtype=; fstab-only words (_netdev, nofail, x-systemd.*) are\n"
      "accepted and ignored. default_permissions is always on: the kernel\n"
      "enforces file modes for every user.\n",
      program);
}

}  // namespace replfs
