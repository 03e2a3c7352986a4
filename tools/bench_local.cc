// replfs-bench-local-ops: runs ONE named workload against ONE directory and
// prints one machine-readable line, e.g.
//   workload=seqread_warm seconds=0.530000 rate=1932.1 unit=MiB/s
// tools/bench-local runs it on a native directory, on a replfs mount and on
// a replfs-floor mount, and compares the medians. The program knows nothing
// about either daemon: the same code path measures every side, so the
// ratios show the cost of each mount.
//
// Workloads (run in this order; each leaves what the next one needs):
//   seqwrite        write SIZE MiB to bench-big.dat in 1 MiB write() calls
//   seqwrite_fsync  the same, fsync before close (timed)
//   seqread_warm    read bench-big.dat once untimed, then timed
//   seqread_cold    timed read; the caller drops the page cache first
//   mmap_read       read bench-big.dat once untimed, then timed through a
//                   shared read-only mapping (as Apache's EnableMMAP)
//   randread        4 KiB preads at random aligned offsets, file cached
//   create          FILES files of 4 KiB in DIRS directories (open
//                   O_CREAT|O_EXCL, write, close; the directories untimed)
//   stat            stat every file (right after create: on FUSE the
//                   kernel has just invalidated what it cached)
//   stat_again      stat every file a second time (attributes cached)
//   open_read       open, read 4 KiB, close every file
//   readdir         list every directory
//   chmod           chmod every file to 0600
//   rename          rename every file within its directory
//   unlink          unlink every file (the directories go untimed)
//   mkdir           FILES directories in DIRS directories (the parents
//                   untimed; everything removed untimed after)
//   tar_x           `tar -xf TARBALL` into bench-site (the tarball read
//                   once untimed first, so that it comes from the cache)
//   rm_rf           `rm -rf bench-site`
// and, once before all of them, in a directory of its own:
//   make_site       writes TARBALL: FILES files of 1-16 KiB in DIRS
//                   directories of a two-level site tree, deterministic

#include "tools/bench_local.h"

#include <fcntl.h>
#include <sys/mman.h>
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
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "base/unique_fd.h"
#include "tools/bench_flags.h"

namespace replfs::bench {

absl::StatusOr<double> Timed(const std::function<absl::Status()>& body) {
  const auto start = std::chrono::steady_clock::now();
  if (absl::Status s = body(); !s.ok()) return s;
  const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
  return elapsed.count();
}

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

absl::Status CloseChecked(UniqueFd& fd) {
  if (::close(fd.Release()) != 0) return Errno("close");
  return absl::OkStatus();
}

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

namespace {

constexpr size_t kMiB = size_t{1} << 20;
constexpr size_t kIoSize = kMiB;          // Sequential read/write call size.
constexpr size_t kRandomReadSize = 4096;  // Random read size and alignment.
constexpr const char* kBigFile = "bench-big.dat";

std::string BigPath(const Settings& s) { return absl::StrCat(s.dir, "/", kBigFile); }

absl::Status CheckBigSize(const Settings& s, uint64_t bytes) {
  if (bytes == s.size_mib * kMiB) return absl::OkStatus();
  return absl::DataLossError(absl::StrCat(BigPath(s), ": ", bytes, " bytes, expected ",
                                          s.size_mib * kMiB, " (run seqwrite first)"));
}

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

// Reads the big file once, untimed, so that a timed read finds it cached.
absl::Status WarmBigFile(const Settings& s) {
  const std::string path = BigPath(s);
  std::vector<char> buffer(kIoSize);
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return Errno("open " + path);
  absl::StatusOr<uint64_t> n = ReadToEnd(fd.get(), buffer);
  return n.ok() ? CheckBigSize(s, *n) : n.status();
}

absl::StatusOr<Measurement> SequentialRead(const Settings& s, bool warm_first) {
  const std::string path = BigPath(s);
  if (warm_first) {
    if (absl::Status st = WarmBigFile(s); !st.ok()) return st;
  }
  std::vector<char> buffer(kIoSize);
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
  if (absl::Status st = CheckBigSize(s, bytes); !st.ok()) return st;
  return Measurement{*seconds, static_cast<double>(bytes) / static_cast<double>(kMiB), "MiB/s"};
}

// Copies the whole file out of a fresh mapping, 1 MiB at a time, the way a
// web server with EnableMMAP hands a mapped file to the socket: every page
// is faulted in through the mount and every byte read.
absl::StatusOr<Measurement> MmapRead(const Settings& s) {
  if (absl::Status st = WarmBigFile(s); !st.ok()) return st;
  const std::string path = BigPath(s);
  const size_t length = s.size_mib * kMiB;
  std::vector<char> buffer(kIoSize);
  absl::StatusOr<double> seconds = Timed([&]() -> absl::Status {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) return Errno("open " + path);
    void* mapping = ::mmap(nullptr, length, PROT_READ, MAP_SHARED, fd.get(), 0);
    if (mapping == MAP_FAILED) return Errno("mmap " + path);
    const char* bytes = static_cast<const char*>(mapping);
    for (size_t offset = 0; offset < length; offset += kIoSize) {
      std::memcpy(buffer.data(), bytes + offset, kIoSize);
      // Nothing reads the copy: tell the compiler it may be read, so that
      // it cannot drop it.
      asm volatile("" : : "r"(buffer.data()) : "memory");
    }
    if (::munmap(mapping, length) != 0) return Errno("munmap");
    return CloseChecked(fd);
  });
  if (!seconds.ok()) return seconds.status();
  return Measurement{*seconds, static_cast<double>(s.size_mib), "MiB/s"};
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

absl::StatusOr<Measurement> RunWorkload(const Settings& s) {
  const absl::string_view w = s.workload;
  if (w == "seqwrite") return SequentialWrite(s, /*with_fsync=*/false);
  if (w == "seqwrite_fsync") return SequentialWrite(s, /*with_fsync=*/true);
  if (w == "seqread_warm") return SequentialRead(s, /*warm_first=*/true);
  if (w == "seqread_cold") return SequentialRead(s, /*warm_first=*/false);
  if (w == "mmap_read") return MmapRead(s);
  if (w == "randread") return RandomRead(s);
  if (w == "create") return CreateFiles(s);
  if (w == "stat" || w == "stat_again") return StatFiles(s);
  if (w == "open_read") return OpenReadFiles(s);
  if (w == "readdir") return ListDirectories(s);
  if (w == "chmod") return ChmodFiles(s);
  if (w == "rename") return RenameFiles(s);
  if (w == "unlink") return UnlinkFiles(s);
  if (w == "mkdir") return MakeDirectories(s);
  if (w == "make_site") return MakeSiteTarball(s);
  if (w == "tar_x") return ExtractSite(s);
  if (w == "rm_rf") return RemoveSite(s);
  return absl::InvalidArgumentError(absl::StrCat("unknown workload '", s.workload, "'"));
}

constexpr const char* kUsage =
    "usage: replfs-bench-local-ops --workload=NAME --dir=DIR [--size-mib=N] [--files=N]\n"
    "                              [--dirs=N] [--small-size=BYTES] [--reads=N] [--seed=N]\n"
    "                              [--tarball=FILE]\n"
    "workloads: seqwrite seqwrite_fsync seqread_warm seqread_cold mmap_read randread\n"
    "           create stat stat_again open_read readdir chmod rename unlink mkdir\n"
    "           make_site tar_x rm_rf (the last three need --tarball)\n"
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
    if (absl::ConsumePrefix(&rest, "--tarball=")) {
      s.tarball = std::string(rest);
      continue;
    }
    absl::StatusOr<bool> matched = ParseNumberFlag(arg, numbers);
    if (!matched.ok()) return matched.status();
    if (!*matched) return absl::InvalidArgumentError(absl::StrCat("unknown argument ", arg));
  }
  if (s.workload.empty() || s.dir.empty()) {
    return absl::InvalidArgumentError("--workload and --dir are required");
  }
  if ((s.workload == "make_site" || s.workload == "tar_x") && s.tarball.empty()) {
    return absl::InvalidArgumentError(s.workload + " needs --tarball");
  }
  if (s.size_mib == 0 || s.files == 0 || s.dirs == 0 || s.dirs > 1000 || s.files > 100000 ||
      s.small_size == 0) {
    return absl::InvalidArgumentError(
        "need --size-mib >= 1, --small-size >= 1, 1 <= --dirs <= 1000, 1 <= --files <= 100000");
  }
  return s;
}

}  // namespace
}  // namespace replfs::bench

int main(int argc, char** argv) {
  absl::StatusOr<replfs::bench::Settings> settings = replfs::bench::ParseFlags(argc, argv);
  if (!settings.ok()) {
    std::fprintf(stderr, "replfs-bench-local-ops: %s\n%s",
                 std::string(settings.status().message()).c_str(), replfs::bench::kUsage);
    return 2;
  }
  absl::StatusOr<replfs::bench::Measurement> m = replfs::bench::RunWorkload(*settings);
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
