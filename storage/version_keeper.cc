#include "storage/version_keeper.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <random>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "storage/errno_status.h"
#include "storage/hlc.h"
#include "storage/log.h"
#include "storage/version_records.h"

namespace replfs {
namespace {

int64_t NowMs() { return absl::ToUnixMillis(absl::Now()); }

constexpr int64_t kMsPerDay = int64_t{24} * 3600 * 1000;
// Free space under which kept versions give way: 5 % of the file system,
// at least 8 MiB, at most 1 GiB.
constexpr uint64_t kMinWatermark = 8ull << 20;
constexpr uint64_t kMaxWatermark = 1ull << 30;
// Records dropped per store batch while pruning.
constexpr size_t kDropBatch = 1000;

// The kept time an id starts with ("<ms, 13 digits>-<serial>").
std::optional<int64_t> KeptMsOfId(absl::string_view id) {
  const size_t dash = id.find('-');
  int64_t ms = 0;
  if (dash == absl::string_view::npos || !absl::SimpleAtoi(id.substr(0, dash), &ms)) {
    return std::nullopt;
  }
  return ms;
}

// Copies `size` bytes of `from` into `to` in the kernel (copy_file_range),
// falling back to read/write where that is refused.
absl::Status CopyContent(int from, int to, uint64_t size) {
  off_t in = 0, out = 0;
  uint64_t left = size;
  while (left > 0) {
    const ssize_t n = ::copy_file_range(from, &in, to, &out, left, 0);
    if (n > 0) {
      left -= static_cast<uint64_t>(n);
      continue;
    }
    if (n == 0) return absl::OkStatus();  // The file shrank meanwhile.
    if (errno == EINTR) continue;
    if (errno != EXDEV && errno != EOPNOTSUPP && errno != ENOSYS && errno != EINVAL) {
      return ErrnoStatus(errno, "copy_file_range");
    }
    char buffer[1 << 16];
    while (left > 0) {
      const ssize_t r = ::pread(from, buffer, std::min<uint64_t>(sizeof buffer, left), in);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) return ErrnoStatus(errno, "read");
      if (r == 0) return absl::OkStatus();
      for (ssize_t done = 0; done < r;) {
        const ssize_t w = ::pwrite(to, buffer + done, static_cast<size_t>(r - done), out);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return ErrnoStatus(errno, "write");
        done += w;
        out += w;
      }
      in += r;
      left -= static_cast<uint64_t>(r);
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<VersionKeeper>> VersionKeeper::Open(MetadataStore* store,
                                                                   std::string directory,
                                                                   VersionPolicy policy) {
  if (::mkdir(directory.c_str(), 0700) != 0 && errno != EEXIST) {
    return ErrnoStatus(errno, absl::StrCat("create ", directory));
  }
  UniqueFd dir_fd(::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir_fd.valid()) return ErrnoStatus(errno, absl::StrCat("open ", directory));
  std::unique_ptr<VersionKeeper> keeper(
      new VersionKeeper(store, std::move(directory), std::move(dir_fd), policy));
  if (absl::Status s = keeper->LoadTotals(); !s.ok()) return s;
  return keeper;
}

VersionKeeper::VersionKeeper(MetadataStore* store, std::string directory, UniqueFd dir_fd,
                             VersionPolicy policy)
    : store_(store),
      directory_(std::move(directory)),
      dir_fd_(std::move(dir_fd)),
      next_serial_(std::random_device()()),
      policy_(policy),
      enabled_(policy.keep_days > 0) {}

VersionKeeper::~VersionKeeper() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (pruner_.joinable()) pruner_.join();
}

VersionPolicy VersionKeeper::policy() const {
  absl::MutexLock lock(&mu_);
  return policy_;
}

void VersionKeeper::SetPolicy(const VersionPolicy& policy) {
  absl::MutexLock lock(&mu_);
  policy_ = policy;
  enabled_.store(policy.keep_days > 0, std::memory_order_relaxed);
}

VersionKeeper::Totals VersionKeeper::totals() const {
  absl::MutexLock lock(&mu_);
  return totals_;
}

std::string VersionKeeper::KeptPath(absl::string_view id) const {
  return absl::StrCat(directory_, "/", id);
}

std::string VersionKeeper::NewId(int64_t now_unix_ms) {
  const uint32_t serial = static_cast<uint32_t>(next_serial_.fetch_add(1));
  return absl::StrFormat("%013d-%08x", now_unix_ms, serial);
}

namespace {

// What a version records of the file `st` describes.
void Describe(const struct stat& st, KeptFile* kept) {
  kept->size = static_cast<uint64_t>(st.st_size);
  kept->mode = st.st_mode & 07777;
  kept->mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  kept->symlink = S_ISLNK(st.st_mode);
}

}  // namespace

KeptFile VersionKeeper::PlaceAside(const struct stat& st, absl::string_view what,
                                   const std::function<int(const char* id)>& place) {
  KeptFile kept;
  if (!enabled() || !(S_ISREG(st.st_mode) || S_ISLNK(st.st_mode))) return kept;
  kept.kept_unix_ms = NowMs();
  Describe(st, &kept);
  for (int attempt = 0; attempt < 3; ++attempt) {
    std::string id = NewId(kept.kept_unix_ms);
    if (place(id.c_str()) == 0) {
      kept.id = std::move(id);
      return kept;
    }
    if (errno != EEXIST) break;
  }
  // The caller goes on as usual; the record says the content is gone.
  kept.not_kept_reason = absl::StrCat(what, ": ", std::strerror(errno));
  return kept;
}

KeptFile VersionKeeper::MoveAside(int parent_fd, const char* name, const struct stat& st) {
  return PlaceAside(st, "move aside", [&](const char* id) {
    return ::renameat2(parent_fd, name, dir_fd_.get(), id, RENAME_NOREPLACE);
  });
}

KeptFile VersionKeeper::LinkAside(int parent_fd, const char* name, const struct stat& st) {
  return PlaceAside(st, "link aside", [&](const char* id) {
    return ::linkat(parent_fd, name, dir_fd_.get(), id, 0);
  });
}

KeptFile VersionKeeper::CopyAside(int fd) {
  KeptFile kept;
  if (!enabled()) return kept;
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return kept;
  kept.kept_unix_ms = NowMs();
  kept.size = static_cast<uint64_t>(st.st_size);
  std::string id = NewId(kept.kept_unix_ms);
  UniqueFd copy(::openat(dir_fd_.get(), id.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
                         st.st_mode & 07777));
  if (!copy.valid()) {
    kept.not_kept_reason = absl::StrCat("create copy: ", std::strerror(errno));
    return kept;
  }
  absl::Status copied;
  if (::ioctl(copy.get(), FICLONE, fd) != 0) {
    const uint64_t limit = policy().copy_max_bytes;
    if (kept.size > limit) {
      copied = absl::ResourceExhaustedError(absl::StrCat(
          "cannot clone on this file system and ", kept.size, " bytes is over the copy limit of ",
          limit));
    } else {
      struct statvfs fs;
      const bool room = ::fstatvfs(copy.get(), &fs) == 0 &&
                        static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize > kept.size * 2;
      copied = room ? CopyContent(fd, copy.get(), kept.size)
                    : absl::ResourceExhaustedError("no space for a copy");
    }
  }
  if (copied.ok()) {
    const struct timespec times[2] = {st.st_atim, st.st_mtim};
    ::futimens(copy.get(), times);
    kept.id = std::move(id);
    Describe(st, &kept);
    return kept;
  }
  ::unlinkat(dir_fd_.get(), id.c_str(), 0);
  kept.not_kept_reason = std::string(copied.message());
  return kept;
}

void VersionKeeper::Discard(const KeptFile& kept) {
  if (kept.kept()) ::unlinkat(dir_fd_.get(), kept.id.c_str(), 0);
}

void VersionKeeper::Queue(StoreTransaction& txn, const KeptFile& kept, absl::string_view path,
                          const std::optional<Entry>& before, KeptBecause reason,
                          uint64_t changed_by) {
  if (kept.kept_unix_ms == 0) return;  // Nothing was captured (versions off).
  VersionRecord record;
  record.set_path(std::string(path));
  record.set_id(kept.kept() ? kept.id : NewId(kept.kept_unix_ms));
  record.set_kept_name(kept.id);
  record.set_size(kept.size);
  record.set_mode(kept.mode);
  record.set_mtime_ns(kept.mtime_ns);
  record.set_kept_unix_ms(kept.kept_unix_ms);
  record.set_reason(reason);
  record.set_changed_by(changed_by);
  record.set_not_kept_reason(kept.not_kept_reason);
  record.set_symlink(kept.symlink);
  int64_t began = kept.mtime_ns / 1000000;
  const Kind kind_before = before.has_value() ? before->content().kind() : KIND_UNSPECIFIED;
  if (kind_before == KIND_FILE || kind_before == KIND_SYMLINK) {
    *record.mutable_version() = before->content().version();
    began = static_cast<int64_t>(HybridLogicalClock::WallMs(before->content().version().hlc()));
  }
  // A version cannot have begun after it was kept (clocks of two nodes).
  record.set_began_unix_ms(std::min(began, kept.kept_unix_ms));
  VersionRecords::Put(txn, record);
  txn.OnCommit([this, kept_a_file = kept.kept(), size = kept.size] {
    absl::MutexLock lock(&mu_);
    if (kept_a_file) {
      ++totals_.kept;
      totals_.bytes += size;
    } else {
      ++totals_.not_kept;
    }
  });
}

absl::Status VersionKeeper::Record(const KeptFile& kept, absl::string_view path,
                                   KeptBecause reason, uint64_t changed_by) {
  if (kept.kept_unix_ms == 0) return absl::OkStatus();
  absl::Status recorded = store_->Transact([&](StoreTransaction& txn) -> absl::Status {
    absl::StatusOr<std::optional<Entry>> before = txn.Get(path);
    if (!before.ok()) return before.status();
    Queue(txn, kept, path, *before, reason, changed_by);
    return absl::OkStatus();
  });
  if (!recorded.ok()) Discard(kept);
  return recorded;
}

absl::StatusOr<bool> VersionKeeper::NamesAKeptFile(const VersionRecords::Aged& aged) const {
  bool names_a_file = false;
  absl::Status scanned = VersionRecords(*store_).Scan(
      aged.path, /*subtree=*/false, "", [&](const VersionRecord& record, absl::string_view) {
        if (record.id() != aged.id) return true;
        names_a_file = !record.kept_name().empty();
        return false;
      });
  if (!scanned.ok()) return scanned;
  return names_a_file;
}

absl::Status VersionKeeper::LoadTotals() {
  Totals totals;
  std::vector<VersionRecords::Aged> fileless;
  absl::Status looked_up;
  absl::Status scanned = VersionRecords(*store_).ScanOldest([&](const VersionRecords::Aged& aged) {
    // A record of a change whose content was not kept names no file.
    struct stat st;
    if (::fstatat(dir_fd_.get(), aged.id.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
      ++totals.kept;
      totals.bytes += aged.size;
      return true;
    }
    absl::StatusOr<bool> names_a_file = NamesAKeptFile(aged);
    if (!names_a_file.ok()) {
      looked_up = names_a_file.status();
      return false;
    }
    if (*names_a_file) {
      fileless.push_back(aged);
    } else {
      ++totals.not_kept;
    }
    return true;
  });
  if (!scanned.ok()) return scanned;
  if (!looked_up.ok()) return looked_up;
  {
    absl::MutexLock lock(&mu_);
    totals_ = totals;
  }
  if (fileless.empty()) return absl::OkStatus();
  // A crash between a files-first drop's unlinks and its records' deletion:
  // finish the drop, or a restore would offer what is gone. On the full
  // disk that crash is likely on, the store may refuse even a deletion:
  // the pruner's next round retries it.
  absl::MutexLock prune(&prune_mu_);
  files_gone_ = std::move(fileless);
  const size_t count = files_gone_.size();
  absl::StatusOr<uint64_t> dropped = DropWhile([](const DropState&) { return false; });
  if (dropped.ok()) {
    LogInfo(absl::StrCat("versions: dropped ", count, " records whose kept files were removed"));
  } else {
    LogWarning(absl::StrCat("versions: ", count, " records whose kept files were removed ",
                            "stay until the store has room: ", dropped.status().ToString()));
  }
  return absl::OkStatus();
}

uint64_t VersionKeeper::SpaceShortfall(uint64_t bytes_needed) const {
  struct statvfs fs;
  if (::fstatvfs(dir_fd_.get(), &fs) != 0) return 0;
  const uint64_t capacity = static_cast<uint64_t>(fs.f_blocks) * fs.f_frsize;
  const uint64_t free_bytes = static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize;
  const uint64_t wanted = std::clamp(capacity / 20, kMinWatermark, kMaxWatermark) + bytes_needed;
  return free_bytes < wanted ? wanted - free_bytes : 0;
}

void VersionKeeper::RemoveKeptFiles(const std::vector<VersionRecords::Aged>& victims) {
  for (const VersionRecords::Aged& aged : victims) {
    const bool had_file = ::unlinkat(dir_fd_.get(), aged.id.c_str(), 0) == 0;
    absl::MutexLock lock(&mu_);
    if (had_file) {
      totals_.kept -= std::min<uint64_t>(totals_.kept, 1);
      totals_.bytes -= std::min(totals_.bytes, aged.size);
    } else {
      totals_.not_kept -= std::min<uint64_t>(totals_.not_kept, 1);
    }
  }
}

absl::StatusOr<uint64_t> VersionKeeper::DropWhile(const DropTest& more, uint64_t bytes_needed,
                                                  DropOrder order) {
  uint64_t dropped = 0;
  for (;;) {
    // Copied: the callbacks run under prune_mu_ too, but the analysis does
    // not follow the lock into them.
    std::vector<std::string> gone_ids;
    for (const VersionRecords::Aged& aged : files_gone_) gone_ids.push_back(aged.id);
    const auto files_gone = [&gone_ids](const VersionRecords::Aged& aged) {
      return std::find(gone_ids.begin(), gone_ids.end(), aged.id) != gone_ids.end();
    };
    std::vector<VersionRecords::Aged> victims;
    DropState state;
    state.bytes_left = totals().bytes;
    state.shortfall = SpaceShortfall(bytes_needed);
    absl::Status scanned =
        VersionRecords(*store_).ScanOldest([&](const VersionRecords::Aged& aged) {
          if (files_gone(aged)) return true;  // Its space is free already.
          state.kept_unix_ms = aged.kept_unix_ms;
          if (!more(state)) return false;
          state.bytes_left -= std::min(state.bytes_left, aged.size);
          state.freed += aged.size;
          victims.push_back(aged);
          return victims.size() < kDropBatch;
        });
    if (!scanned.ok()) return scanned;
    if (victims.empty() && files_gone_.empty()) return dropped;
    if (order == DropOrder::kFilesFirst) {
      RemoveKeptFiles(victims);
      files_gone_.insert(files_gone_.end(), victims.begin(), victims.end());
    }
    std::vector<VersionRecords::Aged> deleted = files_gone_;
    if (order == DropOrder::kRecordsFirst) {
      deleted.insert(deleted.end(), victims.begin(), victims.end());
    }
    absl::Status committed = store_->Transact([&](StoreTransaction& txn) {
      for (const VersionRecords::Aged& aged : deleted) VersionRecords::Delete(txn, aged);
      return absl::OkStatus();
    });
    if (!committed.ok()) {
      // The files are gone all the same: the space a write needed is free.
      if (order == DropOrder::kFilesFirst) return dropped + victims.size();
      return committed;
    }
    files_gone_.clear();
    if (order == DropOrder::kRecordsFirst) RemoveKeptFiles(victims);
    dropped += victims.size();
    if (victims.size() < kDropBatch) return dropped;
  }
}

absl::StatusOr<uint64_t> VersionKeeper::Prune(int64_t now_unix_ms) {
  absl::MutexLock prune(&prune_mu_);
  const VersionPolicy current = policy();
  // keep_days 0 drops every version kept before versions were turned off.
  const int64_t oldest_kept = now_unix_ms - static_cast<int64_t>(current.keep_days) * kMsPerDay;
  absl::StatusOr<uint64_t> aged =
      DropWhile([&](const DropState& state) { return state.kept_unix_ms < oldest_kept; });
  if (!aged.ok()) return aged.status();
  absl::StatusOr<uint64_t> capped = DropWhile([&](const DropState& state) {
    return (current.max_bytes > 0 && state.bytes_left > current.max_bytes) ||
           state.freed < state.shortfall;
  });
  if (!capped.ok()) return capped.status();
  return *aged + *capped;
}

bool VersionKeeper::MakeRoom(uint64_t bytes_needed) {
  absl::MutexLock prune(&prune_mu_);
  absl::StatusOr<uint64_t> dropped = DropWhile(
      [](const DropState& state) { return state.freed < state.shortfall; }, bytes_needed,
      DropOrder::kFilesFirst);
  if (!dropped.ok()) {
    LogError(absl::StrCat("versions: making room: ", dropped.status().ToString()));
  }
  struct statvfs fs;
  return ::fstatvfs(dir_fd_.get(), &fs) == 0 &&
         static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize >= bytes_needed;
}

absl::StatusOr<uint64_t> VersionKeeper::SweepUnrecorded() {
  absl::MutexLock prune(&prune_mu_);
  UniqueFd listing(::openat(dir_fd_.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!listing.valid()) return ErrnoStatus(errno, "open versions");
  DIR* dir = ::fdopendir(listing.get());
  if (dir == nullptr) return ErrnoStatus(errno, "read versions");
  listing.Release();  // closedir closes it.
  std::unique_ptr<DIR, int (*)(DIR*)> closer(dir, ::closedir);
  // Collected first: unlinking while reading a directory may skip names.
  std::vector<std::string> unrecorded;
  VersionRecords records(*store_);
  while (const dirent* d = ::readdir(dir)) {
    const absl::string_view name = d->d_name;
    if (name == "." || name == "..") continue;
    const std::optional<int64_t> kept_ms = KeptMsOfId(name);
    if (kept_ms.has_value()) {
      absl::StatusOr<bool> held = records.Holds(*kept_ms, name);
      if (!held.ok()) return held.status();
      if (*held) continue;
    }
    unrecorded.emplace_back(name);
  }
  for (const std::string& name : unrecorded) ::unlinkat(dir_fd_.get(), name.c_str(), 0);
  return unrecorded.size();
}

void VersionKeeper::StartPruner(absl::Duration period) {
  pruner_ = std::thread([this, period] { PrunerLoop(period); });
}

void VersionKeeper::PrunerLoop(absl::Duration period) {
  if (absl::StatusOr<uint64_t> swept = SweepUnrecorded(); !swept.ok()) {
    LogError(absl::StrCat("versions: sweeping unrecorded files: ", swept.status().ToString()));
  } else if (*swept > 0) {
    LogInfo(absl::StrCat("versions: removed ", *swept, " files no record names"));
  }
  // Each round is cheap when there is nothing to drop: the age index's
  // first key, the totals and one statvfs.
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      if (mu_.AwaitWithTimeout(absl::Condition(&stopping_), period)) return;
    }
    absl::StatusOr<uint64_t> dropped = Prune(NowMs());
    if (!dropped.ok()) LogError(absl::StrCat("versions: pruning: ", dropped.status().ToString()));
  }
}

}  // namespace replfs
