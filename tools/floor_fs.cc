// replfs-floor: the cheapest FUSE low-level daemon over a backing directory.
// tools/bench-local measures it beside native and replfs, so that each
// figure shows what FUSE itself costs on this kernel and what replfs adds
// on top. It keeps an inode table (tools/floor_inodes.h) and nothing else:
// no store, no change log, no replication.
//
// It mounts like replfs (default_permissions; allow_other when root; entry
// and attribute timeouts of 3600 s; negative entries cached; the
// multi-threaded loop with a cloned /dev/fuse fd per thread) and has the
// kernel pass file I/O through to the backing files with replfs's own
// KernelChannel where the kernel offers it. Otherwise file data goes
// through it with the writeback cache, as in replfs.
//
// usage: replfs-floor BACKING MOUNTPOINT [-f] [-d] [-o OPT[,OPT...]]
//   -o passthrough=off   file data through the daemon (writeback cache)
//   -o cache_timeout=S   entry, attribute and negative-entry timeout
//   -o single_thread     one thread reading /dev/fuse
//   -o xattr=off         no xattrs (ENOSYS: the kernel stops asking)
//   other -o options go to libfuse and the kernel as mount options.
// Always in the foreground (-f is accepted, as replfs takes it); SIGINT or
// SIGTERM unmounts and exits.
#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "base/unique_fd.h"
#include "fuse/kernel_channel.h"
#include "storage/log.h"
#include "tools/floor_fs.h"

namespace replfs::floor {
namespace {

struct Settings {
  std::string backing;
  std::string mountpoint;
  bool passthrough = true;
  double cache_timeout = 3600;
  bool single_thread = false;
  bool xattr = true;
  bool debug = false;
  std::vector<std::string> mount_options;  // For libfuse and the kernel.
};

constexpr const char* kUsage =
    "usage: replfs-floor BACKING MOUNTPOINT [-f] [-d] [-o OPT[,OPT...]]\n"
    "  -o passthrough=on|off  kernel passthrough of file I/O where offered (default on)\n"
    "  -o cache_timeout=SECS  entry, attribute and negative-entry timeout (default 3600)\n"
    "  -o single_thread       one thread reading /dev/fuse\n"
    "  -o xattr=on|off        read xattrs of the backing objects (default on), or none\n"
    "  other options are mount options for libfuse and the kernel\n";

absl::Status ParseOption(absl::string_view option, Settings* settings) {
  const size_t equals = option.find('=');
  const absl::string_view key = option.substr(0, equals);
  const absl::string_view value =
      equals == absl::string_view::npos ? "" : option.substr(equals + 1);
  if (key == "passthrough") {
    if (value != "on" && value != "off") {
      return absl::InvalidArgumentError("passthrough takes on or off");
    }
    settings->passthrough = value == "on";
  } else if (key == "cache_timeout") {
    if (!absl::SimpleAtod(value, &settings->cache_timeout) || settings->cache_timeout < 0) {
      return absl::InvalidArgumentError("cache_timeout takes seconds");
    }
  } else if (key == "single_thread") {
    settings->single_thread = true;
  } else if (key == "xattr") {
    if (value != "on" && value != "off") return absl::InvalidArgumentError("xattr takes on or off");
    settings->xattr = value == "on";
  } else {
    settings->mount_options.emplace_back(option);
  }
  return absl::OkStatus();
}

absl::StatusOr<Settings> ParseArguments(int argc, char** argv) {
  Settings settings;
  std::vector<std::string> positional;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "-f") continue;
    if (arg == "-d") {
      settings.debug = true;
    } else if (arg == "-o" || (arg.starts_with("-o") && arg.size() > 2)) {
      std::string list = arg.substr(2);
      if (list.empty()) {
        if (++i == argc) return absl::InvalidArgumentError("-o needs options");
        list = argv[i];
      }
      for (absl::string_view option : absl::StrSplit(list, ',', absl::SkipEmpty())) {
        if (absl::Status s = ParseOption(option, &settings); !s.ok()) return s;
      }
    } else if (arg.starts_with("-")) {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag ", arg));
    } else {
      positional.push_back(arg);
    }
  }
  if (positional.size() != 2) return absl::InvalidArgumentError("need BACKING and MOUNTPOINT");
  settings.backing = positional[0];
  settings.mountpoint = positional[1];
  return settings;
}

// Every object the kernel caches holds an O_PATH fd here: a tree of tens
// of thousands of files needs as many. Root may raise the hard limit too.
void RaiseFdLimit() {
  constexpr rlim_t kWanted = 1 << 20;
  struct rlimit limit{kWanted, kWanted};
  if (::setrlimit(RLIMIT_NOFILE, &limit) == 0) return;
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  limit.rlim_cur = limit.rlim_max;
  (void)::setrlimit(RLIMIT_NOFILE, &limit);
}

int Run(const Settings& settings) {
  // New objects get exactly the mode the kernel sends (it applied the
  // caller's umask already).
  ::umask(0);
  RaiseFdLimit();
  UniqueFd root_fd(::open(settings.backing.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  struct stat root_st;
  if (!root_fd.valid() || ::fstat(root_fd.get(), &root_st) != 0) {
    LogError(absl::StrCat("open ", settings.backing, ": ", std::strerror(errno)));
    return 1;
  }
  FloorFs fs(std::move(root_fd), root_st, settings.cache_timeout);

  std::vector<std::string> mount_options = {"default_permissions",
                                            absl::StrCat("fsname=", settings.backing),
                                            "subtype=replfs-floor"};
  if (::geteuid() == 0) mount_options.emplace_back("allow_other");
  mount_options.insert(mount_options.end(), settings.mount_options.begin(),
                       settings.mount_options.end());
  std::vector<std::string> arg_strings = {"replfs-floor", "-o",
                                          absl::StrJoin(mount_options, ",")};
  if (settings.debug) arg_strings.emplace_back("-d");
  std::vector<char*> argv;
  argv.reserve(arg_strings.size());
  for (std::string& s : arg_strings) argv.push_back(s.data());
  fuse_args args = FUSE_ARGS_INIT(static_cast<int>(argv.size()), argv.data());
  // fuse_session_new may add to `args` (allocating): free them on every path.
  struct ArgsGuard {
    fuse_args* args;
    ~ArgsGuard() { fuse_opt_free_args(args); }
  } args_guard{&args};
  const fuse_lowlevel_ops ops = MakeOperations(settings.xattr);
  fuse_session* session = fuse_session_new(&args, &ops, sizeof(ops), &fs);
  if (session == nullptr) {
    LogError("cannot create the FUSE session");
    return 1;
  }
  if (fuse_set_signal_handlers(session) != 0) {
    LogError("cannot install signal handlers");
    fuse_session_destroy(session);
    return 1;
  }
  if (fuse_session_mount(session, settings.mountpoint.c_str()) != 0) {
    LogError(absl::StrCat("cannot mount at ", settings.mountpoint));
    fuse_remove_signal_handlers(session);
    fuse_session_destroy(session);
    return 1;
  }
  // After the mount, before the loop reads INIT: the channel negotiates
  // passthrough there.
  std::unique_ptr<KernelChannel> channel;
  if (settings.passthrough) {
    absl::StatusOr<std::unique_ptr<KernelChannel>> installed =
        KernelChannel::Install(session, KernelChannel::Options{});
    if (!installed.ok()) {
      LogError(installed.status().ToString());
      fuse_session_unmount(session);
      fuse_remove_signal_handlers(session);
      fuse_session_destroy(session);
      return 1;
    }
    channel = std::move(*installed);
    fs.channel = channel.get();
  }

  int result;
  if (settings.single_thread) {
    result = fuse_session_loop(session);
  } else {
    // As replfs: a cloned /dev/fuse fd per thread.
    fuse_loop_config* config = fuse_loop_cfg_create();
    fuse_loop_cfg_set_clone_fd(config, 1);
    fuse_loop_cfg_set_max_threads(config, 16);
    fuse_loop_cfg_set_idle_threads(config, 8);
    result = fuse_session_loop_mt(session, config);
    fuse_loop_cfg_destroy(config);
  }
  fuse_session_unmount(session);
  fuse_remove_signal_handlers(session);
  fuse_session_destroy(session);
  return result == 0 ? 0 : 1;
}

}  // namespace
}  // namespace replfs::floor

int main(int argc, char** argv) {
  absl::StatusOr<replfs::floor::Settings> settings = replfs::floor::ParseArguments(argc, argv);
  if (!settings.ok()) {
    std::fprintf(stderr, "replfs-floor: %s\n%s", std::string(settings.status().message()).c_str(),
                 replfs::floor::kUsage);
    return 2;
  }
  replfs::SetLogLevel(replfs::LogLevel::kInfo);
  return replfs::floor::Run(*settings);
}
