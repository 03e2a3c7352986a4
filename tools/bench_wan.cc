// replfs-bench-wan: the datacentre layout measured on the WAN bed
// (tests/wan_bed.h), driven by tools/bench-wan. A benchmark, not a test: it
// reports, and fails only when the bed cannot be built or a step never ends.
//
// On a bed of a centre and D datacentres x S servers (every spoke pulls
// from its hub, every hub from the centre):
//   propagation  a 4 KiB file written on the last spoke of datacentre 1,
//                until it is in place on every spoke of every other
//                datacentre: p50 / p99 over every (file, spoke) pair.
//   wan-bytes    what crossed each datacentre's link to the centre per MiB
//                written on that spoke (one copy per datacentre is 1.0).
//   catch-up     datacentre 2 cut off while the spoke writes N files; the
//                seconds from the heal until every spoke of it holds them.
// On a second bed (the centre cut off, one datacentre: its hub and a new
// server):
//   bootstrap    a new server receiving from its hub a tree of small files
//                (files/s) and one of large files (MiB/s); then the large
//                tree again, interrupted (SIGKILL) at half and restarted:
//                what the hub served after the restart against what the
//                new server lacked.
// For each step: the CPU seconds and the peak RSS of a hub serving its
// spokes (/proc). With BENCH_WAN_HOLD_S=N set, a bootstrap that does not
// complete keeps its bed up N seconds for a look (it prints where).
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "base/unique_fd.h"
#include "tests/wan_bed.h"
#include "tools/bench_flags.h"

namespace replfs {
namespace {

using testing::Site;
using testing::WanBed;
using testing::WanBedOptions;
using Clock = std::chrono::steady_clock;

struct Settings {
  uint64_t datacentres = 4;
  uint64_t servers = 3;
  uint64_t delay_ms = 40;
  uint64_t jitter_ms = 5;
  uint64_t stall_every_s = 10;
  uint64_t rate_mbit = 84;  // 10 MiB/s.
  uint64_t samples = 50;
  uint64_t wan_mib = 16;
  uint64_t catchup_files = 10000;
  uint64_t bootstrap_files = 100000;
  uint64_t bootstrap_mib = 4096;
  uint64_t timeout_s = 900;
};

constexpr size_t kSmallFile = 4096;
constexpr size_t kBootstrapSmallFile = 1024;
constexpr uint64_t kLargeFileMib = 256;
constexpr int kFilesPerDirectory = 1000;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Bytes unlike any other file's (and poorly compressible, as images are).
std::string Pattern(size_t size, uint64_t index) {
  std::string out(size, '\0');
  uint64_t x = 0x9e3779b97f4a7c15ULL ^ (index * 0xbf58476d1ce4e5b9ULL);
  for (size_t i = 0; i < size; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    out[i] = static_cast<char>(x);
  }
  return out;
}

absl::Status WriteWhole(const std::string& path, absl::string_view content) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd.valid()) return absl::ErrnoToStatus(errno, absl::StrCat("create ", path));
  while (!content.empty()) {
    const ssize_t n = ::write(fd.get(), content.data(), content.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return absl::ErrnoToStatus(errno, absl::StrCat("write ", path));
    content.remove_prefix(static_cast<size_t>(n));
  }
  if (::close(fd.Release()) != 0) return absl::ErrnoToStatus(errno, absl::StrCat("close ", path));
  return absl::OkStatus();
}

// A file of `mib` MiB written 1 MiB at a time.
absl::Status WriteLarge(const std::string& path, uint64_t mib, uint64_t index) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd.valid()) return absl::ErrnoToStatus(errno, absl::StrCat("create ", path));
  for (uint64_t m = 0; m < mib; ++m) {
    const std::string chunk = Pattern(1 << 20, index * 1000003 + m);
    if (::write(fd.get(), chunk.data(), chunk.size()) != static_cast<ssize_t>(chunk.size())) {
      return absl::ErrnoToStatus(errno, absl::StrCat("write ", path));
    }
  }
  if (::close(fd.Release()) != 0) return absl::ErrnoToStatus(errno, absl::StrCat("close ", path));
  return absl::OkStatus();
}

bool HasSize(const std::string& path, uint64_t size) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0 && static_cast<uint64_t>(st.st_size) == size;
}

// Files (regular, at full `size`) directly in `dir`: a remote file is
// renamed into place whole, so one counted is one held.
uint64_t FilesHeld(const std::string& dir, uint64_t size) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return 0;
  uint64_t held = 0;
  while (const dirent* e = ::readdir(d)) {
    struct stat st;
    if (e->d_name[0] != '.' && ::fstatat(::dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
        S_ISREG(st.st_mode) && static_cast<uint64_t>(st.st_size) == size) {
      ++held;
    }
  }
  ::closedir(d);
  return held;
}

// Bytes of the regular files directly in `dir` (partly fetched ones are not
// there yet).
uint64_t BytesHeld(const std::string& dir) {
  uint64_t bytes = 0;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.is_regular_file(ec)) bytes += entry.file_size(ec);
  }
  return bytes;
}

// Polls `done` every `poll` until it holds (the tests' WaitUntil); an error
// naming `what` after `timeout`.
absl::Status PollUntil(const std::function<bool()>& done, absl::Duration timeout,
                       absl::string_view what, absl::Duration poll = absl::Milliseconds(20)) {
  if (testing::WaitUntil(done, timeout, poll)) return absl::OkStatus();
  return absl::DeadlineExceededError(
      absl::StrCat(what, ": not within ", absl::FormatDuration(timeout)));
}

// Waits until each of `count` files (path_of(0), path_of(1), ...) is there
// at full `size`, checking each until it is and never again: polling the
// whole set (10,000 or 100,000 stats every few milliseconds) took a good
// part of a core from the replicas being measured. Arrival order does not
// matter: a file that came early is found at its turn.
absl::Status WaitForEachFile(uint64_t count, const std::function<std::string(uint64_t)>& path_of,
                             uint64_t size, absl::Duration timeout, absl::string_view what) {
  const absl::Time deadline = absl::Now() + timeout;
  for (uint64_t i = 0; i < count; ++i) {
    const std::string path = path_of(i);
    while (!HasSize(path, size)) {
      if (absl::Now() > deadline) {
        return absl::DeadlineExceededError(absl::StrCat(what, ": not within ",
                                                        absl::FormatDuration(timeout), ": ", i,
                                                        " of ", count, " held; missing ", path));
      }
      absl::SleepFor(absl::Milliseconds(1));
    }
  }
  return absl::OkStatus();
}

// CPU time (user + system) and peak RSS of one process, from /proc.
struct ProcessUsage {
  double cpu_s = 0;
  uint64_t peak_rss_kib = 0;
};

ProcessUsage UsageOf(pid_t pid) {
  ProcessUsage usage;
  std::string stat = testing::ReadWholeFile(absl::StrCat("/proc/", pid, "/stat"));
  // Fields after the command name, which may hold spaces: utime and stime
  // are the 14th and 15th fields of the line, the 12th and 13th after ')'.
  const size_t end_of_name = stat.rfind(')');
  if (end_of_name != std::string::npos) {
    std::vector<absl::string_view> fields =
        absl::StrSplit(absl::string_view(stat).substr(end_of_name + 2), ' ');
    uint64_t utime = 0;
    uint64_t stime = 0;
    if (fields.size() > 12 && absl::SimpleAtoi(fields[11], &utime) &&
        absl::SimpleAtoi(fields[12], &stime)) {
      usage.cpu_s =
          static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
    }
  }
  for (absl::string_view line :
       absl::StrSplit(testing::ReadWholeFile(absl::StrCat("/proc/", pid, "/status")), '\n')) {
    if (absl::ConsumePrefix(&line, "VmHWM:")) {
      (void)absl::SimpleAtoi(absl::StripAsciiWhitespace(absl::StripSuffix(line, "kB")),
                             &usage.peak_rss_kib);
    }
  }
  return usage;
}

// One step's row of the hub table: what `hub` used from `before` to now,
// over `wall_s` seconds.
std::string HubRow(absl::string_view step, const WanBed& bed, const Site& hub,
                   const ProcessUsage& before, double wall_s) {
  const ProcessUsage now = UsageOf(bed.replica(hub).pid());
  const double cpu = now.cpu_s - before.cpu_s;
  return absl::StrFormat("| %s | %s | %.1f s | %.1f s (%.0f%% of a core) | %.0f MiB |\n", step,
                         hub.Name(), wall_s, cpu, wall_s > 0 ? 100 * cpu / wall_s : 0.0,
                         static_cast<double>(now.peak_rss_kib) / 1024);
}

double Percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const size_t index =
      std::min(values.size() - 1, static_cast<size_t>(p * static_cast<double>(values.size())));
  return values[index];
}

std::vector<Site> SpokesOutside(const WanBed& bed, int dc) {
  std::vector<Site> spokes;
  for (const Site& site : bed.Sites()) {
    if (site.dc != 0 && site.dc != dc && site.server != 0) spokes.push_back(site);
  }
  return spokes;
}

Site Writer(const WanBed& bed) { return Site{1, bed.servers() - 1}; }

struct Report {
  std::string figures;
  std::string hubs;
};

// Writes one file at a time on datacentre 1's last spoke and times its
// arrival on every spoke of the other datacentres.
absl::Status MeasurePropagation(const Settings& s, WanBed& bed, Report* report) {
  const Site writer = Writer(bed);
  const std::vector<Site> targets = SpokesOutside(bed, 1);
  if (targets.empty()) return absl::FailedPreconditionError("propagation needs spokes in dc2+");
  if (::mkdir(bed.Mount(writer, "propagation").c_str(), 0755) != 0) {
    return absl::ErrnoToStatus(errno, "mkdir propagation");
  }
  for (const Site& target : targets) {
    if (absl::Status p = PollUntil(
            [&] {
              return std::filesystem::is_directory(bed.replica(target).BackingPath("propagation"));
            },
            absl::Seconds(60), "propagation/ on every spoke");
        !p.ok()) {
      return p;
    }
  }
  const Site receiving_hub{2, 0};
  const ProcessUsage hub_before = UsageOf(bed.replica(receiving_hub).pid());
  const Clock::time_point step_start = Clock::now();
  std::vector<double> ms;
  for (uint64_t i = 0; i < s.samples; ++i) {
    const std::string name = absl::StrCat("propagation/f", i);
    if (absl::Status w = WriteWhole(bed.Mount(writer, name), Pattern(kSmallFile, i)); !w.ok()) {
      return w;
    }
    const Clock::time_point closed = Clock::now();
    std::vector<bool> arrived(targets.size(), false);
    size_t pending = targets.size();
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    while (pending > 0) {
      for (size_t t = 0; t < targets.size(); ++t) {
        if (arrived[t] || !HasSize(bed.replica(targets[t]).BackingPath(name), kSmallFile)) continue;
        arrived[t] = true;
        --pending;
        ms.push_back(SecondsSince(closed) * 1000);
      }
      if (absl::Now() > deadline) return absl::DeadlineExceededError(name + " did not arrive");
      absl::SleepFor(absl::Microseconds(200));
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  const double path_ms = 2.0 * static_cast<double>(s.delay_ms);
  absl::StrAppendFormat(&report->figures,
                        "| propagation of a 4 KiB file, dc1 spoke -> %d spokes of %d other "
                        "datacentres, p50 / p99 | %.1f / %.1f ms | links on the path: %.0f ms; "
                        "%zu samples |\n",
                        targets.size(), bed.datacentres() - 1, Percentile(ms, 0.5),
                        Percentile(ms, 0.99), path_ms, ms.size());
  report->hubs += HubRow("propagation", bed, receiving_hub, hub_before, SecondsSince(step_start));
  return absl::OkStatus();
}

// What crossed each datacentre's link per MiB written on dc1's spoke.
absl::Status MeasureWanBytes(const Settings& s, WanBed& bed, Report* report) {
  const Site writer = Writer(bed);
  std::vector<uint64_t> before;
  for (int dc = 1; dc <= bed.datacentres(); ++dc) before.push_back(bed.LinkBytes(dc));
  if (::mkdir(bed.Mount(writer, "wan-bytes").c_str(), 0755) != 0) {
    return absl::ErrnoToStatus(errno, "mkdir wan-bytes");
  }
  const Site centre{0, 0};
  const ProcessUsage centre_before = UsageOf(bed.replica(centre).pid());
  const Clock::time_point start = Clock::now();
  for (uint64_t m = 0; m < s.wan_mib; ++m) {
    if (absl::Status w = WriteLarge(bed.Mount(writer, absl::StrCat("wan-bytes/m", m)), 1, m + 7);
        !w.ok()) {
      return w;
    }
  }
  if (absl::Status c = bed.WaitForConvergence(absl::Seconds(static_cast<int64_t>(s.timeout_s)));
      !c.ok()) {
    return c;
  }
  const double wall = SecondsSince(start);
  const double written = static_cast<double>(s.wan_mib << 20);
  std::string per_link;
  double total = 0;
  for (int dc = 1; dc <= bed.datacentres(); ++dc) {
    const double copies =
        static_cast<double>(bed.LinkBytes(dc) - before[static_cast<size_t>(dc - 1)]) / written;
    total += copies;
    absl::StrAppendFormat(&per_link, "%sdc%d %.2f", dc == 1 ? "" : ", ", dc, copies);
  }
  absl::StrAppendFormat(&report->figures,
                        "| bytes across the centre's links per MiB written (%llu MiB on a dc1 "
                        "spoke) | %.2f MiB in all (%s) | one copy per datacentre: %d.00; "
                        "converged in %.1f s |\n",
                        static_cast<unsigned long long>(s.wan_mib), total, per_link,
                        bed.datacentres(), wall);
  report->hubs += HubRow("wan-bytes", bed, centre, centre_before, wall);
  return absl::OkStatus();
}

// Datacentre 2 cut off while dc1's spoke writes; seconds from the heal
// until every replica of datacentre 2 holds every file.
absl::Status MeasureCatchUp(const Settings& s, WanBed& bed, Report* report) {
  const Site writer = Writer(bed);
  const std::string dir = "catch-up";
  if (::mkdir(bed.Mount(writer, dir).c_str(), 0755) != 0) {
    return absl::ErrnoToStatus(errno, "mkdir catch-up");
  }
  const absl::Duration timeout = absl::Seconds(static_cast<int64_t>(s.timeout_s));
  if (absl::Status c = bed.WaitForConvergence(timeout); !c.ok()) return c;
  bed.CutLink(2);
  const Clock::time_point write_start = Clock::now();
  for (uint64_t i = 0; i < s.catchup_files; ++i) {
    const std::string path = bed.Mount(writer, absl::StrCat(dir, "/f", i));
    if (absl::Status w = WriteWhole(path, Pattern(kSmallFile, 1000000 + i)); !w.ok()) return w;
  }
  const double write_s = SecondsSince(write_start);
  const Site centre{0, 0};
  auto catch_up_file = [&](const Site& site) {
    return [&, site](uint64_t i) {
      return bed.replica(site).BackingPath(absl::StrCat(dir, "/f", i));
    };
  };
  if (absl::Status p = WaitForEachFile(s.catchup_files, catch_up_file(centre), kSmallFile,
                                       timeout, "the centre holding the catch-up files");
      !p.ok()) {
    return p;
  }
  const Site hub{2, 0};
  const ProcessUsage hub_before = UsageOf(bed.replica(hub).pid());
  bed.HealLink(2);
  const Clock::time_point healed = Clock::now();
  for (const Site& site : bed.SitesOf(2)) {
    if (absl::Status p = WaitForEachFile(s.catchup_files, catch_up_file(site), kSmallFile,
                                         timeout, absl::StrCat(site.Name(), " catching up"));
        !p.ok()) {
      return p;
    }
  }
  const double catch_up_s = SecondsSince(healed);
  if (absl::Status c = bed.WaitForConvergence(timeout); !c.ok()) return c;
  absl::StrAppendFormat(&report->figures,
                        "| catch-up of datacentre 2, cut off while %llu x 4 KiB files were "
                        "written (in %.1f s) | %.1f s after the heal (%.0f files/s) | every "
                        "replica of dc2 holds every file |\n",
                        static_cast<unsigned long long>(s.catchup_files), write_s, catch_up_s,
                        static_cast<double>(s.catchup_files) / catch_up_s);
  report->hubs += HubRow("catch-up", bed, hub, hub_before, catch_up_s);
  return absl::OkStatus();
}

WanBedOptions LayoutBed(const Settings& s) {
  WanBedOptions options;
  options.datacentres = static_cast<int>(s.datacentres);
  options.servers = static_cast<int>(s.servers);
  options.link.delay = absl::Milliseconds(static_cast<int64_t>(s.delay_ms));
  options.link.jitter = absl::Milliseconds(static_cast<int64_t>(s.jitter_ms));
  options.link.stall_every = absl::Seconds(static_cast<int64_t>(s.stall_every_s));
  options.rate_mbit = static_cast<int>(s.rate_mbit);
  return options;
}

absl::Status WaitHealthy(WanBed& bed) {
  // Every replica reached from the centre: a directory made there shows
  // up everywhere.
  const Site centre{0, 0};
  if (::mkdir(bed.Mount(centre, "ready").c_str(), 0755) != 0) {
    return absl::ErrnoToStatus(errno, "mkdir ready");
  }
  return bed.WaitForConvergence(absl::Minutes(2));
}

absl::Status RunLayout(const Settings& s, Report* report) {
  WanBed bed(LayoutBed(s));
  if (absl::Status up = bed.Up(); !up.ok()) return up;
  if (absl::Status h = WaitHealthy(bed); !h.ok()) return h;
  std::fprintf(stderr, "bench-wan: layout bed up (%d datacentres x %d servers)\n",
               bed.datacentres(), bed.servers());
  if (absl::Status p = MeasurePropagation(s, bed, report); !p.ok()) return p;
  if (absl::Status w = MeasureWanBytes(s, bed, report); !w.ok()) return w;
  return MeasureCatchUp(s, bed, report);
}

// The bootstrap bed's sites: datacentre 1's hub and its new server.
constexpr Site kHub{1, 0};
constexpr Site kNewServer{1, 1};

// Empties the new server's folder and state, as for a server never run.
absl::Status MakeNew(WanBed& bed) {
  if (absl::Status s = bed.Stop(kNewServer); !s.ok()) return s;
  std::error_code ec;
  std::filesystem::remove_all(bed.replica(kNewServer).backing(), ec);
  if (ec)
    return absl::InternalError(absl::StrCat("remove the new server's folder: ", ec.message()));
  std::filesystem::create_directory(bed.replica(kNewServer).backing(), ec);
  if (ec) return absl::InternalError(absl::StrCat("make the new server's folder: ", ec.message()));
  return absl::OkStatus();
}

absl::Status WriteSmallTree(const Settings& s, WanBed& bed) {
  for (uint64_t i = 0; i < s.bootstrap_files; ++i) {
    const std::string dir = absl::StrCat("small/d", i / kFilesPerDirectory);
    if (i % kFilesPerDirectory == 0 && ::mkdir(bed.Mount(kHub, dir).c_str(), 0755) != 0) {
      return absl::ErrnoToStatus(errno, "mkdir " + dir);
    }
    const std::string path = bed.Mount(kHub, absl::StrCat(dir, "/f", i));
    if (absl::Status w = WriteWhole(path, Pattern(kBootstrapSmallFile, 2000000 + i)); !w.ok()) {
      return w;
    }
  }
  return absl::OkStatus();
}

std::string SmallFile(uint64_t i) {
  return absl::StrCat("small/d", i / kFilesPerDirectory, "/f", i);
}

// The first few small files the new server lacks, one per line.
std::string MissingSmallFiles(const Settings& s, const WanBed& bed) {
  constexpr int kShown = 10;
  std::string missing;
  int shown = 0;
  for (uint64_t i = 0; i < s.bootstrap_files && shown < kShown; ++i) {
    const std::string path = SmallFile(i);
    if (HasSize(bed.replica(kNewServer).BackingPath(path), kBootstrapSmallFile)) continue;
    absl::StrAppend(&missing, "missing ", path, "\n");
    ++shown;
  }
  return missing;
}

uint64_t LargeFiles(const Settings& s) {
  return std::max<uint64_t>(1, s.bootstrap_mib / kLargeFileMib);
}

uint64_t LargeFileMib(const Settings& s) {
  return std::min<uint64_t>(kLargeFileMib, std::max<uint64_t>(1, s.bootstrap_mib));
}

uint64_t BytesServedBy(const WanBed& bed, const Site& site) {
  absl::StatusOr<ReplicaStatus> status = testing::AdminStatus(bed.replica(site));
  return status.ok() ? status->bytes_served() : 0;
}

absl::Status MeasureBootstrap(const Settings& s, WanBed& bed, Report* report) {
  const absl::Duration timeout = absl::Seconds(static_cast<int64_t>(s.timeout_s));
  if (absl::Status n = MakeNew(bed); !n.ok()) return n;
  for (const char* dir : {"small", "large"}) {
    if (::mkdir(bed.Mount(kHub, dir).c_str(), 0755) != 0) {
      return absl::ErrnoToStatus(errno, absl::StrCat("mkdir ", dir));
    }
  }
  // Small files.
  if (absl::Status w = WriteSmallTree(s, bed); !w.ok()) return w;
  ProcessUsage hub_before = UsageOf(bed.replica(kHub).pid());
  Clock::time_point start = Clock::now();
  if (absl::Status st = bed.Start(kNewServer); !st.ok()) return st;
  if (absl::Status p = WaitForEachFile(
          s.bootstrap_files,
          [&](uint64_t i) { return bed.replica(kNewServer).BackingPath(SmallFile(i)); },
          kBootstrapSmallFile, timeout, "the new server holding the small files");
      !p.ok()) {
    if (const char* hold = std::getenv("BENCH_WAN_HOLD_S"); hold != nullptr) {
      std::fprintf(stderr, "HOLD %s\n%s", bed.Describe().c_str(),
                   MissingSmallFiles(s, bed).c_str());
      absl::SleepFor(absl::Seconds(std::atoi(hold)));
    }
    return absl::DeadlineExceededError(
        absl::StrCat(p.message(), "\n", MissingSmallFiles(s, bed), bed.Diagnostics()));
  }
  double took = SecondsSince(start);
  absl::StrAppendFormat(&report->figures,
                        "| bootstrap of a new server from its hub, %llu x 1 KiB files | %.1f s, "
                        "%.0f files/s | from the new server's start |\n",
                        static_cast<unsigned long long>(s.bootstrap_files), took,
                        static_cast<double>(s.bootstrap_files) / took);
  report->hubs += HubRow("bootstrap, small files", bed, kHub, hub_before, took);

  // Large files.
  if (absl::Status st = bed.Stop(kNewServer); !st.ok()) return st;
  const uint64_t files = LargeFiles(s);
  const uint64_t file_mib = LargeFileMib(s);
  for (uint64_t f = 0; f < files; ++f) {
    if (absl::Status w = WriteLarge(bed.Mount(kHub, absl::StrCat("large/l", f)), file_mib, f);
        !w.ok()) {
      return w;
    }
  }
  const uint64_t large_bytes = files * (file_mib << 20);
  const std::string large_dir = bed.replica(kNewServer).BackingPath("large");
  auto large_held = [&] { return FilesHeld(large_dir, file_mib << 20); };
  hub_before = UsageOf(bed.replica(kHub).pid());
  start = Clock::now();
  if (absl::Status st = bed.Start(kNewServer); !st.ok()) return st;
  if (absl::Status p = PollUntil([&] { return large_held() == files; }, timeout,
                                 "the new server holding the large files", absl::Milliseconds(50));
      !p.ok()) {
    return p;
  }
  took = SecondsSince(start);
  absl::StrAppendFormat(&report->figures,
                        "| bootstrap of the large files, %llu x %llu MiB, on top | %.1f s, %.0f "
                        "MiB/s | the small tree already held |\n",
                        static_cast<unsigned long long>(files),
                        static_cast<unsigned long long>(file_mib), took,
                        static_cast<double>(large_bytes >> 20) / took);
  report->hubs += HubRow("bootstrap, large files", bed, kHub, hub_before, took);

  // The whole tree again, interrupted at half.
  if (absl::Status n = MakeNew(bed); !n.ok()) return n;
  start = Clock::now();
  if (absl::Status st = bed.Start(kNewServer); !st.ok()) return st;
  if (absl::Status p = PollUntil([&] { return BytesHeld(large_dir) >= large_bytes / 2; }, timeout,
                                 "half of the large files", absl::Milliseconds(5));
      !p.ok()) {
    return p;
  }
  bed.replica(kNewServer).Kill();
  const uint64_t held_at_kill = BytesHeld(large_dir);
  const uint64_t served_before = BytesServedBy(bed, kHub);
  if (absl::Status st = bed.Start(kNewServer); !st.ok()) return st;
  if (absl::Status p = PollUntil([&] { return large_held() == files; }, timeout,
                                 "the resumed bootstrap", absl::Milliseconds(50));
      !p.ok()) {
    return p;
  }
  took = SecondsSince(start);
  const double served_mib =
      static_cast<double>(BytesServedBy(bed, kHub) - served_before) / (1 << 20);
  absl::StrAppendFormat(&report->figures,
                        "| bootstrap interrupted (SIGKILL) at %.0f of %llu MiB of large files, "
                        "restarted | the hub served %.0f MiB after the restart, for %.0f MiB "
                        "lacking | whole tree, both starts: %.1f s |\n",
                        static_cast<double>(held_at_kill >> 20),
                        static_cast<unsigned long long>(large_bytes >> 20), served_mib,
                        static_cast<double>((large_bytes - held_at_kill) >> 20), took);
  return bed.WaitForConvergence(timeout, {kHub, kNewServer});
}

absl::Status RunBootstrap(const Settings& s, Report* report) {
  WanBedOptions options;
  options.datacentres = 1;
  options.servers = 2;
  WanBed bed(options);
  if (absl::Status up = bed.Up(); !up.ok()) return up;
  if (absl::Status h = WaitHealthy(bed); !h.ok()) return h;
  // The tree is written on the hub; the centre need not receive it.
  bed.CutLink(1);
  std::fprintf(stderr, "bench-wan: bootstrap bed up\n");
  return MeasureBootstrap(s, bed, report);
}

absl::StatusOr<Settings> ParseFlags(int argc, char** argv, std::string* steps) {
  Settings s;
  const NumberFlag flags[] = {
      {"--datacentres=", &s.datacentres},
      {"--servers=", &s.servers},
      {"--delay-ms=", &s.delay_ms},
      {"--jitter-ms=", &s.jitter_ms},
      {"--stall-every-s=", &s.stall_every_s},
      {"--rate-mbit=", &s.rate_mbit},
      {"--samples=", &s.samples},
      {"--wan-mib=", &s.wan_mib},
      {"--catchup-files=", &s.catchup_files},
      {"--bootstrap-files=", &s.bootstrap_files},
      {"--bootstrap-mib=", &s.bootstrap_mib},
      {"--timeout-s=", &s.timeout_s},
  };
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (absl::ConsumePrefix(&arg, "--steps=")) {
      *steps = std::string(arg);
      continue;
    }
    absl::StatusOr<bool> parsed = ParseNumberFlag(arg, flags);
    if (!parsed.ok()) return parsed.status();
    if (!*parsed) return absl::InvalidArgumentError(absl::StrCat("unknown flag ", arg));
  }
  if (s.datacentres < 2 || s.servers < 2) {
    return absl::InvalidArgumentError("the layout needs --datacentres >= 2 and --servers >= 2");
  }
  return s;
}

int Run(int argc, char** argv) {
  std::string steps = "layout,bootstrap";
  absl::StatusOr<Settings> settings = ParseFlags(argc, argv, &steps);
  if (!settings.ok()) {
    std::fprintf(stderr, "replfs-bench-wan: %s\n", settings.status().ToString().c_str());
    return 2;
  }
  Report report;
  for (absl::string_view step : absl::StrSplit(steps, ',', absl::SkipEmpty())) {
    absl::Status done = step == "layout" ? RunLayout(*settings, &report)
                        : step == "bootstrap"
                            ? RunBootstrap(*settings, &report)
                            : absl::InvalidArgumentError(absl::StrCat("unknown step ", step));
    if (!done.ok()) {
      std::fprintf(stderr, "replfs-bench-wan: %.*s: %s\n", static_cast<int>(step.size()),
                   step.data(), done.ToString().c_str());
      std::fputs(report.figures.c_str(), stdout);
      return 1;
    }
  }
  std::printf("| figure | value | note |\n|---|---|---|\n%s\n", report.figures.c_str());
  std::printf("| step | process | wall | CPU | peak RSS |\n|---|---|---|---|---|\n%s",
              report.hubs.c_str());
  return 0;
}

}  // namespace
}  // namespace replfs

int main(int argc, char** argv) { return replfs::Run(argc, argv); }
