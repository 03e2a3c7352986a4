#include "storage/startup_scan.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/unique_fd.h"
#include "storage/beneath.h"
#include "storage/hlc.h"
#include "storage/object_observer.h"

namespace replfs {
namespace {

// Whether `path` (relative to `root_fd`) still names an object that
// replicates. Resolution never follows a symlink (not even in a middle
// component, RESOLVE_NO_SYMLINKS) and never leaves the root: when a recorded
// directory became a file, a symlink or vanished, the paths recorded beneath
// it are gone even if the same names resolve somewhere else now. A socket or
// device now at the path does not replicate either, so it counts as gone.
absl::StatusOr<bool> StillReplicable(int root_fd, const std::string& path) {
  open_how how{};
  how.flags = O_PATH | O_NOFOLLOW | O_CLOEXEC;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS;
  UniqueFd fd(static_cast<int>(::syscall(SYS_openat2, root_fd, path.c_str(), &how, sizeof(how))));
  if (!fd.valid()) {
    if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP || errno == EXDEV) return false;
    return absl::ErrnoToStatus(errno, absl::StrCat("open ", path));
  }
  struct stat st;
  if (::fstatat(fd.get(), "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("stat ", path));
  }
  return S_ISREG(st.st_mode) || S_ISDIR(st.st_mode) || S_ISLNK(st.st_mode) ||
         S_ISFIFO(st.st_mode);
}

bool SameLocalStat(const LocalStat& a, const LocalStat& b) {
  return a.ino() == b.ino() && a.size() == b.size() && a.mtime_ns() == b.mtime_ns() &&
         a.ctime_ns() == b.ctime_ns();
}

class Scanner {
 public:
  Scanner(int root_fd, std::string hidden_name, MetadataStore* store, ChangeRecorder* recorder,
          bool rebuilding)
      : root_fd_(root_fd), hidden_name_(std::move(hidden_name)), store_(store),
        recorder_(recorder), rebuilding_(rebuilding) {}

  absl::Status WalkDirectory(int dir_fd, const std::string& dir_path) {
    UniqueFd listing_fd(::openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!listing_fd.valid()) return absl::ErrnoToStatus(errno, absl::StrCat("open ", dir_path));
    DIR* dir = ::fdopendir(listing_fd.get());
    if (dir == nullptr) return absl::ErrnoToStatus(errno, "fdopendir");
    listing_fd.Release();  // Owned by `dir` now.
    absl::Status status;
    while (status.ok()) {
      errno = 0;
      struct dirent* d = ::readdir(dir);
      if (d == nullptr) {
        if (errno != 0) status = absl::ErrnoToStatus(errno, "readdir");
        break;
      }
      const absl::string_view name(d->d_name);
      if (name == "." || name == "..") continue;
      if (dir_path.empty() && !hidden_name_.empty() && name == hidden_name_) continue;
      const std::string path = dir_path.empty() ? std::string(name) : absl::StrCat(dir_path, "/", name);
      status = VisitObject(::dirfd(dir), d->d_name, path);
    }
    ::closedir(dir);
    return status;
  }

  absl::Status RemoveVanished() {
    std::vector<std::string> gone;
    // Collect in bounded chunks so memory stays bounded by the chunk, not the tree.
    constexpr size_t kChunk = 4096;
    std::string resume;
    for (;;) {
      gone.clear();
      std::string last;
      size_t visited = 0;
      absl::Status check;
      absl::Status s = store_->ScanEntries("", [&](const Entry& e) {
        last = e.path();
        ++visited;
        // An ignored path's entry keeps its last replicated state, even
        // when the object is gone here.
        if (e.content().kind() != KIND_TOMBSTONE &&
            !recorder_->Ignored(e.path(), e.content().kind() == KIND_DIR)) {
          absl::StatusOr<bool> present = StillReplicable(root_fd_, e.path());
          if (!present.ok()) {
            check = present.status();
            return false;
          }
          if (!*present) gone.push_back(e.path());
        }
        return visited < kChunk;
      }, resume);
      if (!s.ok()) return s;
      if (!check.ok()) return check;
      for (const std::string& path : gone) {
        if (absl::Status d = recorder_->RecordDelete(path); !d.ok()) return d;
        ++report_.deleted;
      }
      if (visited < kChunk) return absl::OkStatus();
      resume = last;
    }
  }

  // Visits the object at `path` (and what is beneath it): records what the
  // store lacks or holds differently.
  absl::Status VisitPath(const std::string& path) {
    std::string name;
    absl::StatusOr<UniqueFd> parent = OpenParentBeneath(root_fd_, path, /*create=*/false, &name);
    // Gone already, or no longer beneath directories: nothing to record.
    if (absl::IsNotFound(parent.status()) || absl::IsFailedPrecondition(parent.status())) {
      return absl::OkStatus();
    }
    if (!parent.ok()) return parent.status();
    return VisitObject(parent->get(), name.c_str(), path);
  }

  const ScanReport& report() const { return report_; }

 private:
  absl::Status VisitObject(int dir_fd, const char* name, const std::string& path) {
    ++report_.objects_seen;
    struct stat st;
    if (::fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno == ENOENT) return absl::OkStatus();  // Raced with a delete.
      return absl::ErrnoToStatus(errno, absl::StrCat("stat ", path));
    }
    if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode) && !S_ISLNK(st.st_mode) &&
        !S_ISFIFO(st.st_mode)) {
      ++report_.skipped;
      return absl::OkStatus();
    }
    // Local to this replica, and so is everything beneath it.
    if (recorder_->Ignored(path, S_ISDIR(st.st_mode))) {
      ++report_.ignored;
      return absl::OkStatus();
    }
    absl::StatusOr<std::optional<Entry>> entry = store_->Get(path);
    if (!entry.ok()) return entry.status();
    const bool known = entry->has_value() && (*entry)->content().kind() != KIND_TOMBSTONE;
    // A directory a peer deleted stays while ignored objects are inside
    // (RemoteApplier); recording it again would send it back, empty.
    if (S_ISDIR(st.st_mode) && entry->has_value() && !known && recorder_->ignores_anything()) {
      absl::StatusOr<bool> kept = HoldsOnlyIgnored(dir_fd, name, path);
      if (!kept.ok()) return kept.status();
      if (*kept) {
        ++report_.kept_for_ignored;
        return absl::OkStatus();
      }
    }
    // Directories are always re-observed (cheap: attributes only); other
    // objects only when their local stat moved.
    if (!known || S_ISDIR(st.st_mode) ||
        !SameLocalStat((*entry)->local_stat(), LocalStatOf(st))) {
      if (!S_ISDIR(st.st_mode)) ++report_.rehashed;
      absl::StatusOr<ObservedObject> observed = ObserveAt(dir_fd, name, nullptr, nullptr);
      if (!observed.ok()) {
        if (absl::IsNotFound(observed.status())) return absl::OkStatus();
        return observed.status();
      }
      std::optional<uint64_t> hlc;
      if (rebuilding_) {
        // Directories date from the beginning of time: any peer's version
        // of them wins. Files and symlinks from their mtime.
        const uint64_t mtime_ms =
            S_ISDIR(st.st_mode) ? 1
                                : static_cast<uint64_t>(observed->content.mtime_ns() / 1000000);
        hlc = HybridLogicalClock::Pack(std::max<uint64_t>(mtime_ms, 1), 0);
      }
      absl::StatusOr<bool> committed = recorder_->RecordObject(path, *observed, hlc);
      if (!committed.ok()) return committed.status();
      if (*committed) ++report_.committed;
    }
    if (S_ISDIR(st.st_mode)) {
      UniqueFd child(::openat(dir_fd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!child.valid()) return absl::ErrnoToStatus(errno, absl::StrCat("open ", path));
      return WalkDirectory(child.get(), path);
    }
    return absl::OkStatus();
  }

  // Whether the directory `name` in `dir_fd` holds ignored objects and
  // nothing else, in directories of its own that hold only those too.
  absl::StatusOr<bool> HoldsOnlyIgnored(int dir_fd, const char* name, const std::string& path) {
    UniqueFd listing_fd(
        ::openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!listing_fd.valid()) {
      if (errno == ENOENT) return false;  // Raced with a delete.
      return absl::ErrnoToStatus(errno, absl::StrCat("open ", path));
    }
    DIR* dir = ::fdopendir(listing_fd.get());
    if (dir == nullptr) return absl::ErrnoToStatus(errno, "fdopendir");
    listing_fd.Release();  // Owned by `dir` now.
    absl::StatusOr<bool> only_ignored = false;
    for (;;) {
      errno = 0;
      struct dirent* d = ::readdir(dir);
      if (d == nullptr) {
        if (errno != 0) only_ignored = absl::ErrnoToStatus(errno, "readdir");
        break;
      }
      const absl::string_view child(d->d_name);
      if (child == "." || child == "..") continue;
      const std::string child_path = absl::StrCat(path, "/", child);
      struct stat st;
      if (::fstatat(::dirfd(dir), d->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT) continue;
        only_ignored = absl::ErrnoToStatus(errno, absl::StrCat("stat ", child_path));
        break;
      }
      if (recorder_->Ignored(child_path, S_ISDIR(st.st_mode))) {
        only_ignored = true;
        continue;
      }
      if (S_ISDIR(st.st_mode)) {
        only_ignored = HoldsOnlyIgnored(::dirfd(dir), d->d_name, child_path);
        if (only_ignored.ok() && *only_ignored) continue;
      } else {
        only_ignored = false;
      }
      break;
    }
    ::closedir(dir);
    return only_ignored;
  }

  int root_fd_;
  std::string hidden_name_;
  MetadataStore* store_;
  ChangeRecorder* recorder_;
  bool rebuilding_;
  ScanReport report_;
};

}  // namespace

absl::StatusOr<ScanReport> ScanBackingDirectory(int root_fd, const std::string& hidden_name,
                                                MetadataStore* store, ChangeRecorder* recorder,
                                                bool rebuilding) {
  Scanner scanner(root_fd, hidden_name, store, recorder, rebuilding);
  if (absl::Status s = scanner.WalkDirectory(root_fd, ""); !s.ok()) return s;
  if (absl::Status s = scanner.RemoveVanished(); !s.ok()) return s;
  return scanner.report();
}

absl::StatusOr<ScanReport> ScanSubtree(int root_fd, const std::string& path,
                                       MetadataStore* store, ChangeRecorder* recorder) {
  Scanner scanner(root_fd, /*hidden_name=*/"", store, recorder, /*rebuilding=*/false);
  if (absl::Status s = scanner.VisitPath(path); !s.ok()) return s;
  return scanner.report();
}

}  // namespace replfs
