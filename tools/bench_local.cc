// replfs-bench-local-ops: runs ONE named workload against ONE directory and
// prints one machine-readable line, e.g.
//   workload=seqread_warm seconds=0.530000 rate=1932.1 unit=MiB/s
// tools/bench-local runs it on a native directory and on a replfs mount and
// compares the medians. The program knows nothing about replfs: the same
// code path measures both sides, so the ratio shows the cost of the mount.
//
// Workloads (run in this order; each leaves what the next one needs):
//   seqwrite        write SIZE MiB to bench-big.dat in 1 MiB write() calls
//   seqwrite_fsync  the same, fsync before close (timed)
//   seqread_warm    read bench-big.dat once untimed, then timed
//   seqread_cold    timed read; the caller drops the page cache first
//   randread        4 KiB preads at random aligned offsets, file cached
//   create          FILES files of 4 KiB in DIRS directories (mkdir, open
//                   O_CREAT|O_EXCL, write, close)
//   stat            stat every file (right after create: on FUSE the
//                   kernel has just invalidated what it cached)
//   stat_again      stat every file a second time (attributes cached)
//   readdir         list every directory
//   unlink          unlink every file, then remove the directories
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "storage/unique_fd.h"
#include "tools/bench_flags.h"

namespace replfs {
namespace {

constexpr size_t kMiB = size_t{1} << 20;
constexpr size_t kIoSize = kMiB;          // Sequential read/write call size.
constexpr size_t kRandomReadSize = 4096;  // Random read size and alignment.
constexpr const char* kBigFile = "bench-big.dat";
constexpr const char* kSmallTree = "bench-small";

struct Settings {
  std::string workload;
  std::string dir;
  uint64_t size_mib = 1024;
  uint64_t files = 10000;
  uint64_t dirs = 100;
  uint64_t small_size = 4096;
  uint64_t reads = 100000;
  uint64_t seed = 1;
};

// What a workload did: `amount` units of work in `seconds`.
struct Measurement {
  double seconds = 0;
  double amount = 0;
  const char* unit = "";
};

absl::Status Errno(absl::string_view what) { return absl::ErrnoToStatus(errno, what); }

// Runs `body` and returns its wall-clock time in seconds.
absl::StatusOr<double> Timed(const std::function<absl::Status()>& body) {
  const auto start = std::chrono::steady_clock::now();
  if (absl::Status s = body(); !s.ok()) return s;
  const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
  return elapsed.count();
}

// A buffer of incompressible bytes, so no layer can shortcut zeros.
std::vector<char> PatternBuffer(size_t size, uint64_t seed) {
  std::vector<char> buffer(size);
  std::mt19937_64 random(seed);
  for (size_t i = 0; i + sizeof(uint64_t) <= size; i += sizeof(uint64_t)) {
    const uint64_t word = random();
    std::memcpy(buffer.data() + i, &word, sizeof(word));
  }
  return buffer;
}

absl::Status WriteAll(int fd, const char* data, size_t length) {
  size_t done = 0;
  while (done < length) {
    const ssize_t n = ::write(fd, data + done, length - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errno("write");
    }
    done += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

// close(2) reports deferred write errors (and on FUSE waits for the flush),
// so it is checked and timed rather than left to a destructor.
absl::Status CloseChecked(UniqueFd& fd) {
  if (::close(fd.Release()) != 0) return Errno("close");
  return absl::OkStatus();
}

// Reads `fd` to its end in kIoSize calls; returns the byte count.
absl::StatusOr<uint64_t> ReadToEnd(int fd, std::vector<char>& buffer) {
  uint64_t total = 0;
  for (;;) {
    const ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errno("read");
    }
    if (n == 0) return total;
    total += static_cast<uint64_t>(n);
  }
}

std::string BigPath(const Settings& s) { return absl::StrCat(s.dir, "/", kBigFile); }
std::string SmallDir(const Settings& s, uint64_t d) {
  return absl::StrFormat("%s/%s/d%03d", s.dir, kSmallTree, d);
}
std::string SmallName(uint64_t f) { return absl::StrFormat("f%05d", f); }

absl::StatusOr<Measurement> SequentialWrite(const Settings& s, bool with_fsync) {
  const std::string path = BigPath(s);
  // Start from nothing, with no dirty pages of earlier work pending, so the
  // timed part measures this write alone.
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return Errno("unlink " + path);
  ::sync();
  const std::vector<char> buffer = PatternBuffer(kIoSize, s.seed);
  absl::StatusOr<double> seconds = Timed([&]() -> absl::Status {
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (!fd.valid()) return Errno("open " + path);
    for (uint64_t i = 0; i < s.size_mib * kMiB / kIoSize; ++i) {
      if (absl::Status st = WriteAll(fd.get(), buffer.data(), buffer.size()); !st.ok()) return st;
    }
    if (with_fsync && ::fsync(fd.get()) != 0) return Errno("fsync");
    return CloseChecked(fd);
  });
  if (!seconds.ok()) return seconds.status();
  return Measurement{*seconds, static_cast<double>(s.size_mib), "MiB/s"};
}

absl::StatusOr<Measurement> SequentialRead(const Settings& s, bool warm_first) {
  const std::string path = BigPath(s);
  std::vector<char> buffer(kIoSize);
  if (warm_first) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) return Errno("open " + path);
    if (absl::StatusOr<uint64_t> n = ReadToEnd(fd.get(), buffer); !n.ok()) return n.status();
  }
  uint64_t bytes = 0;
  absl::StatusOr<double> seconds = Timed([&]() -> absl::Status {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) return Errno("open " + path);
    absl::StatusOr<uint64_t> n = ReadToEnd(fd.get(), buffer);
    if (!n.ok()) return n.status();
    bytes = *n;
    return CloseChecked(fd);
  });
  if (!seconds.ok()) return seconds.status();
  if (bytes != s.size_mib * kMiB) {
    return absl::DataLossError(absl::StrCat(path, ": read ", bytes, " bytes, expected ",
                                            s.size_mib * kMiB, " (run seqwrite first)"));
  }
  return Measurement{*seconds, static_cast<double>(bytes) / static_cast<double>(kMiB), "MiB/s"};
}

absl::StatusOr<Measurement> RandomRead(const Settings& s) {
  const std::string path = BigPath(s);
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return Errno("open " + path);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return Errno("fstat " + path);
  const uint64_t blocks = static_cast<uint64_t>(st.st_size) / kRandomReadSize;
  if (blocks == 0) return absl::FailedPreconditionError(path + " is empty (run seqwrite first)");
  // The figure is for cached random reads: bring the whole file in first.
  std::vector<char> buffer(kIoSize);
  if (absl::StatusOr<uint64_t> n = ReadToEnd(fd.get(), buffer); !n.ok()) return n.status();
  std::mt19937_64 random(s.seed);
  std::uniform_int_distribution<uint64_t> pick(0, blocks - 1);
  absl::StatusOr<double> seconds = Timed([&]() -> absl::Status {
    for (uint64_t i = 0; i < s.reads; ++i) {
      const off_t offset = static_cast<off_t>(pick(random) * kRandomReadSize);
      const ssize_t n = ::pread(fd.get(), buffer.data(), kRandomReadSize, offset);
      if (n != static_cast<ssize_t>(kRandomReadSize)) {
        return n < 0 ? Errno("pread") : absl::DataLossError("short pread");
      }
    }
    return absl::OkStatus();
  });
  if (!seconds.ok()) return seconds.status();
  return Measurement{*seconds, static_cast<double>(s.reads), "reads/s"};
}

// Opens every directory of the small-file tree (created by `create`).
absl::StatusOr<std::vector<UniqueFd>> OpenSmallDirs(const Settings& s) {
  std::vector<UniqueFd> dirs;
  for (uint64_t d = 0; d < s.dirs; ++d) {
    const std::string path = SmallDir(s, d);
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd.valid()) return Errno("open " + path + " (run create first)");
    dirs.push_back(std::move(fd));
  }
  return dirs;
}

absl::StatusOr<Measurement> CreateFiles(const Settings& s) {
  const std::string top = absl::StrCat(s.dir, "/", kSmallTree);
  if (::mkdir(top.c_str(), 0755) != 0) {
    return Errno(errno == EEXIST ? top + " exists: left over from an interrupted run?"
                                 : "mkdir " + top);
  }
  const std::vector<char> content = PatternBuffer(s.small_size, s.seed);
  absl::StatusOr<double> seconds = Timed([&]() -> absl::Status {
    std::vector<UniqueFd> dirs;
    for (uint64_t d = 0; d < s.dirs; ++d) {
      const std::string path = SmallDir(s, d);
      if (::mkdir(path.c_str(), 0755) != 0) return Errno("mkdir " + path);
      dirs.emplace_back(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
      if (!dirs.back().valid()) return Errno("open " + path);
    }
    if (dirs.empty()) return absl::InvalidArgumentError("need --dirs >= 1");
    for (uint64_t f = 0; f < s.files; ++f) {
      const std::string name = SmallName(f);
      UniqueFd fd(::openat(dirs[f % dirs.size()].get(), name.c_str(),
                           O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
      if (!fd.valid()) return Errno("create " + name);
      if (absl::Status st = WriteAll(fd.get(), content.data(), content.size()); !st.ok()) {
        return st;
      }
      if (absl::Status st = CloseChecked(fd); !st.ok()) return st;
    }
    return absl::OkStatus();
  });
  if (!seconds.ok()) return seconds.status();
  return Measurement{*seconds, static_cast<double>(s.files), "files/s"};
}

absl::StatusOr<Measurement> StatFiles(const Settings& s) {
  absl::StatusOr<std::vector<UniqueFd>> dirs = OpenSmallDirs(s);
  if (!dirs.ok()) return dirs.status();
  absl::StatusOr<double> seconds = Timed([&]() -> absl::Status {
    for (uint64_t f = 0; f < s.files; ++f) {
      const std::string name = SmallName(f);
      struct stat st;
      if (::fstatat((*dirs)[f % s.dirs].get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        return Errno("stat " + name);
      }
      if (static_cast<uint64_t>(st.st_size) != s.small_size) {
        return absl::DataLossError(absl::StrCat(name, " has size ", st.st_size));
      }
    }
    return absl::OkStatus();
  });
  if (!seconds.ok()) return seconds.status();
  return Measurement{*seconds, static_cast<double>(s.files), "files/s"};
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

absl::StatusOr<Measurement> UnlinkFiles(const Settings& s) {
  absl::StatusOr<std::vector<UniqueFd>> dirs = OpenSmallDirs(s);
  if (!dirs.ok()) return dirs.status();
  absl::StatusOr<double> seconds = Timed([&]() -> absl::Status {
    for (uint64_t f = 0; f < s.files; ++f) {
      const std::string name = SmallName(f);
      if (::unlinkat((*dirs)[f % s.dirs].get(), name.c_str(), 0) != 0) {
        return Errno("unlink " + name);
      }
    }
    return absl::OkStatus();
  });
  if (!seconds.ok()) return seconds.status();
  // Not timed: the figure is for file unlinks. Emptying the tree lets the
  // next repetition start from the same state.
  dirs->clear();
  for (uint64_t d = 0; d < s.dirs; ++d) {
    if (::rmdir(SmallDir(s, d).c_str()) != 0) return Errno("rmdir " + SmallDir(s, d));
  }
  const std::string top = absl::StrCat(s.dir, "/", kSmallTree);
  if (::rmdir(top.c_str()) != 0) return Errno("rmdir " + top);
  return Measurement{*seconds, static_cast<double>(s.files), "files/s"};
}

absl::StatusOr<Measurement> RunWorkload(const Settings& s) {
  if (s.workload == "seqwrite") return SequentialWrite(s, /*with_fsync=*/false);
  if (s.workload == "seqwrite_fsync") return SequentialWrite(s, /*with_fsync=*/true);
  if (s.workload == "seqread_warm") return SequentialRead(s, /*warm_first=*/true);
  if (s.workload == "seqread_cold") return SequentialRead(s, /*warm_first=*/false);
  if (s.workload == "randread") return RandomRead(s);
  if (s.workload == "create") return CreateFiles(s);
  if (s.workload == "stat" || s.workload == "stat_again") return StatFiles(s);
  if (s.workload == "readdir") return ListDirectories(s);
  if (s.workload == "unlink") return UnlinkFiles(s);
  return absl::InvalidArgumentError(absl::StrCat("unknown workload '", s.workload, "'"));
}

constexpr const char* kUsage =
    "usage: replfs-bench-local-ops --workload=NAME --dir=DIR [--size-mib=N] [--files=N]\n"
    "                              [--dirs=N] [--small-size=BYTES] [--reads=N] [--seed=N]\n"
    "workloads: seqwrite seqwrite_fsync seqread_warm seqread_cold randread\n"
    "           create stat stat_again readdir unlink\n"
    "prints: workload=NAME seconds=S rate=R unit=U\n";

absl::StatusOr<Settings> ParseFlags(int argc, char** argv) {
  Settings s;
  const NumberFlag numbers[] = {{"--size-mib=", &s.size_mib}, {"--files=", &s.files},
                                {"--dirs=", &s.dirs},         {"--small-size=", &s.small_size},
                                {"--reads=", &s.reads},       {"--seed=", &s.seed}};
  for (int i = 1; i < argc; ++i) {
    const absl::string_view arg = argv[i];
    absl::string_view rest = arg;
    if (absl::ConsumePrefix(&rest, "--workload=")) {
      s.workload = std::string(rest);
      continue;
    }
    if (absl::ConsumePrefix(&rest, "--dir=")) {
      s.dir = std::string(rest);
      continue;
    }
    absl::StatusOr<bool> matched = ParseNumberFlag(arg, numbers);
    if (!matched.ok()) return matched.status();
    if (!*matched) return absl::InvalidArgumentError(absl::StrCat("unknown argument ", arg));
  }
  if (s.workload.empty() || s.dir.empty()) {
    return absl::InvalidArgumentError("--workload and --dir are required");
  }
  if (s.size_mib == 0 || s.files == 0 || s.dirs == 0 || s.dirs > 1000 || s.files > 100000) {
    return absl::InvalidArgumentError(
        "need --size-mib >= 1, 1 <= --dirs <= 1000, 1 <= --files <= 100000");
  }
  return s;
}

}  // namespace
}  // namespace replfs

int main(int argc, char** argv) {
  absl::StatusOr<replfs::Settings> settings = replfs::ParseFlags(argc, argv);
  if (!settings.ok()) {
    std::fprintf(stderr, "replfs-bench-local-ops: %s\n%s",
                 std::string(settings.status().message()).c_str(), replfs::kUsage);
    return 2;
  }
  absl::StatusOr<replfs::Measurement> m = replfs::RunWorkload(*settings);
  if (!m.ok()) {
    std::fprintf(stderr, "replfs-bench-local-ops: %s: %s\n", settings->workload.c_str(),
                 m.status().ToString().c_str());
    return 1;
  }
  const double rate = m->seconds > 0 ? m->amount / m->seconds : 0;
  std::printf("workload=%s seconds=%.6f rate=%.1f unit=%s\n", settings->workload.c_str(),
              m->seconds, rate, m->unit);
  return 0;
}
