// replfs-bench-replication: measures how fast changes made through one
// replica's mount become visible through another's, the way a user sees
// them: by writing on mount A and reading on mount B. tools/bench-replication
// starts the replicas, runs this once per repetition and reports medians.
// One run prints one machine-readable line per workload, e.g.
//   workload=lag n=200 p50_ms=1.9 p95_ms=3.1 p99_ms=4.0 max_ms=5.2
//
// Workloads (in this order; all but burst clean up after themselves):
//   lag     FILES files of 4 KiB, one at a time: write and close on A, then
//           poll B until the file is there with its full content. The
//           figure is close() returning on A -> content read back on B.
//   delete  unlink each of those files on A, poll B until the name is gone.
//   burst   BURST files of 4 KiB written on A as fast as it takes them (in
//           100 directories under bench-burst-SEED, left in place); seconds
//           from the first create on A until the last file is readable on
//           B; then every file's content on B is compared with what was
//           written (not timed).
//   rename  the burst tree (made first, untimed, when burst did not run)
//           renamed on A as one directory: seconds from rename() on A until
//           B shows every file under the new name and the old name gone;
//           then every file's content on B is compared (not timed). Left
//           in place as bench-moved-SEED.
//   big     one file of BIG MiB written on A (1 MiB writes, distinct
//           content per MiB); seconds from close() on A until B shows the
//           whole file; then its SHA-256 on B is compared (not timed).
//   fsync   no replica: FILES new 4 KiB files written and fsynced in
//           --fsync-dir (on the backing file system), one every 5 ms as
//           lag's changes arrive: what the disk alone costs each apply.
//
// Polling B costs little: a name B has looked up and not found is cached as
// a negative entry, and replfs drops exactly that entry when the file
// arrives, so most polls never leave the kernel.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "base/unique_fd.h"
#include "storage/content_hasher.h"
#include "tools/bench_flags.h"

namespace replfs {
namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kMiB = size_t{1} << 20;
constexpr size_t kSmallFile = 4096;
constexpr uint64_t kBurstDirs = 100;

struct Settings {
  std::string mount_a;
  std::string mount_b;
  std::string workloads = "lag,delete,burst,big";
  uint64_t files = 200;
  uint64_t burst = 10000;
  uint64_t big_mib = 1024;
  uint64_t seed = 1;
  double timeout_seconds = 300;  // Per file (lag, delete) or per workload.
  std::string fsync_dir;  // fsync: a directory on the backing file system.
};

absl::Status Errno(absl::string_view what) { return absl::ErrnoToStatus(errno, what); }

double MillisSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// Distinct, incompressible content for (seed, index): no two files or MiB
// blocks share content, so nothing is found locally by hash by accident.
std::string Pattern(size_t size, uint64_t seed, uint64_t index) {
  std::string out(size, '\0');
  std::mt19937_64 random(seed * 0x9e3779b97f4a7c15ULL + index);
  for (size_t i = 0; i + sizeof(uint64_t) <= size; i += sizeof(uint64_t)) {
    const uint64_t word = random();
    std::memcpy(out.data() + i, &word, sizeof(word));
  }
  return out;
}

absl::Status WriteAll(int fd, absl::string_view data) {
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errno("write");
    }
    done += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

// Creates `path` with `content`; returns once close() has returned.
absl::Status CreateFile(const std::string& path, absl::string_view content) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (!fd.valid()) return Errno("create " + path);
  if (absl::Status s = WriteAll(fd.get(), content); !s.ok()) return s;
  if (::close(fd.Release()) != 0) return Errno("close " + path);
  return absl::OkStatus();
}

// The whole file, or an error (ENOENT while it has not arrived).
absl::StatusOr<std::string> ReadWhole(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return Errno("open " + path);
  std::string out;
  char buffer[65536];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buffer, sizeof(buffer));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errno("read " + path);
    }
    if (n == 0) return out;
    out.append(buffer, static_cast<size_t>(n));
  }
}

// Polls `done` until it holds, sleeping `pause` between tries (short
// enough for sub-millisecond resolution, long enough to leave the CPU to the
// replicas on a small machine); DeadlineExceeded, naming `what`, after
// `timeout_s`.
absl::Status PollUntil(const std::function<bool()>& done, double timeout_s, absl::string_view what,
                       std::chrono::microseconds pause = std::chrono::microseconds(50)) {
  const Clock::time_point start = Clock::now();
  while (!done()) {
    if (MillisSince(start) > timeout_s * 1000) return absl::DeadlineExceededError(what);
    std::this_thread::sleep_for(pause);
  }
  return absl::OkStatus();
}

// Polls until `path` on B has exactly `content`.
absl::Status WaitForContent(const std::string& path, absl::string_view content, double timeout_s) {
  return PollUntil(
      [&] {
        struct stat st;
        if (::stat(path.c_str(), &st) != 0 || static_cast<size_t>(st.st_size) != content.size()) {
          return false;
        }
        absl::StatusOr<std::string> got = ReadWhole(path);
        return got.ok() && *got == content;
      },
      timeout_s, absl::StrCat(path, " did not arrive with its content"));
}

absl::Status WaitForAbsence(const std::string& path, double timeout_s) {
  return PollUntil(
      [&] {
        struct stat st;
        return ::lstat(path.c_str(), &st) != 0 && errno == ENOENT;
      },
      timeout_s, absl::StrCat(path, " was not removed"));
}

absl::Status WaitForDirectory(const std::string& path, double timeout_s) {
  return PollUntil(
      [&] {
        struct stat st;
        return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
      },
      timeout_s, absl::StrCat(path, " did not arrive"));
}

double Percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  // Nearest rank: the smallest value with at least p% of values at or below.
  const double rank = p / 100.0 * static_cast<double>(values.size());
  size_t index = static_cast<size_t>(rank);
  if (static_cast<double>(index) == rank && index > 0) --index;
  return values[std::min(index, values.size() - 1)];
}

std::string LatencyLine(const char* workload, const std::vector<double>& ms) {
  return absl::StrFormat("workload=%s n=%d p50_ms=%.2f p95_ms=%.2f p99_ms=%.2f max_ms=%.2f",
                         workload, ms.size(), Percentile(ms, 50), Percentile(ms, 95),
                         Percentile(ms, 99), Percentile(ms, 100));
}

// One directory per seed: a run of lag without delete leaves its files, and
// the next run must not trip over them.
std::string LagDir(const Settings& s, const std::string& mount) {
  return absl::StrFormat("%s/bench-lag-%d", mount, s.seed);
}
std::string LagFile(const Settings& s, const std::string& mount, uint64_t i) {
  return absl::StrFormat("%s/f%05d", LagDir(s, mount), i);
}

// Creates the lag files one at a time; each is timed from close() on A to
// its content read back on B.
absl::StatusOr<std::string> MeasureLag(const Settings& s) {
  if (::mkdir(LagDir(s, s.mount_a).c_str(), 0755) != 0) return Errno("mkdir " + LagDir(s, s.mount_a));
  if (absl::Status st = WaitForDirectory(LagDir(s, s.mount_b), s.timeout_seconds); !st.ok()) return st;
  std::vector<double> ms;
  for (uint64_t i = 0; i < s.files; ++i) {
    const std::string content = Pattern(kSmallFile, s.seed, i);
    // Looks the name up on B first, as a reader waiting for it would: the
    // miss is cached and must be invalidated by the replica.
    struct stat st;
    (void)::stat(LagFile(s, s.mount_b, i).c_str(), &st);
    if (absl::Status w = CreateFile(LagFile(s, s.mount_a, i), content); !w.ok()) return w;
    const Clock::time_point closed = Clock::now();
    if (absl::Status w = WaitForContent(LagFile(s, s.mount_b, i), content, s.timeout_seconds); !w.ok()) {
      return w;
    }
    ms.push_back(MillisSince(closed));
    // Changes arrive one at a time here, not as a stream.
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return LatencyLine("lag", ms);
}

// Unlinks the lag files one at a time; each is timed from unlink() on A
// returning to the name being gone on B.
absl::StatusOr<std::string> MeasureDelete(const Settings& s) {
  std::vector<double> ms;
  for (uint64_t i = 0; i < s.files; ++i) {
    struct stat st;
    if (::stat(LagFile(s, s.mount_b, i).c_str(), &st) != 0) {
      return absl::FailedPreconditionError("run the lag workload first: its files are not on B");
    }
    if (::unlink(LagFile(s, s.mount_a, i).c_str()) != 0) return Errno("unlink");
    const Clock::time_point removed = Clock::now();
    if (absl::Status w = WaitForAbsence(LagFile(s, s.mount_b, i), s.timeout_seconds); !w.ok()) return w;
    ms.push_back(MillisSince(removed));
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (::rmdir(LagDir(s, s.mount_a).c_str()) != 0) return Errno("rmdir");
  if (absl::Status w = WaitForAbsence(LagDir(s, s.mount_b), s.timeout_seconds); !w.ok()) return w;
  return LatencyLine("delete", ms);
}

// One tree per seed, left in place: removing 10,000 files right before the
// next run's burst would measure ext4's recently-deleted-inode scan (on
// file systems without a journal, creating files within a minute of mass
// deletes gets several times slower), not replication.
std::string BurstDir(const Settings& s, const std::string& mount) {
  return absl::StrFormat("%s/bench-burst-%d", mount, s.seed);
}
std::string BurstFile(const Settings& s, const std::string& mount, uint64_t i) {
  return absl::StrFormat("%s/d%03d/f%05d", BurstDir(s, mount), i % kBurstDirs, i);
}

absl::StatusOr<std::string> MeasureBurst(const Settings& s) {
  // B's watcher walks the files in creation order, moving on as each one
  // appears: the clock stops when the last one is readable on B.
  double all_on_b_s = 0;
  absl::Status watcher_status;
  const Clock::time_point start = Clock::now();
  std::thread watcher([&] {
    for (uint64_t i = 0; i < s.burst && watcher_status.ok(); ++i) {
      const std::string path = BurstFile(s, s.mount_b, i);
      watcher_status = PollUntil(
          [&] {
            struct stat st;
            return ::stat(path.c_str(), &st) == 0 && static_cast<size_t>(st.st_size) == kSmallFile;
          },
          s.timeout_seconds - MillisSince(start) / 1000, absl::StrCat(path, " did not arrive on B"),
          std::chrono::microseconds(500));
    }
    all_on_b_s = MillisSince(start) / 1000;
  });
  absl::Status writer_status = [&]() -> absl::Status {
    if (::mkdir(BurstDir(s, s.mount_a).c_str(), 0755) != 0) return Errno("mkdir");
    for (uint64_t d = 0; d < std::min(s.burst, kBurstDirs); ++d) {
      const std::string dir = absl::StrFormat("%s/d%03d", BurstDir(s, s.mount_a), d);
      if (::mkdir(dir.c_str(), 0755) != 0) return Errno("mkdir " + dir);
    }
    for (uint64_t i = 0; i < s.burst; ++i) {
      if (absl::Status w = CreateFile(BurstFile(s, s.mount_a, i), Pattern(kSmallFile, s.seed + 1, i));
          !w.ok()) {
        return w;
      }
    }
    return absl::OkStatus();
  }();
  const double written_s = MillisSince(start) / 1000;
  watcher.join();
  if (!writer_status.ok()) return writer_status;
  if (!watcher_status.ok()) return watcher_status;
  // Not timed: every file on B has exactly the bytes written on A.
  for (uint64_t i = 0; i < s.burst; ++i) {
    absl::StatusOr<std::string> got = ReadWhole(BurstFile(s, s.mount_b, i));
    if (!got.ok()) return got.status();
    if (*got != Pattern(kSmallFile, s.seed + 1, i)) {
      return absl::DataLossError(absl::StrCat(BurstFile(s, s.mount_b, i), " differs from A"));
    }
  }
  return absl::StrFormat("workload=burst files=%d written_on_a_s=%.3f all_on_b_s=%.3f files_per_s=%.0f",
                         s.burst, written_s, all_on_b_s,
                         static_cast<double>(s.burst) / all_on_b_s);
}

std::string MovedDir(const Settings& s, const std::string& mount) {
  return absl::StrFormat("%s/bench-moved-%d", mount, s.seed);
}
std::string MovedFile(const Settings& s, const std::string& mount, uint64_t i) {
  return absl::StrFormat("%s/d%03d/f%05d", MovedDir(s, mount), i % kBurstDirs, i);
}

absl::StatusOr<std::string> MeasureRename(const Settings& s) {
  // Not timed: the burst tree, on B too (made here when burst did not run).
  struct stat st;
  if (::stat(BurstDir(s, s.mount_a).c_str(), &st) != 0) {
    if (absl::StatusOr<std::string> made = MeasureBurst(s); !made.ok()) return made.status();
  }
  const std::string last_moved = MovedFile(s, s.mount_b, s.burst - 1);
  const std::string old_on_b = BurstDir(s, s.mount_b);
  const Clock::time_point start = Clock::now();
  if (::rename(BurstDir(s, s.mount_a).c_str(), MovedDir(s, s.mount_a).c_str()) != 0) {
    return Errno("rename");
  }
  const double renamed_ms = MillisSince(start);
  if (absl::Status moved = PollUntil(
          [&] {
            struct stat probe;
            return ::stat(last_moved.c_str(), &probe) == 0 &&
                   ::stat(old_on_b.c_str(), &probe) != 0 && errno == ENOENT;
          },
          s.timeout_seconds, "the renamed tree did not settle on B", std::chrono::microseconds(200));
      !moved.ok()) {
    return moved;
  }
  const double on_b_s = MillisSince(start) / 1000;
  // Not timed: every file on B, under its new name, has the bytes written.
  for (uint64_t i = 0; i < s.burst; ++i) {
    absl::StatusOr<std::string> got = ReadWhole(MovedFile(s, s.mount_b, i));
    if (!got.ok()) return got.status();
    if (*got != Pattern(kSmallFile, s.seed + 1, i)) {
      return absl::DataLossError(absl::StrCat(MovedFile(s, s.mount_b, i), " differs from A"));
    }
  }
  return absl::StrFormat("workload=rename files=%d renamed_on_a_ms=%.3f all_on_b_s=%.3f", s.burst,
                         renamed_ms, on_b_s);
}

// SHA-256 over the per-MiB hashes: the same for equal files, computed in a
// single pass without holding the file in memory.
absl::StatusOr<std::string> FileDigest(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return Errno("open " + path);
  std::string hashes;
  std::string block(kMiB, '\0');
  for (;;) {
    size_t filled = 0;
    while (filled < block.size()) {
      const ssize_t n = ::read(fd.get(), block.data() + filled, block.size() - filled);
      if (n < 0) {
        if (errno == EINTR) continue;
        return Errno("read " + path);
      }
      if (n == 0) break;
      filled += static_cast<size_t>(n);
    }
    if (filled == 0) break;
    hashes += Sha256(absl::string_view(block.data(), filled));
    if (filled < block.size()) break;
  }
  return Sha256(hashes);
}

absl::StatusOr<std::string> MeasureBig(const Settings& s) {
  const std::string on_a = s.mount_a + "/bench-big.dat";
  const std::string on_b = s.mount_b + "/bench-big.dat";
  const uint64_t bytes = s.big_mib * kMiB;
  const Clock::time_point start = Clock::now();
  std::string expected_hashes;
  {
    UniqueFd fd(::open(on_a.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
    if (!fd.valid()) return Errno("create " + on_a);
    for (uint64_t m = 0; m < s.big_mib; ++m) {
      const std::string block = Pattern(kMiB, s.seed + 2, m);
      expected_hashes += Sha256(block);
      if (absl::Status w = WriteAll(fd.get(), block); !w.ok()) return w;
    }
    if (::close(fd.Release()) != 0) return Errno("close " + on_a);
  }
  const Clock::time_point closed = Clock::now();
  const double write_s = std::chrono::duration<double>(closed - start).count();
  // The file appears on B only once complete (built aside, renamed in).
  if (absl::Status w = PollUntil(
          [&] {
            struct stat st;
            return ::stat(on_b.c_str(), &st) == 0 && static_cast<uint64_t>(st.st_size) == bytes;
          },
          s.timeout_seconds, on_b + " did not arrive whole", std::chrono::milliseconds(1));
      !w.ok()) {
    return w;
  }
  const double lag_s = MillisSince(closed) / 1000;
  absl::StatusOr<std::string> digest = FileDigest(on_b);
  if (!digest.ok()) return digest.status();
  if (*digest != Sha256(expected_hashes)) return absl::DataLossError(on_b + " differs from A");
  if (::unlink(on_a.c_str()) != 0) return Errno("unlink " + on_a);
  if (absl::Status w = WaitForAbsence(on_b, s.timeout_seconds); !w.ok()) return w;
  return absl::StrFormat("workload=big mib=%d write_on_a_s=%.3f close_to_b_s=%.3f mib_per_s=%.1f",
                         s.big_mib, write_s, lag_s, static_cast<double>(s.big_mib) / lag_s);
}

// What the backing file system alone costs the applier per received file:
// a new 4 KiB file written and fsynced (before it is renamed into place),
// one every 5 ms as lag's changes arrive. A disk idle between fsyncs can
// take several times longer per fsync than one kept busy.
absl::StatusOr<std::string> MeasureFsync(const Settings& s) {
  if (s.fsync_dir.empty()) return absl::InvalidArgumentError("fsync needs --fsync-dir");
  const std::string content = Pattern(kSmallFile, s.seed, 0);
  std::vector<double> ms;
  for (uint64_t i = 0; i < s.files; ++i) {
    const std::string path = absl::StrFormat("%s/bench-fsync-%d", s.fsync_dir, i);
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (!fd.valid()) return Errno("create " + path);
    absl::Status status = WriteAll(fd.get(), content);
    const Clock::time_point start = Clock::now();
    if (status.ok() && ::fsync(fd.get()) != 0) status = Errno("fsync " + path);
    if (status.ok()) ms.push_back(MillisSince(start));
    fd.Reset();
    ::unlink(path.c_str());
    if (!status.ok()) return status;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return LatencyLine("fsync", ms);
}

constexpr const char* kUsage =
    "usage: replfs-bench-replication --a=MOUNT_A --b=MOUNT_B [--workloads=lag,delete,burst,rename,big]\n"
    "                                [--files=N] [--burst=N] [--big-mib=N] [--seed=N]\n"
    "                                [--timeout=SECONDS] [--fsync-dir=DIR]\n"
    "Writes on replica A's mount and measures when B's mount shows it; prints\n"
    "one line per workload (see tools/bench-replication for the driver).\n";

absl::StatusOr<Settings> ParseFlags(int argc, char** argv) {
  Settings s;
  const NumberFlag numbers[] = {{"--files=", &s.files},
                                {"--burst=", &s.burst},
                                {"--big-mib=", &s.big_mib},
                                {"--seed=", &s.seed}};
  for (int i = 1; i < argc; ++i) {
    const absl::string_view arg = argv[i];
    absl::string_view rest = arg;
    if (absl::ConsumePrefix(&rest, "--a=")) {
      s.mount_a = std::string(rest);
    } else if (absl::ConsumePrefix(&rest, "--b=")) {
      s.mount_b = std::string(rest);
    } else if (absl::ConsumePrefix(&rest, "--fsync-dir=")) {
      s.fsync_dir = std::string(rest);
    } else if (absl::ConsumePrefix(&rest, "--workloads=")) {
      s.workloads = std::string(rest);
    } else if (absl::ConsumePrefix(&rest, "--timeout=")) {
      if (!absl::SimpleAtod(rest, &s.timeout_seconds) || s.timeout_seconds <= 0) {
        return absl::InvalidArgumentError(absl::StrCat("bad number of seconds in ", arg));
      }
    } else {
      absl::StatusOr<bool> matched = ParseNumberFlag(arg, numbers);
      if (!matched.ok()) return matched.status();
      if (!*matched) return absl::InvalidArgumentError(absl::StrCat("unknown argument ", arg));
    }
  }
  if (s.mount_a.empty() || s.mount_b.empty()) {
    return absl::InvalidArgumentError("--a and --b (the two mountpoints) are required");
  }
  if (s.files == 0 || s.files > 100000 || s.burst == 0 || s.burst > 1000000 || s.big_mib == 0) {
    return absl::InvalidArgumentError(
        "need 1 <= --files <= 100000, 1 <= --burst <= 1000000, --big-mib >= 1");
  }
  return s;
}

int Run(const Settings& s) {
  for (absl::string_view workload : absl::StrSplit(s.workloads, ',')) {
    absl::StatusOr<std::string> line;
    if (workload == "lag") {
      line = MeasureLag(s);
    } else if (workload == "delete") {
      line = MeasureDelete(s);
    } else if (workload == "burst") {
      line = MeasureBurst(s);
    } else if (workload == "big") {
      line = MeasureBig(s);
    } else if (workload == "rename") {
      line = MeasureRename(s);
    } else if (workload == "fsync") {
      line = MeasureFsync(s);
    } else {
      line = absl::InvalidArgumentError(absl::StrCat("unknown workload '", workload, "'"));
    }
    if (!line.ok()) {
      std::fprintf(stderr, "replfs-bench-replication: %s: %s\n", std::string(workload).c_str(),
                   line.status().ToString().c_str());
      return 1;
    }
    std::printf("%s\n", line->c_str());
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace
}  // namespace replfs

int main(int argc, char** argv) {
  absl::StatusOr<replfs::Settings> settings = replfs::ParseFlags(argc, argv);
  if (!settings.ok()) {
    std::fprintf(stderr, "replfs-bench-replication: %s\n%s",
                 std::string(settings.status().message()).c_str(), replfs::kUsage);
    return 2;
  }
  return replfs::Run(*settings);
}
