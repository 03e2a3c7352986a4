// replfs-status: the health of running replicas, read from each one's admin
// endpoint (STATE_DIR/admin.sock); `--log` prints a replica's store instead,
// `--versions` the file versions it kept, and `--restore` puts a kept
// version back through the mount, all read from the same endpoint.
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "tools/conflict_restore.h"
#include "tools/replica_locator.h"
#include "tools/restore_time.h"
#include "tools/status_client.h"
#include "tools/status_format.h"
#include "tools/status_health.h"
#include "tools/store_dump.h"
#include "tools/version_commands.h"

namespace replfs {
namespace {

constexpr int kUsageError = 2;  // Like "unreachable": nothing could be checked.

void PrintUsage() {
  std::printf(
      "usage: replfs-status [options] [MOUNTPOINT|BACKING|STATE_DIR]...\n"
      "       replfs-status --log [--json] MOUNTPOINT|BACKING|STATE_DIR\n"
      "       replfs-status --versions MOUNT/PATH\n"
      "       replfs-status --restore MOUNT/PATH --version ID [--dry-run]\n"
      "       replfs-status --restore MOUNT/PATH --as-of TIME [--exact] [--dry-run]\n"
      "\n"
      "Shows each running replica (default: every fuse.replfs mount in\n"
      "/proc/mounts): node id, listen address, uptime, entries, tombstones,\n"
      "change-log seq, pending commits, conflict copies, clock-skew warnings;\n"
      "and per peer: address, node id, state (connected, or retrying with the\n"
      "last error and next attempt), lag both ways (WE LAG: their changes not\n"
      "yet applied here, in entries and seconds; THEY LAG: our changes not yet\n"
      "pulled by them, in entries), bytes and entries received, last contact.\n"
      "It asks each replica over its admin socket STATE_DIR/admin.sock (mode\n"
      "0600: run as root or as the replica's owner).\n"
      "\n"
      "  --json                 one JSON document instead of the table\n"
      "  --watch[=SECONDS]      redraw every SECONDS (default 2) until Ctrl-C;\n"
      "                         with --json, one JSON document per line\n"
      "  --conflicts            also list conflict copies: path, both versions,\n"
      "                         origin node, where the copy is kept and the\n"
      "                         command that restores it\n"
      "  --versions MOUNT/PATH  list the versions of a file that this replica kept\n"
      "                         when a change took them out of the tree (deleted,\n"
      "                         renamed over, truncated, replaced by a peer, lost\n"
      "                         a conflict): ID, when kept, size, SHA-256, origin\n"
      "                         node and why; for a directory, or a path with no\n"
      "                         versions of its own, every version beneath it\n"
      "  --restore MOUNT/PATH --version ID\n"
      "                         put that version of the file back through the\n"
      "                         mount (it replicates as a new version); as root:\n"
      "                         the kept files are readable by root only\n"
      "  --restore MOUNT/PATH --as-of TIME\n"
      "                         put the file, or every file beneath the directory,\n"
      "                         back as it was at TIME: a duration ago (90s, 10m,\n"
      "                         2h, 3d, 1h30m), a local time (2026-12-05 01:20:00),\n"
      "                         a time with its offset (2026-12-05T01:20:00Z,\n"
      "                         2026-12-05T01:20:00+01:00) or @UNIX_SECONDS; files\n"
      "                         created since stay unless --exact\n"
      "  --exact                with --as-of: also remove the files created since\n"
      "                         TIME, and the directories made since that are left\n"
      "                         empty\n"
      "  --dry-run              with --version or --as-of: print what would be\n"
      "                         done, change nothing\n"
      "  --restore=PATH[@VERSION]\n"
      "                         copy a kept conflict copy back over PATH (relative\n"
      "                         to the mount) through the mount (it replicates as\n"
      "                         a new version); needs exactly one replica named\n"
      "  --forget-puller=NODE   stop keeping tombstones for NODE (16 hex digits,\n"
      "                         as 'pulled by' shows it), a replica that pulled\n"
      "                         from this one and will never return (retired, or\n"
      "                         its state folder lost); needs exactly one replica\n"
      "  --state-dir=DIR        a replica by its state folder (needed when it was\n"
      "                         started with -o state_dir=: /proc/mounts only\n"
      "                         leads to BACKING/.replfs); repeatable\n"
      "  --max-lag-seconds=N    a peer lagging more than N seconds is degraded\n"
      "                         (default 60); also the longest silence allowed\n"
      "                         from a connected peer\n"
      "  --max-lag-entries=N    a peer lagging more than N entries (either way)\n"
      "                         is degraded (default 10000)\n"
      "  --timeout=SECONDS      how long to wait for each replica (default 3)\n"
      "  --log                  print the replica's entries (E/) and change log\n"
      "                         (S/) instead, asked of the running replica\n"
      "  -h, --help             this text\n"
      "\n"
      "exit status (the worst over all replicas shown):\n"
      "  0  healthy: every peer connected and within the lag limits\n"
      "  1  degraded: a peer is down (retrying) or lagging past a limit\n"
      "  2  unreachable: a replica did not answer, none was found, or the\n"
      "     command line is wrong\n"
      "with --restore MOUNT/PATH: 0 every step done, 1 something could not be\n"
      "restored (not kept, no version covers TIME, a step failed, no such version),\n"
      "2 nothing could be done (the path is in no replfs mount, the replica did\n"
      "not answer, the command line is wrong); --versions: 0, or 2 on errors\n");
}

volatile sig_atomic_t g_interrupted = 0;
void OnInterrupt(int) { g_interrupted = 1; }

struct Arguments {
  bool log = false;
  bool json = false;
  bool conflicts = false;
  std::optional<double> watch_seconds;
  std::string restore;
  // --restore MOUNT/PATH with --version or --as-of, rather than a conflict
  // copy (--restore=PATH[@VERSION] REPLICA).
  bool restore_kept_version = false;
  std::string versions;  // --versions MOUNT/PATH.
  std::string version_id;
  std::optional<int64_t> as_of_unix_ms;
  bool exact = false;
  bool dry_run = false;
  std::optional<uint64_t> forget_puller;
  std::vector<std::string> targets;
  std::vector<std::string> state_dirs;
  HealthThresholds thresholds;
  double timeout_seconds = 3;
};

// "--name=value" or "--name value"; returns false if `arg` is not --name.
bool TakeValue(const std::string& name, const std::string& arg, int* i, int argc, char** argv,
               std::string* value, bool* missing) {
  if (absl::StartsWith(arg, name + "=")) {
    *value = arg.substr(name.size() + 1);
    return true;
  }
  if (arg != name) return false;
  if (*i + 1 >= argc) {
    *missing = true;
    return true;
  }
  *value = argv[++*i];
  return true;
}

std::optional<Arguments> ParseArguments(int argc, char** argv) {
  Arguments args;
  auto fail = [](const std::string& message) {
    std::fprintf(stderr, "replfs-status: error: %s (see --help)\n", message.c_str());
    return std::nullopt;
  };
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    std::string value;
    bool missing = false;
    if (arg == "--log") {
      args.log = true;
    } else if (arg == "--json") {
      args.json = true;
    } else if (arg == "--conflicts") {
      args.conflicts = true;
    } else if (arg == "--watch") {
      args.watch_seconds = 2;
    } else if (absl::StartsWith(arg, "--watch=")) {
      double seconds = 0;
      if (!absl::SimpleAtod(arg.substr(8), &seconds) || seconds < 0.1) {
        return fail("--watch wants a number of seconds >= 0.1");
      }
      args.watch_seconds = seconds;
    } else if (arg == "-h" || arg == "--help") {
      PrintUsage();
      std::exit(0);
    } else if (TakeValue("--restore", arg, &i, argc, argv, &value, &missing)) {
      if (missing || value.empty()) {
        return fail("--restore wants MOUNT/PATH (with --version or --as-of) or PATH[@VERSION]");
      }
      args.restore = value;
    } else if (TakeValue("--versions", arg, &i, argc, argv, &value, &missing)) {
      if (missing || value.empty()) return fail("--versions wants MOUNT/PATH");
      args.versions = value;
    } else if (TakeValue("--version", arg, &i, argc, argv, &value, &missing)) {
      if (missing || value.empty()) {
        return fail("--version wants a version ID (--versions MOUNT/PATH lists them)");
      }
      if (value == "-") return fail("version '-' was not kept: there is nothing to put back");
      args.version_id = value;
    } else if (TakeValue("--as-of", arg, &i, argc, argv, &value, &missing)) {
      if (missing || value.empty()) return fail("--as-of wants a TIME");
      absl::StatusOr<int64_t> as_of = ParseRestoreTime(value, absl::ToUnixMillis(absl::Now()));
      if (!as_of.ok()) return fail(absl::StrCat("--as-of: ", as_of.status().message()));
      args.as_of_unix_ms = *as_of;
    } else if (arg == "--exact") {
      args.exact = true;
    } else if (arg == "--dry-run") {
      args.dry_run = true;
    } else if (TakeValue("--forget-puller", arg, &i, argc, argv, &value, &missing)) {
      uint64_t node = 0;
      if (missing || value.size() > 16 || !absl::SimpleHexAtoi(value, &node) || node == 0) {
        return fail("--forget-puller wants a node id (up to 16 hex digits, not 0)");
      }
      args.forget_puller = node;
    } else if (TakeValue("--state-dir", arg, &i, argc, argv, &value, &missing)) {
      if (missing || value.empty()) return fail("--state-dir wants a directory");
      args.state_dirs.push_back(value);
    } else if (TakeValue("--max-lag-seconds", arg, &i, argc, argv, &value, &missing)) {
      if (missing || !absl::SimpleAtod(value, &args.thresholds.max_lag_seconds) ||
          args.thresholds.max_lag_seconds < 0) {
        return fail("--max-lag-seconds wants a number >= 0");
      }
    } else if (TakeValue("--max-lag-entries", arg, &i, argc, argv, &value, &missing)) {
      if (missing || !absl::SimpleAtoi(value, &args.thresholds.max_lag_entries)) {
        return fail("--max-lag-entries wants a whole number >= 0");
      }
    } else if (TakeValue("--timeout", arg, &i, argc, argv, &value, &missing)) {
      if (missing || !absl::SimpleAtod(value, &args.timeout_seconds) || args.timeout_seconds <= 0) {
        return fail("--timeout wants a number of seconds > 0");
      }
    } else if (!arg.empty() && arg[0] == '-') {
      return fail(absl::StrCat("unknown option '", arg, "'"));
    } else {
      args.targets.push_back(arg);
    }
  }
  if (args.log && args.targets.size() + args.state_dirs.size() != 1) {
    return fail("--log wants exactly one replica (MOUNTPOINT, BACKING or --state-dir)");
  }
  const bool picks_version = !args.version_id.empty() || args.as_of_unix_ms.has_value();
  if (!args.version_id.empty() && args.as_of_unix_ms.has_value()) {
    return fail("--version and --as-of both pick what to restore: give one of them");
  }
  if (picks_version && args.restore.empty()) {
    return fail("--version and --as-of go with --restore MOUNT/PATH");
  }
  if (args.exact && !args.as_of_unix_ms.has_value()) {
    return fail("--exact goes with --restore MOUNT/PATH --as-of TIME");
  }
  if (args.dry_run && !picks_version) {
    return fail("--dry-run goes with --restore MOUNT/PATH and --version ID or --as-of TIME");
  }
  if (!args.versions.empty() &&
      (!args.restore.empty() || args.log || args.forget_puller.has_value())) {
    return fail("--versions goes without --restore, --log and --forget-puller");
  }
  const size_t replicas_named = args.targets.size() + args.state_dirs.size();
  if (!args.restore.empty()) {
    // A path through a mount names its replica; a conflict copy's PATH is
    // relative to a replica named beside it.
    args.restore_kept_version =
        picks_version || (absl::StartsWith(args.restore, "/") && IsInReplfsMount(args.restore));
    if (args.restore_kept_version && !picks_version) {
      return fail(absl::StrCat("--restore ", args.restore,
                               " wants --version ID (replfs-status --versions ", args.restore,
                               " lists them) or --as-of TIME"));
    }
    if (args.restore_kept_version && replicas_named > 1) {
      return fail("--restore MOUNT/PATH takes at most one replica (--state-dir, for a replica "
                  "started with -o state_dir=)");
    }
    if (!args.restore_kept_version && replicas_named != 1) {
      return fail("--restore=PATH[@VERSION] wants exactly one replica (MOUNTPOINT, BACKING or "
                  "--state-dir); a file through the mount is --restore MOUNT/PATH with "
                  "--version ID or --as-of TIME");
    }
  }
  if (!args.versions.empty() && replicas_named > 1) {
    return fail("--versions takes at most one replica (--state-dir, for a replica started "
                "with -o state_dir=)");
  }
  if (args.forget_puller.has_value() && args.targets.size() + args.state_dirs.size() != 1) {
    return fail("--forget-puller wants exactly one replica (MOUNTPOINT, BACKING or --state-dir)");
  }
  return args;
}

// The replicas to ask, or an unreachable report for each name that leads
// nowhere.
std::vector<ReplicaReport> Locate(const Arguments& args) {
  const std::vector<ReplfsMount> mounts = ListReplfsMounts();
  std::vector<ReplicaReport> reports;
  auto add = [&](const std::string& target) {
    ReplicaReport report;
    absl::StatusOr<ReplicaLocation> location = LocateReplica(target, mounts);
    if (location.ok()) {
      report.location = *location;
    } else {
      report.location.target = target;
      report.error = std::string(location.status().message());
    }
    reports.push_back(std::move(report));
  };
  for (const std::string& target : args.targets) add(target);
  for (const std::string& dir : args.state_dirs) add(dir);
  if (args.targets.empty() && args.state_dirs.empty()) {
    for (const ReplicaLocation& location : LocateAllMounted(mounts)) {
      ReplicaReport report;
      report.location = location;
      reports.push_back(std::move(report));
    }
  }
  return reports;
}

// Asks every located replica and judges it.
Health Refresh(const Arguments& args, std::vector<ReplicaReport>* reports, int64_t* now_ms) {
  Health overall = reports->empty() ? Health::kUnreachable : Health::kHealthy;
  for (ReplicaReport& report : *reports) {
    if (!report.location.state_dir.empty()) {
      StatusClient client(report.location.admin_socket(), absl::Seconds(args.timeout_seconds));
      absl::StatusOr<ReplicaStatus> status = client.Status();
      if (status.ok()) {
        report.status = *std::move(status);
        report.error.clear();
        if (args.conflicts || !args.restore.empty()) {
          absl::StatusOr<std::vector<ConflictCopy>> conflicts = client.Conflicts();
          if (conflicts.ok()) {
            report.conflicts = *std::move(conflicts);
          } else {
            report.status->add_warnings(
                absl::StrCat("cannot list conflicts: ", conflicts.status().message()));
          }
        }
      } else {
        report.status.reset();
        report.error = std::string(status.status().message());
      }
    }
    *now_ms = absl::ToUnixMillis(absl::Now());
    AssessReplica(args.thresholds, *now_ms, &report);
    overall = Worse(overall, report.health);
  }
  return overall;
}

int Restore(const Arguments& args, std::vector<ReplicaReport>& reports) {
  int64_t now_ms = 0;
  Refresh(args, &reports, &now_ms);
  const ReplicaReport& report = reports.front();
  if (!report.status.has_value()) {
    std::fprintf(stderr, "replfs-status: error: %s\n", report.error.c_str());
    return 1;
  }
  absl::StatusOr<ConflictCopy> conflict = FindConflict(report.conflicts, args.restore);
  if (!conflict.ok()) {
    std::fprintf(stderr, "replfs-status: error: %s\n",
                 std::string(conflict.status().message()).c_str());
    return 1;
  }
  const std::string mountpoint = report.status->mountpoint().empty() ? report.location.mountpoint
                                                                     : report.status->mountpoint();
  if (absl::Status s = RestoreConflict(report.location.state_dir, mountpoint, *conflict); !s.ok()) {
    std::fprintf(stderr, "replfs-status: error: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  std::printf("restored %s over %s (it replicates as a new version)\n",
              ConflictName(*conflict).c_str(), ConflictDestination(mountpoint, *conflict).c_str());
  return 0;
}

// The client of the one replica a command names, or nothing (the reason
// printed) when that name led to no replica.
std::optional<StatusClient> OnlyReplica(const Arguments& args,
                                        const std::vector<ReplicaReport>& reports) {
  const ReplicaReport& report = reports.front();
  if (report.location.state_dir.empty()) {
    std::fprintf(stderr, "replfs-status: error: %s\n", report.error.c_str());
    return std::nullopt;
  }
  return StatusClient(report.location.admin_socket(), absl::Seconds(args.timeout_seconds));
}

int ForgetPuller(const Arguments& args, const std::vector<ReplicaReport>& reports) {
  const std::optional<StatusClient> client = OnlyReplica(args, reports);
  if (!client.has_value()) return 1;
  absl::StatusOr<bool> forgotten = client->ForgetPuller(*args.forget_puller);
  if (!forgotten.ok()) {
    std::fprintf(stderr, "replfs-status: error: %s\n",
                 std::string(forgotten.status().message()).c_str());
    return 1;
  }
  if (!*forgotten) {
    std::fprintf(stderr, "replfs-status: error: node %016llx does not pull from this replica\n",
                 static_cast<unsigned long long>(*args.forget_puller));
    return 1;
  }
  std::printf("forgot node %016llx: tombstones are no longer kept for it\n",
              static_cast<unsigned long long>(*args.forget_puller));
  return 0;
}

// --versions and --restore MOUNT/PATH: the replica is the mount's, or the
// one named (a replica started with -o state_dir= is found only by name).
int KeptVersions(const Arguments& args, const std::vector<ReplicaReport>& reports) {
  VersionCommand command;
  command.path = args.versions.empty() ? args.restore : args.versions;
  command.version_id = args.version_id;
  command.as_of_unix_ms = args.as_of_unix_ms;
  command.exact = args.exact;
  command.dry_run = args.dry_run;
  command.timeout = absl::Seconds(args.timeout_seconds);
  if (!args.targets.empty() || !args.state_dirs.empty()) {
    const ReplicaReport& named = reports.front();
    if (named.location.state_dir.empty()) {
      std::fprintf(stderr, "replfs-status: error: %s\n", named.error.c_str());
      return kUsageError;
    }
    command.state_dir = named.location.state_dir;
  }
  if (!args.versions.empty()) return ListVersions(command, std::cout, std::cerr);
  if (!args.version_id.empty()) return RestoreToVersion(command, std::cout, std::cerr);
  return RestoreAsOf(command, std::cout, std::cerr);
}

int DumpLog(const Arguments& args, const std::vector<ReplicaReport>& reports) {
  const std::optional<StatusClient> client = OnlyReplica(args, reports);
  if (!client.has_value()) return 1;
  if (absl::Status s = DumpStore(*client, args.json, std::cout); !s.ok()) {
    std::fprintf(stderr, "replfs-status: error: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  return 0;
}

int Show(const Arguments& args, std::vector<ReplicaReport>& reports) {
  if (reports.empty()) {
    std::fprintf(stderr,
                 "replfs-status: no fuse.replfs mount in /proc/mounts; name a MOUNTPOINT, BACKING "
                 "or --state-dir=DIR\n");
  }
  if (args.watch_seconds.has_value()) {
    ::signal(SIGINT, OnInterrupt);
    ::signal(SIGTERM, OnInterrupt);
  }
  Health overall = Health::kUnreachable;
  for (;;) {
    int64_t now_ms = 0;
    overall = Refresh(args, &reports, &now_ms);
    FormatOptions format;
    format.conflicts = args.conflicts;
    format.now_unix_ms = now_ms;
    format.thresholds = args.thresholds;
    format.pretty = !args.watch_seconds.has_value();
    if (args.json) {
      absl::StatusOr<std::string> json = JsonReport(reports, overall, format);
      if (!json.ok()) {
        std::fprintf(stderr, "replfs-status: error: %s\n",
                     std::string(json.status().message()).c_str());
        return static_cast<int>(Health::kUnreachable);
      }
      std::cout << *json << std::endl;
    } else {
      if (args.watch_seconds.has_value()) std::cout << "\033[H\033[2J";  // Clear, home.
      PrintHumanReport(reports, overall, format, std::cout);
      std::cout.flush();
    }
    if (!args.watch_seconds.has_value()) break;
    const auto next = std::chrono::steady_clock::now() +
                      std::chrono::milliseconds(static_cast<int64_t>(*args.watch_seconds * 1000));
    while (!g_interrupted && std::chrono::steady_clock::now() < next) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (g_interrupted) break;
  }
  return static_cast<int>(overall);
}

}  // namespace
}  // namespace replfs

int main(int argc, char** argv) {
  std::optional<replfs::Arguments> args = replfs::ParseArguments(argc, argv);
  if (!args.has_value()) return replfs::kUsageError;
  std::vector<replfs::ReplicaReport> reports = replfs::Locate(*args);
  if (args->log) return replfs::DumpLog(*args, reports);
  if (!args->versions.empty() || args->restore_kept_version) {
    return replfs::KeptVersions(*args, reports);
  }
  if (!args->restore.empty()) return replfs::Restore(*args, reports);
  if (args->forget_puller.has_value()) return replfs::ForgetPuller(*args, reports);
  return replfs::Show(*args, reports);
}
