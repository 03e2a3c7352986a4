#ifndef REPLFS_TOOLS_BENCH_LOCAL_H_
#define REPLFS_TOOLS_BENCH_LOCAL_H_

// What the workloads of replfs-bench-local-ops share: its settings, what a
// workload reports, and the few I/O helpers they all use. The big-file
// workloads are in bench_local.cc, the many-small-files ones and the site
// tree in bench_local_tree.cc.
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "base/unique_fd.h"

namespace replfs::bench {

struct Settings {
  std::string workload;
  std::string dir;
  std::string tarball;  // The site tree's tarball (make_site, tar_x).
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

inline absl::Status Errno(absl::string_view what) { return absl::ErrnoToStatus(errno, what); }

// Runs `body` and returns its wall-clock time in seconds.
absl::StatusOr<double> Timed(const std::function<absl::Status()>& body);

// `size` incompressible bytes, the same for the same seed, so that no layer
// can shortcut zeros and every side writes the same data.
std::vector<char> PatternBuffer(size_t size, uint64_t seed);

absl::Status WriteAll(int fd, const char* data, size_t length);

// close(2) reports deferred write errors (and on FUSE may wait for a
// flush), so it is checked and timed rather than left to a destructor.
absl::Status CloseChecked(UniqueFd& fd);

// Reads `fd` to its end in `buffer`-sized calls; returns the byte count.
absl::StatusOr<uint64_t> ReadToEnd(int fd, std::vector<char>& buffer);

// The workloads of bench_local_tree.cc.
absl::StatusOr<Measurement> CreateFiles(const Settings& s);
absl::StatusOr<Measurement> StatFiles(const Settings& s);
absl::StatusOr<Measurement> OpenReadFiles(const Settings& s);
absl::StatusOr<Measurement> ListDirectories(const Settings& s);
absl::StatusOr<Measurement> ChmodFiles(const Settings& s);
absl::StatusOr<Measurement> RenameFiles(const Settings& s);
absl::StatusOr<Measurement> UnlinkFiles(const Settings& s);
absl::StatusOr<Measurement> MakeDirectories(const Settings& s);
absl::StatusOr<Measurement> MakeSiteTarball(const Settings& s);
absl::StatusOr<Measurement> ExtractSite(const Settings& s);
absl::StatusOr<Measurement> RemoveSite(const Settings& s);

}  // namespace replfs::bench

#endif  // REPLFS_TOOLS_BENCH_LOCAL_H_
