// tools/wan-bed: the WAN test bed (tests/wan_bed.h) by hand.
//   wan-bed up [--datacentres D] [--servers S] [--delay-ms N] [--jitter-ms N]
//              [--rate-mbit N] [--stall-every-s X] [--tombstone-grace S]
//     builds the bed, prints its replicas and mounts, and waits for
//     Ctrl-C / SIGTERM; then tears everything down.
//   wan-bed down [--all]
//     removes what beds whose process died left behind (namespaces,
//     replicas, mounts, temp dirs); --all also stops live beds.
#include <signal.h>

#include <cstdio>
#include <map>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "tests/wan_bed.h"

namespace {

using replfs::testing::WanBed;
using replfs::testing::WanBedOptions;

constexpr const char* kUsage =
    "usage: wan-bed up [--datacentres D] [--servers S] [--delay-ms N] [--jitter-ms N]\n"
    "                  [--rate-mbit N] [--stall-every-s X] [--tombstone-grace S]\n"
    "       wan-bed down [--all]\n";

// "--name value" pairs into a map; false on anything else.
bool ParseFlags(int argc, char** argv, std::map<std::string, double>* flags) {
  for (int i = 2; i < argc; i += 2) {
    const std::string name = argv[i];
    double value = 0;
    if (!name.starts_with("--") || i + 1 >= argc || !absl::SimpleAtod(argv[i + 1], &value) ||
        !flags->contains(name.substr(2))) {
      std::fprintf(stderr, "wan-bed: bad argument %s\n%s", name.c_str(), kUsage);
      return false;
    }
    (*flags)[name.substr(2)] = value;
  }
  return true;
}

int Up(int argc, char** argv) {
  std::map<std::string, double> flags = {{"datacentres", 2},  {"servers", 2},     {"delay-ms", 40},
                                         {"jitter-ms", 5},    {"rate-mbit", 0},   {"stall-every-s", 0},
                                         {"tombstone-grace", 0}};
  if (!ParseFlags(argc, argv, &flags)) return 2;
  WanBedOptions options;
  options.datacentres = static_cast<int>(flags["datacentres"]);
  options.servers = static_cast<int>(flags["servers"]);
  options.link.delay = absl::Milliseconds(flags["delay-ms"]);
  options.link.jitter = absl::Milliseconds(flags["jitter-ms"]);
  options.link.stall_every = absl::Seconds(flags["stall-every-s"]);
  options.rate_mbit = static_cast<int>(flags["rate-mbit"]);
  if (flags["tombstone-grace"] > 0) {
    options.extra_args = {"-o", absl::StrCat("tombstone_grace=", flags["tombstone-grace"])};
  }
  // Blocked before any thread starts, so every thread inherits the mask and
  // only sigwait below sees them.
  sigset_t signals;
  sigemptyset(&signals);
  for (int s : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&signals, s);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  WanBed bed(options);
  if (absl::Status s = bed.Up(); !s.ok()) {
    std::fprintf(stderr, "wan-bed: %s\n", s.ToString().c_str());
    return 1;  // The destructor tears down what was built.
  }
  std::printf("%sready; Ctrl-C or SIGTERM (pid %d) tears it down\n", bed.Describe().c_str(),
              ::getpid());
  std::fflush(stdout);
  int received = 0;
  sigwait(&signals, &received);
  std::printf("wan-bed: signal %d, tearing down\n", received);
  std::fflush(stdout);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string command = argc >= 2 ? argv[1] : "";
  if (command == "up") return Up(argc, argv);
  if (command == "down") {
    const bool all = argc == 3 && std::string(argv[2]) == "--all";
    if (argc > 3 || (argc == 3 && !all)) {
      std::fputs(kUsage, stderr);
      return 2;
    }
    std::fputs(replfs::testing::CleanUpBeds(WanBed::kPrefixRoot, all).c_str(), stdout);
    return 0;
  }
  std::fputs(kUsage, stderr);
  return 2;
}
