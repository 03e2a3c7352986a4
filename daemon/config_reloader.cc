#include "daemon/config_reloader.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "daemon/reload_plan.h"
#include "daemon/replica_startup.h"
#include "storage/ignore_patterns.h"
#include "storage/log.h"

namespace replfs {
namespace {

// Where SIGHUP's handler writes (the running reloader's pipe), or -1.
std::atomic<int> reload_signal_fd{-1};

void OnSighup(int) {
  const int saved_errno = errno;
  const int fd = reload_signal_fd.load(std::memory_order_relaxed);
  if (fd >= 0) {
    const char byte = 1;
    // A full pipe already holds a pending reload.
    (void)!::write(fd, &byte, 1);
  }
  errno = saved_errno;
}

// Every reload answers with its lines, also one a few seconds after another
// whose lines differ only in their digits (days, bytes, ports): LogEach.
void ReloadWarning(absl::string_view message) { LogEach(LogLevel::kWarning, message); }
void ReloadError(absl::string_view message) { LogEach(LogLevel::kError, message); }

std::string PeerList(const std::vector<std::string>& peers) {
  return peers.empty() ? "none" : absl::StrJoin(peers, " ");
}

}  // namespace

ConfigReloader::ConfigReloader(std::vector<std::string> argv, Options running,
                               std::string config_file, Replicator* replicator,
                               IgnoreSet* ignore, VersionKeeper* versions)
    : argv_(std::move(argv)), running_(std::move(running)), config_file_(std::move(config_file)),
      replicator_(replicator), ignore_(ignore), versions_(versions) {}

ConfigReloader::~ConfigReloader() { Stop(); }

absl::Status ConfigReloader::Start() {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC | O_NONBLOCK) != 0) {
    return absl::ErrnoToStatus(errno, "reload: pipe");
  }
  signal_read_ = UniqueFd(pipe_fds[0]);
  signal_write_ = UniqueFd(pipe_fds[1]);
  stop_ = UniqueFd(::eventfd(0, EFD_CLOEXEC));
  if (!stop_.valid()) return absl::ErrnoToStatus(errno, "reload: eventfd");
  reload_signal_fd.store(signal_write_.get(), std::memory_order_relaxed);
  struct sigaction action = {};
  action.sa_handler = OnSighup;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  if (::sigaction(SIGHUP, &action, nullptr) != 0) {
    return absl::ErrnoToStatus(errno, "reload: sigaction SIGHUP");
  }
  thread_ = std::thread([this] { Run(); });
  return absl::OkStatus();
}

void ConfigReloader::Stop() {
  if (!thread_.joinable()) return;
  struct sigaction ignore = {};
  ignore.sa_handler = SIG_IGN;
  sigemptyset(&ignore.sa_mask);
  ::sigaction(SIGHUP, &ignore, nullptr);
  reload_signal_fd.store(-1, std::memory_order_relaxed);
  const uint64_t one = 1;
  (void)!::write(stop_.get(), &one, sizeof(one));
  thread_.join();
}

void ConfigReloader::Run() {
  for (;;) {
    pollfd fds[2] = {{signal_read_.get(), POLLIN, 0}, {stop_.get(), POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      LogError(absl::StrCat("reload: poll: ", std::strerror(errno), "; SIGHUP no longer reloads"));
      return;
    }
    if (fds[1].revents != 0) return;
    // Signals that came while reloading make one more reload, not many.
    char drained[64];
    while (::read(signal_read_.get(), drained, sizeof(drained)) > 0) {
    }
    Reload();
  }
}

void ConfigReloader::Reload() {
  if (config_file_.empty()) {
    ReloadWarning("reload: replfs runs without a config file (-o config=FILE): nothing to read");
    return;
  }
  std::vector<std::string> arguments = argv_;
  std::vector<char*> argv;
  argv.reserve(arguments.size());
  for (std::string& argument : arguments) argv.push_back(argument.data());
  absl::StatusOr<Options> reread =
      ParseOptions(static_cast<int>(argv.size()), argv.data(), config_file_);
  if (!reread.ok()) {
    ReloadError(absl::StrCat("reload refused: ", reread.status().message(),
                             "; every setting keeps its running value"));
    return;
  }
  const ReloadPlan plan = PlanReload(running_, *reread);
  for (const std::string& refusal : plan.refused) ReloadWarning(absl::StrCat("reload: ", refusal));
  if (plan.log_level) {
    SetLogLevel(*plan.log_level);
    running_.log_level = *plan.log_level;
    ReloadWarning(absl::StrCat("reload: log level now ", LogLevelName(*plan.log_level)));
  }
  if (plan.peers_changed) ApplyPeers(*reread);
  if (plan.ignore_patterns) ApplyIgnorePatterns(*plan.ignore_patterns);
  if (plan.version_retention_changed) ApplyVersionRetention(reread->replication);
  if (plan.empty()) ReloadWarning(absl::StrCat("reload: ", config_file_, " changes nothing"));
}

void ConfigReloader::ApplyVersionRetention(const ReplicationOptions& wanted) {
  const VersionPolicy policy = VersionPolicyOf(wanted, running_.mount.backing);
  versions_->SetPolicy(policy);
  ReplicationOptions& running = running_.replication;
  running.keep_versions_days = wanted.keep_versions_days;
  running.versions_max_bytes = wanted.versions_max_bytes;
  running.versions_max_percent = wanted.versions_max_percent;
  ReloadWarning(absl::StrCat("reload: versions now kept ", policy.keep_days, " days within ",
                             policy.max_bytes,
                             " bytes (applies at the next prune, within a second)"));
}

void ConfigReloader::ApplyPeers(const Options& reread) {
  const ReplicationOptions& wanted = reread.replication;
  replicator_->SetPeers(wanted.peers, wanted.fallback_peers,
                        absl::Seconds(wanted.fallback_after));
  ReplicationOptions& running = running_.replication;
  running.peers = wanted.peers;
  running.fallback_peers = wanted.fallback_peers;
  running.fallback_after = wanted.fallback_after;
  ReloadWarning(absl::StrCat("reload: peers now ", PeerList(running.peers), "; fallback peers ",
                             PeerList(running.fallback_peers), " after ", running.fallback_after,
                             " s"));
}

void ConfigReloader::ApplyIgnorePatterns(const std::vector<std::string>& lines) {
  // ParseOptions checked them already.
  absl::StatusOr<IgnorePatterns> patterns = IgnorePatterns::Parse(lines);
  if (!patterns.ok()) {
    ReloadError(absl::StrCat("reload: ignore patterns refused: ", patterns.status().message()));
    return;
  }
  const std::string described = DescribeIgnorePatterns(patterns->Sources());
  ignore_->Replace(*std::move(patterns));
  running_.replication.ignore_patterns = lines;
  ReloadWarning(absl::StrCat("reload: ignore patterns now ", described,
                             " (paths no longer ignored are recorded at their next change or "
                             "the next start)"));
}

}  // namespace replfs
