// tools/wan-bed: the WAN test bed (tests/wan_bed.h) by hand.
//   wan-bed up [--datacentres D] [--servers S] [--delay-ms N] [--jitter-ms N]
//              [--rate-mbit N] [--stall-every-s X] [--tombstone-grace S]
//     builds the bed, prints its replicas and mounts, takes commands on
//     stdin (cut/heal a datacentre's link, kill/start all its replicas,
//     status; `help`) and waits for Ctrl-C / SIGTERM; then tears
//     everything down.
//   wan-bed down [--all]
//     removes what beds whose process died left behind (namespaces,
//     replicas, mounts, temp dirs); --all also stops live beds.
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/unique_fd.h"
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

// One command line from the operator; prints what it did.
void RunCommand(WanBed& bed, const std::string& line) {
  std::vector<std::string> words = absl::StrSplit(line, ' ', absl::SkipWhitespace());
  int dc = -1;
  if (words.size() == 2 && absl::SimpleAtoi(words[1], &dc) && dc >= 0 && dc <= bed.datacentres()) {
    const std::string& verb = words[0];
    if (verb == "cut") {
      bed.CutDatacentre(dc);
    } else if (verb == "heal") {
      bed.HealDatacentre(dc);
    } else if (verb == "kill") {
      bed.KillDatacentre(dc);
    } else if (verb == "start") {
      if (absl::Status s = bed.StartDatacentre(dc); !s.ok()) {
        std::printf("start %d: %s\n", dc, s.ToString().c_str());
        return;
      }
    } else {
      dc = -1;
    }
    if (dc >= 0) {
      std::printf("%s %d: done\n", verb.c_str(), dc);
      return;
    }
  }
  if (words.size() == 1 && words[0] == "status") {
    std::fputs(bed.Diagnostics().c_str(), stdout);
    return;
  }
  std::fputs(
      "commands (D: datacentre, 0 = the centre):\n"
      "  cut D     cut D's WAN link (0: every link)     heal D   heal it again\n"
      "  kill D    SIGKILL all of D's replicas at once  start D  restart them\n"
      "  status    relays, replica statuses and log tails\n",
      stdout);
}

// Reads commands from stdin (until EOF) until one of `signals` arrives;
// returns the signal.
int ServeCommands(WanBed& bed, const sigset_t& signals) {
  const replfs::UniqueFd signal_fd(::signalfd(-1, &signals, SFD_CLOEXEC));
  if (!signal_fd.valid()) {
    int received = 0;
    sigwait(&signals, &received);
    return received;
  }
  bool stdin_open = true;
  std::string pending;
  for (;;) {
    struct pollfd fds[2] = {{signal_fd.get(), POLLIN, 0}, {stdin_open ? STDIN_FILENO : -1, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) continue;
    if ((fds[0].revents & POLLIN) != 0) {
      struct signalfd_siginfo info = {};
      if (::read(signal_fd.get(), &info, sizeof(info)) == sizeof(info)) {
        return static_cast<int>(info.ssi_signo);
      }
    }
    if (fds[1].revents == 0) continue;
    char buffer[512];
    const ssize_t n = ::read(STDIN_FILENO, buffer, sizeof(buffer));
    if (n <= 0) {
      stdin_open = false;  // Detached (e.g. </dev/null): signals only.
      continue;
    }
    pending.append(buffer, static_cast<size_t>(n));
    for (size_t end = pending.find('\n'); end != std::string::npos; end = pending.find('\n')) {
      RunCommand(bed, pending.substr(0, end));
      pending.erase(0, end + 1);
    }
    std::fflush(stdout);
  }
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
  // only ServeCommands sees them.
  sigset_t signals;
  sigemptyset(&signals);
  for (int s : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&signals, s);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  WanBed bed(options);
  if (absl::Status s = bed.Up(); !s.ok()) {
    std::fprintf(stderr, "wan-bed: %s\n", s.ToString().c_str());
    return 1;  // The destructor tears down what was built.
  }
  std::printf("%sready; commands on stdin (help); Ctrl-C or SIGTERM (pid %d) tears it down\n",
              bed.Describe().c_str(), ::getpid());
  std::fflush(stdout);
  const int received = ServeCommands(bed, signals);
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
