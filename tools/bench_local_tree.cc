// The many-small-files workloads of replfs-bench-local-ops, and the site
// tree that tar_x extracts and rm_rf removes (bench_local.cc says in which
// order they run and what each leaves for the next).
#include <dirent.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "base/unique_fd.h"
#include "tools/bench_local.h"

namespace replfs::bench {
namespace {

constexpr const char* kSmallTree = "bench-small";
constexpr const char* kMkdirTree = "bench-mkdir";
constexpr const char* kSite = "bench-site";
// create names the files f#####; rename turns them into r#####.
constexpr char kCreatedPrefix = 'f';
constexpr char kRenamedPrefix = 'r';

std::string TopDir(const Settings& s, const char* name) { return absl::StrCat(s.dir, "/", name); }
std::string SmallDir(const Settings& s, uint64_t d) {
  return absl::StrFormat("%s/%s/d%03d", s.dir, kSmallTree, d);
}
std::string SmallName(char prefix, uint64_t f) { return absl::StrFormat("%c%05d", prefix, f); }

absl::Status MakeDir(const std::string& path) {
  if (::mkdir(path.c_str(), 0755) == 0) return absl::OkStatus();
  return Errno(errno == EEXIST ? path + " exists: left over from an interrupted run?"
                               : "mkdir " + path);
}

absl::StatusOr<UniqueFd> OpenDir(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return Errno("open " + path);
  return fd;
}

// Opens every directory of the small-file tree (made by `create`).
absl::StatusOr<std::vector<UniqueFd>> OpenSmallDirs(const Settings& s) {
  std::vector<UniqueFd> dirs;
  for (uint64_t d = 0; d < s.dirs; ++d) {
    absl::StatusOr<UniqueFd> fd = OpenDir(SmallDir(s, d));
    if (!fd.ok()) return fd.status();
    dirs.push_back(std::move(*fd));
  }
  return dirs;
}

// Times `op` on every small file in creation order (file f is in directory
// f % dirs); `op` gets the directory's fd and the file's name.
absl::StatusOr<Measurement> ForEachSmallFile(
    const Settings& s, char prefix, const std::function<absl::Status(int, const char*)>& op) {
  absl::StatusOr<std::vector<UniqueFd>> dirs = OpenSmallDirs(s);
  if (!dirs.ok()) return dirs.status();
  std::vector<std::string> names;
  names.reserve(s.files);
  for (uint64_t f = 0; f < s.files; ++f) names.push_back(SmallName(prefix, f));
  absl::StatusOr<double> seconds = Timed([&]() -> absl::Status {
    for (uint64_t f = 0; f < s.files; ++f) {
      if (absl::Status st = op((*dirs)[f % s.dirs].get(), names[f].c_str()); !st.ok()) return st;
    }
    return absl::OkStatus();
  });
  if (!seconds.ok()) return seconds.status();
  return Measurement{*seconds, static_cast<double>(s.files), "files/s"};
}

// Runs a command to its end, its output on our stderr (our stdout is the
// result line). Fails unless it exits 0.
absl::Status RunCommand(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  argv.reserve(args.size() + 1);
  for (const std::string& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, STDERR_FILENO, STDOUT_FILENO);
  pid_t pid;
  const int err = ::posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (err != 0) return absl::ErrnoToStatus(err, "run " + args[0]);
  int status;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return Errno("waitpid");
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return absl::InternalError(
        absl::StrCat("`", absl::StrJoin(args, " "), "` failed (wait status ", status, ")"));
  }
  return absl::OkStatus();
}

// The site tree: `dirs` directories two levels deep, s<NN>/p<NNN>, and
// `files` pages of 1-16 KiB spread over them, all from the seed.
std::string SiteDir(uint64_t d) { return absl::StrFormat("s%02d/p%03d", d / 10, d); }

absl::Status WriteSiteTree(const Settings& s, const std::string& root) {
  ::umask(022);  // 0755 directories and 0644 pages whatever the caller's umask.
  if (absl::Status st = MakeDir(root); !st.ok()) return st;
  for (uint64_t d = 0; d < s.dirs; ++d) {
    if (d % 10 == 0) {
      const std::string section = absl::StrFormat("%s/s%02d", root, d / 10);
      if (absl::Status st = MakeDir(section); !st.ok()) return st;
    }
    if (absl::Status st = MakeDir(absl::StrCat(root, "/", SiteDir(d))); !st.ok()) return st;
  }
  constexpr uint64_t kMinSize = 1024;
  constexpr uint64_t kMaxSize = uint64_t{16} * 1024;
  const std::vector<char> pattern = PatternBuffer(2 * kMaxSize, s.seed);
  std::mt19937_64 random(s.seed);
  std::uniform_int_distribution<uint64_t> pick_size(kMinSize, kMaxSize);
  for (uint64_t f = 0; f < s.files; ++f) {
    const std::string path =
        absl::StrFormat("%s/%s/page%05d.html", root, SiteDir(f % s.dirs), f);
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
    if (!fd.valid()) return Errno("create " + path);
    const size_t size = static_cast<size_t>(pick_size(random));
    // A different slice of the pattern for each page.
    const size_t start = static_cast<size_t>(f * 64 % kMaxSize);
    if (absl::Status st = WriteAll(fd.get(), pattern.data() + start, size); !st.ok()) return st;
    if (absl::Status st = CloseChecked(fd); !st.ok()) return st;
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Measurement> CreateFiles(const Settings& s) {
  if (absl::Status st = MakeDir(TopDir(s, kSmallTree)); !st.ok()) return st;
  for (uint64_t d = 0; d < s.dirs; ++d) {
    if (absl::Status st = MakeDir(SmallDir(s, d)); !st.ok()) return st;
  }
  const std::vector<char> content = PatternBuffer(s.small_size, s.seed);
  return ForEachSmallFile(s, kCreatedPrefix, [&](int dir, const char* name) -> absl::Status {
    UniqueFd fd(::openat(dir, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
    if (!fd.valid()) return Errno(absl::StrCat("create ", name));
    if (absl::Status st = WriteAll(fd.get(), content.data(), content.size()); !st.ok()) return st;
    return CloseChecked(fd);
  });
}

absl::StatusOr<Measurement> StatFiles(const Settings& s) {
  return ForEachSmallFile(s, kCreatedPrefix, [&](int dir, const char* name) -> absl::Status {
    struct stat st;
    if (::fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
      return Errno(absl::StrCat("stat ", name));
    }
    if (static_cast<uint64_t>(st.st_size) != s.small_size) {
      return absl::DataLossError(absl::StrCat(name, " has size ", st.st_size));
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<Measurement> OpenReadFiles(const Settings& s) {
  std::vector<char> buffer(s.small_size + 1);
  return ForEachSmallFile(s, kCreatedPrefix, [&](int dir, const char* name) -> absl::Status {
    UniqueFd fd(::openat(dir, name, O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) return Errno(absl::StrCat("open ", name));
    // One call past the size: a short file shows, and the read sees EOF.
    const ssize_t n = ::read(fd.get(), buffer.data(), buffer.size());
    if (n < 0) return Errno(absl::StrCat("read ", name));
    if (static_cast<uint64_t>(n) != s.small_size) {
      return absl::DataLossError(absl::StrCat(name, ": read ", n, " bytes"));
    }
    return CloseChecked(fd);
  });
}

absl::StatusOr<Measurement> ListDirectories(const Settings& s) {
  uint64_t entries = 0;
  absl::StatusOr<double> seconds = Timed([&]() -> absl::Status {
    for (uint64_t d = 0; d < s.dirs; ++d) {
      const std::string path = SmallDir(s, d);
      DIR* dir = ::opendir(path.c_str());
      if (dir == nullptr) return Errno("opendir " + path + " (run create first)");
      for (;;) {
        errno = 0;
        const dirent* e = ::readdir(dir);
        if (e == nullptr) break;
        if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) ++entries;
      }
      const int err = errno;
      ::closedir(dir);
      if (err != 0) return absl::ErrnoToStatus(err, "readdir " + path);
    }
    return absl::OkStatus();
  });
  if (!seconds.ok()) return seconds.status();
  if (entries != s.files) {
    return absl::DataLossError(absl::StrCat("listed ", entries, " entries, expected ", s.files));
  }
  return Measurement{*seconds, static_cast<double>(entries), "entries/s"};
}

absl::StatusOr<Measurement> ChmodFiles(const Settings& s) {
  return ForEachSmallFile(s, kCreatedPrefix, [](int dir, const char* name) -> absl::Status {
    if (::fchmodat(dir, name, 0600, 0) != 0) return Errno(absl::StrCat("chmod ", name));
    return absl::OkStatus();
  });
}

absl::StatusOr<Measurement> RenameFiles(const Settings& s) {
  return ForEachSmallFile(s, kCreatedPrefix, [](int dir, const char* name) -> absl::Status {
    std::string new_name = name;
    new_name[0] = kRenamedPrefix;
    if (::renameat(dir, name, dir, new_name.c_str()) != 0) {
      return Errno(absl::StrCat("rename ", name));
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<Measurement> UnlinkFiles(const Settings& s) {
  // The names rename left, or create's when rename did not run.
  struct stat st;
  const char prefix =
      ::stat(absl::StrCat(SmallDir(s, 0), "/", SmallName(kRenamedPrefix, 0)).c_str(), &st) == 0
          ? kRenamedPrefix
          : kCreatedPrefix;
  absl::StatusOr<Measurement> m =
      ForEachSmallFile(s, prefix, [](int dir, const char* name) -> absl::Status {
        if (::unlinkat(dir, name, 0) != 0) return Errno(absl::StrCat("unlink ", name));
        return absl::OkStatus();
      });
  if (!m.ok()) return m;
  // Not timed: the figure is for file unlinks. Emptying the tree lets the
  // next repetition start from the same state.
  for (uint64_t d = 0; d < s.dirs; ++d) {
    if (::rmdir(SmallDir(s, d).c_str()) != 0) return Errno("rmdir " + SmallDir(s, d));
  }
  const std::string top = TopDir(s, kSmallTree);
  if (::rmdir(top.c_str()) != 0) return Errno("rmdir " + top);
  return m;
}

absl::StatusOr<Measurement> MakeDirectories(const Settings& s) {
  const std::string top = TopDir(s, kMkdirTree);
  if (absl::Status st = MakeDir(top); !st.ok()) return st;
  std::vector<UniqueFd> parents;
  for (uint64_t d = 0; d < s.dirs; ++d) {
    const std::string path = absl::StrFormat("%s/p%03d", top, d);
    if (absl::Status st = MakeDir(path); !st.ok()) return st;
    absl::StatusOr<UniqueFd> fd = OpenDir(path);
    if (!fd.ok()) return fd.status();
    parents.push_back(std::move(*fd));
  }
  std::vector<std::string> names;
  names.reserve(s.files);
  for (uint64_t f = 0; f < s.files; ++f) names.push_back(absl::StrFormat("m%05d", f));
  absl::StatusOr<double> seconds = Timed([&]() -> absl::Status {
    for (uint64_t f = 0; f < s.files; ++f) {
      if (::mkdirat(parents[f % s.dirs].get(), names[f].c_str(), 0755) != 0) {
        return Errno("mkdir " + names[f]);
      }
    }
    return absl::OkStatus();
  });
  if (!seconds.ok()) return seconds.status();
  // Not timed: everything goes, so the next repetition starts the same.
  for (uint64_t f = 0; f < s.files; ++f) {
    if (::unlinkat(parents[f % s.dirs].get(), names[f].c_str(), AT_REMOVEDIR) != 0) {
      return Errno("rmdir " + names[f]);
    }
  }
  parents.clear();
  for (uint64_t d = 0; d < s.dirs; ++d) {
    const std::string path = absl::StrFormat("%s/p%03d", top, d);
    if (::rmdir(path.c_str()) != 0) return Errno("rmdir " + path);
  }
  if (::rmdir(top.c_str()) != 0) return Errno("rmdir " + top);
  return Measurement{*seconds, static_cast<double>(s.files), "dirs/s"};
}

absl::StatusOr<Measurement> MakeSiteTarball(const Settings& s) {
  const std::string tree = TopDir(s, kSite);
  absl::StatusOr<double> seconds = Timed([&]() -> absl::Status {
    if (absl::Status st = WriteSiteTree(s, tree); !st.ok()) return st;
    // Sorted, so that the same seed makes the same archive.
    if (absl::Status st = RunCommand({"tar", "--sort=name", "-cf", s.tarball, "-C", tree, "."});
        !st.ok()) {
      return st;
    }
    return RunCommand({"rm", "-rf", tree});
  });
  if (!seconds.ok()) return seconds.status();
  return Measurement{*seconds, static_cast<double>(s.files), "files/s"};
}

absl::StatusOr<Measurement> ExtractSite(const Settings& s) {
  // Every side extracts the archive from the page cache, not from disk.
  UniqueFd tarball(::open(s.tarball.c_str(), O_RDONLY | O_CLOEXEC));
  if (!tarball.valid()) return Errno("open " + s.tarball + " (run make_site first)");
  std::vector<char> buffer(size_t{1} << 20);
  if (absl::StatusOr<uint64_t> n = ReadToEnd(tarball.get(), buffer); !n.ok()) return n.status();
  const std::string site = TopDir(s, kSite);
  if (absl::Status st = MakeDir(site); !st.ok()) return st;
  absl::StatusOr<double> seconds =
      Timed([&] { return RunCommand({"tar", "-xf", s.tarball, "-C", site}); });
  if (!seconds.ok()) return seconds.status();
  return Measurement{*seconds, static_cast<double>(s.files), "files/s"};
}

absl::StatusOr<Measurement> RemoveSite(const Settings& s) {
  const std::string site = TopDir(s, kSite);
  struct stat st;
  if (::stat(site.c_str(), &st) != 0) return Errno("stat " + site + " (run tar_x first)");
  absl::StatusOr<double> seconds = Timed([&] { return RunCommand({"rm", "-rf", site}); });
  if (!seconds.ok()) return seconds.status();
  return Measurement{*seconds, static_cast<double>(s.files), "files/s"};
}

}  // namespace replfs::bench
