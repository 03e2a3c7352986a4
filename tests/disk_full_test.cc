// Disk full: replica B's backing directory (and so its state folder,
// BACKING/.replfs) lives on a 16 MiB tmpfs. Local writes beyond the space
// fail with ENOSPC, nothing written before is damaged, replication from A
// pauses while B is full (B never shows a partial file, and keeps serving
// reads) and resumes once space is freed; the store still opens afterwards.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/unique_fd.h"
#include "gtest/gtest.h"
#include "tests/cluster.h"
#include "tests/support/child_process.h"
#include "tests/support/replica_process.h"

namespace replfs::testing {
namespace {

constexpr int kA = 0;
constexpr int kB = 1;

int Run(const std::vector<std::string>& argv) { return RunChild(argv); }

// Unmounts the tmpfs when the test ends, whatever happened. Declared before
// the cluster, so it runs after the replica on it has been stopped.
class TmpfsMount {
 public:
  ~TmpfsMount() {
    if (!path_.empty() && IsMountpoint(path_)) Run({"umount", "-l", path_});
  }
  absl::Status Mount(const std::string& path, const std::string& size) {
    if (Run({"mount", "-t", "tmpfs", "-o", absl::StrCat("size=", size), "tmpfs", path}) != 0) {
      return absl::InternalError(absl::StrCat("mount -t tmpfs on ", path, " failed"));
    }
    path_ = path;
    return absl::OkStatus();
  }

 private:
  std::string path_;
};

// Deterministic content that differs per name.
std::string Pattern(const std::string& name, size_t size) {
  std::string out = absl::StrCat(name, "\n");
  uint32_t x = 2166136261u;
  for (char c : name) x = (x ^ static_cast<uint8_t>(c)) * 16777619u;
  while (out.size() < size) {
    x = x * 1664525u + 1013904223u;
    out.push_back(static_cast<char>('a' + (x >> 24) % 26));
  }
  return out;
}

// Writes `size` bytes in 1 MiB pieces; returns the errno of the first
// write or close that failed (0 if all succeeded).
int FillFile(const std::string& path, size_t size) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd.valid()) return errno;
  const std::string piece = Pattern(path, 1 << 20);
  int error = 0;
  for (size_t done = 0; done < size && error == 0;) {
    const ssize_t n = ::write(fd.get(), piece.data(), std::min(piece.size(), size - done));
    if (n < 0) error = errno;
    if (n > 0) done += static_cast<size_t>(n);
  }
  if (::close(fd.Release()) != 0 && error == 0) error = errno;
  return error;
}

uint64_t FreeBytes(const std::string& path) {
  struct statvfs vfs;
  if (::statvfs(path.c_str(), &vfs) != 0) return 0;
  return static_cast<uint64_t>(vfs.f_bavail) * vfs.f_frsize;
}

TEST(DiskFullTest, EnospcLocallyPausesReplicationAndResumesWhenSpaceIsFreed) {
  TmpfsMount tmpfs;
  Cluster cluster(2);
  REPLFS_ASSERT_OK(cluster.init_status());
  REPLFS_ASSERT_OK(tmpfs.Mount(cluster.Backing(kB), "16m"));
  REPLFS_ASSERT_OK(cluster.StartAll());

  // Files written completely before the disk fills.
  std::vector<std::pair<std::string, std::string>> kept;
  for (int i = 0; i < 4; ++i) {
    const std::string name = absl::StrCat("kept", i);
    kept.emplace_back(name, Pattern(name, size_t{512} * 1024));
    REPLFS_ASSERT_OK(WriteFile(cluster.Mount(kB, name), kept.back().second));
  }
  REPLFS_ASSERT_OK(cluster.WaitForConvergence());
  auto kept_intact = [&](int replica) -> std::string {
    for (const auto& [name, content] : kept) {
      absl::StatusOr<std::string> now = ReadFile(cluster.Mount(replica, name));
      if (!now.ok()) return now.status().ToString();
      if (*now != content) return absl::StrCat(name, " changed on replica ", replica);
    }
    return "";
  };

  // 1. Fill B through its mount: the write or the close fails with ENOSPC.
  const int fill_error = FillFile(cluster.Mount(kB, "filler"), 32u << 20);
  EXPECT_EQ(fill_error, ENOSPC) << "filling a 16 MiB disk: " << std::strerror(fill_error);
  // A new file on the full disk fails too, and is not half there. (It is
  // bigger than the metadata store's space reserve, 1/16 of this 16 MiB
  // disk: what the store hands itself from the reserve while the disk is
  // full is briefly free for anyone, so a file smaller than that may fit.)
  const int small_error = FillFile(cluster.Mount(kB, "small-on-full"), 2u << 20);
  EXPECT_EQ(small_error, ENOSPC) << std::strerror(small_error);
  struct stat filler_mount, filler_backing;
  ASSERT_EQ(::stat(cluster.Mount(kB, "filler").c_str(), &filler_mount), 0);
  ASSERT_EQ(::stat(cluster.Backing(kB, "filler").c_str(), &filler_backing), 0);
  std::printf("[disk-full] B full: %llu bytes free on its tmpfs; the failed filler has size %lld "
              "in the mount, %lld in the backing dir (%lld bytes allocated)\n",
              static_cast<unsigned long long>(FreeBytes(cluster.Backing(kB))),
              static_cast<long long>(filler_mount.st_size),
              static_cast<long long>(filler_backing.st_size),
              static_cast<long long>(filler_backing.st_blocks) * 512);
  EXPECT_EQ(kept_intact(kB), "");

  // 2. A writes a file bigger than B's free space. B pauses: it never shows
  // a partial file, keeps running and serving reads.
  const std::string big = Pattern("big-from-a", 6u << 20);
  REPLFS_ASSERT_OK(WriteFile(cluster.Mount(kA, "big-from-a"), big));
  bool partial_seen = false;
  const bool arrived_while_full = WaitUntil(
      [&] {
        absl::StatusOr<std::string> on_b = ReadFile(cluster.Mount(kB, "big-from-a"));
        if (on_b.ok() && *on_b != big) partial_seen = true;
        return on_b.ok() && *on_b == big;
      },
      absl::Seconds(8), absl::Milliseconds(100));
  EXPECT_FALSE(partial_seen) << "B showed a partial big-from-a while full";
  EXPECT_FALSE(arrived_while_full) << "6 MiB arrived on a full 16 MiB disk?";
  EXPECT_EQ(kept_intact(kB), "");
  absl::StatusOr<ReplicaStatus> b_status = cluster.Status(kB);
  ASSERT_TRUE(b_status.ok()) << "B's replfs stopped answering while full: " << b_status.status()
                             << "\n" << cluster.Diagnostics();
  EXPECT_GT(cluster.replica(kB).pid(), 0);
  EXPECT_EQ(::kill(cluster.replica(kB).pid(), 0), 0) << "B's replfs died";
  for (const PeerStatus& peer : b_status->peers()) {
    std::printf("[disk-full] B's puller while full: %s\n", peer.ShortDebugString().c_str());
  }

  // 3. Free space on B through its mount: A's file arrives, intact.
  ASSERT_EQ(::unlink(cluster.Mount(kB, "filler").c_str()), 0) << std::strerror(errno);
  ::unlink(cluster.Mount(kB, "small-on-full").c_str());
  std::printf("[disk-full] after deleting the filler: %llu bytes free\n",
              static_cast<unsigned long long>(FreeBytes(cluster.Backing(kB))));
  const absl::Time freed = absl::Now();
  const bool arrived = WaitUntil(
      [&] {
        absl::StatusOr<std::string> on_b = ReadFile(cluster.Mount(kB, "big-from-a"));
        if (on_b.ok() && *on_b != big) partial_seen = true;
        return on_b.ok() && *on_b == big;
      },
      absl::Seconds(60), absl::Milliseconds(100));
  ASSERT_TRUE(arrived) << "big-from-a did not reach B within 60 s of freeing space\n"
                       << cluster.Diagnostics();
  EXPECT_FALSE(partial_seen);
  std::printf("[disk-full] big-from-a arrived on B %.1f s after space was freed\n",
              absl::ToDoubleSeconds(absl::Now() - freed));

  // 4. B works again both ways, and everything converges.
  REPLFS_ASSERT_OK(WriteFile(cluster.Mount(kB, "after"), Pattern("after", size_t{300} * 1024)));
  // Not an ASSERT: whether a restart repairs a divergence is worth seeing.
  const absl::Status converged = cluster.WaitForConvergence(absl::Seconds(60));
  EXPECT_TRUE(converged.ok()) << converged;
  EXPECT_EQ(kept_intact(kA), "");
  EXPECT_EQ(kept_intact(kB), "");

  absl::StatusOr<ReplicaStatus> before_restart = cluster.Status(kB);
  ASSERT_TRUE(before_restart.ok()) << before_restart.status();
  std::printf("[disk-full] B's commit failures while full: %llu\n",
              static_cast<unsigned long long>(before_restart->commit_failures()));

  // 5. The store opens: B stops cleanly and starts again over the same
  // backing directory, and still agrees with A.
  REPLFS_ASSERT_OK(cluster.Stop(kB));
  REPLFS_ASSERT_OK(cluster.Start(kB));
  REPLFS_ASSERT_OK(cluster.WaitForConvergence(absl::Seconds(60)));
  EXPECT_EQ(kept_intact(kB), "");
  absl::StatusOr<std::string> big_on_b = ReadFile(cluster.Mount(kB, "big-from-a"));
  ASSERT_TRUE(big_on_b.ok()) << big_on_b.status();
  EXPECT_EQ(*big_on_b == big, true);
  // Both stores describe the same tree (the start-up scan found nothing
  // the store had wrong that it could not repair).
  absl::StatusOr<ReplicaStatus> restarted = cluster.Status(kB);
  absl::StatusOr<ReplicaStatus> on_a = cluster.Status(kA);
  ASSERT_TRUE(restarted.ok() && on_a.ok()) << restarted.status() << on_a.status();
  EXPECT_EQ(restarted->entries(), on_a->entries()) << restarted->ShortDebugString() << "\n"
                                                   << on_a->ShortDebugString();
}

}  // namespace
}  // namespace replfs::testing
