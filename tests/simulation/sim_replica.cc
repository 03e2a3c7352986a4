#include "tests/simulation/sim_replica.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "replication/local_blocks.h"
#include "storage/beneath.h"
#include "storage/object_observer.h"

namespace replfs::sim {
namespace {

// Every replica's wall clock starts here (plus its skew), so runs replay.
constexpr uint64_t kEpochMs = 1'700'000'000'000;

// The parent directory of `path`, walked without following symlinks (a
// symlinked component refuses, as a path through a symlink would record
// the wrong path).
absl::StatusOr<UniqueFd> Parent(int root_fd, const std::string& path, std::string* name) {
  return OpenParentBeneath(root_fd, path, /*create=*/false, name);
}

absl::Status WriteAllAt(int fd, const std::string& data, uint64_t offset) {
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::pwrite(fd, data.data() + done, data.size() - done,
                               static_cast<off_t>(offset + done));
    if (n < 0) return absl::ErrnoToStatus(errno, "pwrite");
    done += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<SimReplica>> SimReplica::Create(std::string backing,
                                                               uint64_t node_id, int64_t skew_ms,
                                                               const uint64_t* sim_time_ms) {
  if (::mkdir(backing.c_str(), 0755) != 0 && errno != EEXIST) {
    return absl::ErrnoToStatus(errno, absl::StrCat("mkdir ", backing));
  }
  std::unique_ptr<SimReplica> replica(
      new SimReplica(std::move(backing), node_id, skew_ms, sim_time_ms));
  const std::string state = replica->state_path();
  if (::mkdir(state.c_str(), 0700) != 0) return absl::ErrnoToStatus(errno, "mkdir state");
  // A fixed node id (StateDir would pick a random one) so a seed replays.
  const std::string id_path = state + "/node_id";
  std::FILE* id_file = std::fopen(id_path.c_str(), "w");
  if (id_file == nullptr) return absl::ErrnoToStatus(errno, "create node_id");
  std::fprintf(id_file, "%016lx\n", static_cast<unsigned long>(node_id));
  std::fclose(id_file);
  if (absl::Status s = replica->Open(); !s.ok()) return s;
  return replica;
}

SimReplica::~SimReplica() { Close(); }

uint64_t SimReplica::WallClockMs() const {
  return static_cast<uint64_t>(static_cast<int64_t>(kEpochMs + *sim_time_ms_) + skew_ms_);
}

absl::Status SimReplica::Open() {
  root_fd_.Reset(::open(backing_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root_fd_.valid()) return absl::ErrnoToStatus(errno, "open backing");
  absl::StatusOr<std::unique_ptr<StateDir>> state = StateDir::Open(state_path());
  if (!state.ok()) return state.status();
  if ((*state)->node_id() != node_id_) return absl::InternalError("node id changed");
  state_ = std::move(*state);
  // Thousands of stores on tmpfs: a full-size space reserve (fallocate
  // zeroes its pages there) took most of the simulation's time.
  MetadataStore::OpenOptions store_options;
  store_options.max_reserve_bytes = 2 << 20;
  absl::StatusOr<std::unique_ptr<MetadataStore>> store =
      MetadataStore::Open(state_->StorePath(), store_options);
  if (!store.ok()) return store.status();
  store_ = std::move(*store);
  clock_ = std::make_unique<HybridLogicalClock>([this] { return WallClockMs(); });
  clock_->AdvanceTo(store_->MaxHlc());
  recorder_ = std::make_unique<ChangeRecorder>(store_.get(), clock_.get(), node_id_);
  ApplierOptions options;
  options.hidden_name = kStateName;
  options.temp_dir = state_->TempPath();
  options.conflicts_dir = state_->ConflictsPath();
  // Its own entries come back through peers: never mistaken for forged ones.
  options.node_id = node_id_;
  applier_ = std::make_unique<RemoteApplier>(root_fd_.get(), store_.get(), clock_.get(), &hooks_,
                                             std::move(options));
  return absl::OkStatus();
}

void SimReplica::Close() {
  applier_.reset();
  recorder_.reset();
  clock_.reset();
  store_.reset();
  state_.reset();
  root_fd_.Reset();
}

absl::Status SimReplica::Restart() {
  Close();
  return Open();
}

absl::Status SimReplica::RecordAt(const std::string& path) {
  std::string name;
  absl::StatusOr<UniqueFd> parent = Parent(root_fd(), path, &name);
  if (!parent.ok()) return parent.status();
  absl::StatusOr<ObservedObject> observed = ObserveAt(parent->get(), name.c_str(), nullptr, nullptr);
  if (!observed.ok()) return observed.status();
  return recorder_->RecordObject(path, *observed).status();
}

absl::Status SimReplica::RecordUncoveredAncestors(const std::string& path) {
  return recorder_->RecordUncoveredAncestors(root_fd(), path);
}

void SimReplica::StampMtime(const std::string& path) {
  std::string name;
  absl::StatusOr<UniqueFd> parent = Parent(root_fd(), path, &name);
  if (!parent.ok()) return;
  const int64_t ns = static_cast<int64_t>(WallClockMs()) * 1000000;
  const struct timespec times[2] = {{0, UTIME_OMIT},
                                    {static_cast<time_t>(ns / 1000000000),
                                     static_cast<long>(ns % 1000000000)}};
  ::utimensat(parent->get(), name.c_str(), times, AT_SYMLINK_NOFOLLOW);
}

absl::StatusOr<bool> SimReplica::Write(const std::string& path, uint64_t offset,
                                       const std::string& data, bool truncate_first) {
  std::string name;
  absl::StatusOr<UniqueFd> parent = Parent(root_fd(), path, &name);
  if (!parent.ok()) return false;
  UniqueFd fd(::openat(parent->get(), name.c_str(),
                       O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC | (truncate_first ? O_TRUNC : 0),
                       0644));
  if (!fd.valid()) return false;  // A directory, a symlink...
  if (absl::Status s = WriteAllAt(fd.get(), data, offset); !s.ok()) return s;
  fd.Reset();
  StampMtime(path);
  if (absl::Status s = RecordAt(path); !s.ok()) return s;
  return true;
}

absl::StatusOr<bool> SimReplica::Truncate(const std::string& path, uint64_t size) {
  std::string name;
  absl::StatusOr<UniqueFd> parent = Parent(root_fd(), path, &name);
  if (!parent.ok()) return false;
  UniqueFd fd(::openat(parent->get(), name.c_str(), O_WRONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) return false;
  if (::ftruncate(fd.get(), static_cast<off_t>(size)) != 0) return false;
  fd.Reset();
  StampMtime(path);
  if (absl::Status s = RecordAt(path); !s.ok()) return s;
  return true;
}

absl::StatusOr<bool> SimReplica::Unlink(const std::string& path) {
  std::string name;
  absl::StatusOr<UniqueFd> parent = Parent(root_fd(), path, &name);
  if (!parent.ok()) return false;
  if (::unlinkat(parent->get(), name.c_str(), 0) != 0) return false;
  if (absl::Status s = recorder_->RecordDelete(path); !s.ok()) return s;
  if (absl::Status s = RecordUncoveredAncestors(path); !s.ok()) return s;
  return true;
}

absl::StatusOr<bool> SimReplica::Mkdir(const std::string& path, mode_t mode) {
  std::string name;
  absl::StatusOr<UniqueFd> parent = Parent(root_fd(), path, &name);
  if (!parent.ok()) return false;
  if (::mkdirat(parent->get(), name.c_str(), mode) != 0) return false;
  if (absl::Status s = RecordAt(path); !s.ok()) return s;
  return true;
}

absl::StatusOr<bool> SimReplica::Rmdir(const std::string& path) {
  std::string name;
  absl::StatusOr<UniqueFd> parent = Parent(root_fd(), path, &name);
  if (!parent.ok()) return false;
  if (::unlinkat(parent->get(), name.c_str(), AT_REMOVEDIR) != 0) return false;
  if (absl::Status s = recorder_->RecordDelete(path); !s.ok()) return s;
  if (absl::Status s = RecordUncoveredAncestors(path); !s.ok()) return s;
  return true;
}

absl::StatusOr<bool> SimReplica::Rename(const std::string& from, const std::string& to,
                                        unsigned int flags) {
  if (from == to) return false;
  std::string from_name, to_name;
  absl::StatusOr<UniqueFd> from_parent = Parent(root_fd(), from, &from_name);
  absl::StatusOr<UniqueFd> to_parent = Parent(root_fd(), to, &to_name);
  if (!from_parent.ok() || !to_parent.ok()) return false;
  if (::renameat2(from_parent->get(), from_name.c_str(), to_parent->get(), to_name.c_str(),
                  flags) != 0) {
    return false;
  }
  const bool exchange = (flags & RENAME_EXCHANGE) != 0;
  struct stat at_to, at_from;
  LocalStat moved_stat, exchanged_stat;
  if (::fstatat(to_parent->get(), to_name.c_str(), &at_to, AT_SYMLINK_NOFOLLOW) == 0) {
    moved_stat = LocalStatOf(at_to);
  }
  if (exchange &&
      ::fstatat(from_parent->get(), from_name.c_str(), &at_from, AT_SYMLINK_NOFOLLOW) == 0) {
    exchanged_stat = LocalStatOf(at_from);
  }
  if (absl::Status s = recorder_->RecordRename(from, to, exchange, moved_stat,
                                               exchange ? &exchanged_stat : nullptr);
      !s.ok()) {
    return s;
  }
  if (!exchange) {
    if (absl::Status s = RecordUncoveredAncestors(from); !s.ok()) return s;
  }
  return true;
}

absl::StatusOr<bool> SimReplica::Symlink(const std::string& target, const std::string& path) {
  std::string name;
  absl::StatusOr<UniqueFd> parent = Parent(root_fd(), path, &name);
  if (!parent.ok()) return false;
  if (::symlinkat(target.c_str(), parent->get(), name.c_str()) != 0) return false;
  StampMtime(path);
  if (absl::Status s = RecordAt(path); !s.ok()) return s;
  return true;
}

absl::StatusOr<bool> SimReplica::Chmod(const std::string& path, mode_t mode) {
  std::string name;
  absl::StatusOr<UniqueFd> parent = Parent(root_fd(), path, &name);
  if (!parent.ok()) return false;
  struct stat st;
  if (::fstatat(parent->get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || S_ISLNK(st.st_mode)) {
    return false;  // chmod would follow the symlink to another path.
  }
  if (::fchmodat(parent->get(), name.c_str(), mode, 0) != 0) return false;
  if (absl::Status s = RecordAt(path); !s.ok()) return s;
  return true;
}

absl::Status SimReplica::Apply(const std::vector<Entry>& batch, BlockFetcher* fetcher,
                               ApplyStats* stats) {
  return applier_->ApplyBatch(batch, fetcher, stats);
}

absl::StatusOr<std::vector<std::string>> SimBlockFetcher::Fetch(
    const std::vector<std::string>& hashes) {
  if (unserving_) {
    return absl::NotFoundError(absl::StrFormat("sender %016x no longer serves these blocks",
                                               sender_->node_id()));
  }
  std::vector<std::string> blocks;
  for (const std::string& hash : hashes) {
    absl::StatusOr<std::optional<std::string>> block =
        ReadLocalBlock(sender_->store(), sender_->root_fd(), hash);
    if (!block.ok()) return block.status();
    if (!block->has_value()) {
      return absl::NotFoundError(absl::StrFormat("sender %016x holds no block %s",
                                                 sender_->node_id(),
                                                 absl::BytesToHexString(hash).substr(0, 12)));
    }
    blocks.push_back(std::move(**block));
  }
  return blocks;
}

absl::StatusOr<std::vector<std::string>> AnyReplicaFetcher::Fetch(
    const std::vector<std::string>& hashes) {
  absl::Status last = absl::NotFoundError("no replica");
  for (SimReplica* replica : replicas_) {
    SimBlockFetcher fetcher(replica);
    absl::StatusOr<std::vector<std::string>> blocks = fetcher.Fetch(hashes);
    if (blocks.ok()) return blocks;
    last = blocks.status();
  }
  return last;
}

}  // namespace replfs::sim
