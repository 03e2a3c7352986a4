// File versions (-o keep_versions, -o versions_max) on real replicas: what
// a change takes out of the tree (a deletion here or by a peer, an in-place
// rewrite, a rename over a file, a conflict's loser) is listed by
// `replfs-status --versions` and put back by `--restore`, on one replica,
// and the restore replicates to every replica. Kept versions stay within
// their cap, cost no copy of a deleted file, and give way to a user's write
// on a full disk.
#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "base/unique_fd.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "storage/content_hasher.h"
#include "tests/cluster.h"
#include "tests/support/child_process.h"
#include "tests/support/replica_process.h"

namespace replfs::testing {
namespace {

using google::protobuf::Struct;
using google::protobuf::Value;

constexpr int kA = 0;
constexpr int kB = 1;
constexpr int kC = 2;
constexpr uint64_t kMiB = uint64_t{1} << 20;

// One replfs-status run: its exit status, stdout and stderr.
struct ToolRun {
  int exit_code = -1;
  std::string out;
  std::string err;
  std::string Describe() const {
    return absl::StrCat("exit ", exit_code, "\n--- stdout ---\n", out, "--- stderr ---\n", err);
  }
};

// Runs replfs-status with `args`, its output to files in the cluster's temp
// dir; killed (by its PID) after 60 s.
ToolRun RunStatusTool(const Cluster& cluster, const std::vector<std::string>& args) {
  static int counter = 0;
  const std::string out_path = cluster.TempPath(absl::StrCat("replfs-status-", ++counter, ".out"));
  const std::string err_path = out_path + ".err";
  std::vector<std::string> argv = {REPLFS_STATUS_BINARY_PATH};
  argv.insert(argv.end(), args.begin(), args.end());
  ChildOptions output;
  output.stdout_path = out_path;
  output.stderr_path = err_path;
  ToolRun run;
  run.exit_code = RunChild(argv, output, absl::Seconds(60));
  run.out = ReadWholeFile(out_path);
  run.err = ReadWholeFile(err_path);
  return run;
}

// A version ID: "<kept ms, 13 digits>-<serial, 8 hex digits>".
bool IsVersionId(absl::string_view text) {
  if (text.size() != 22 || text[13] != '-') return false;
  for (size_t k = 0; k < 13; ++k) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(text[k]))) return false;
  }
  for (size_t k = 14; k < text.size(); ++k) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(text[k]))) return false;
  }
  return true;
}

// One line of `--versions`: ID, KEPT (date and time), SIZE, SHA256, ORIGIN, WHY.
struct ListedVersion {
  std::string id;
  uint64_t size = 0;
  std::string sha256;  // The first 12 hex digits, or "-".
  std::string why;
};

// The kept versions `--versions` lists: the lines that start with an ID
// (those of changes whose content was not kept start with "-").
std::vector<ListedVersion> ParseVersions(const std::string& out) {
  std::vector<ListedVersion> versions;
  for (absl::string_view line : absl::StrSplit(out, '\n')) {
    const std::vector<std::string> fields = absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (fields.size() < 7 || !IsVersionId(fields[0])) continue;
    ListedVersion version;
    version.id = fields[0];
    if (!absl::SimpleAtoi(fields[3], &version.size)) continue;
    version.sha256 = fields[4];
    version.why = absl::StrJoin(fields.begin() + 6, fields.end(), " ");
    versions.push_back(std::move(version));
  }
  return versions;
}

// `replfs-status --versions` of `relative` through replica i's mount.
struct Listing {
  ToolRun run;
  std::vector<ListedVersion> versions;
};

Listing ListVersions(const Cluster& cluster, int i, const std::string& relative) {
  Listing listing;
  listing.run = RunStatusTool(cluster, {"--versions", cluster.Mount(i, relative)});
  listing.versions = ParseVersions(listing.run.out);
  return listing;
}

// The first listed version whose WHY contains `why`.
const ListedVersion* FindWhy(const Listing& listing, const std::string& why) {
  for (const ListedVersion& version : listing.versions) {
    if (absl::StrContains(version.why, why)) return &version;
  }
  return nullptr;
}

// The status of replica i as `replfs-status MOUNT --json` reports it (its
// "status" object, a ReplicaStatus in proto3 JSON).
absl::StatusOr<Struct> JsonStatus(const Cluster& cluster, int i) {
  const ToolRun run = RunStatusTool(cluster, {cluster.Mount(i), "--json"});
  Struct json;
  if (!google::protobuf::util::JsonStringToMessage(run.out, &json).ok()) {
    return absl::InternalError(absl::StrCat("not JSON: ", run.Describe()));
  }
  auto replicas = json.fields().find("replicas");
  if (replicas == json.fields().end() || replicas->second.list_value().values_size() != 1) {
    return absl::InternalError(absl::StrCat("no single replica report: ", run.Describe()));
  }
  const Struct& report = replicas->second.list_value().values(0).struct_value();
  auto status = report.fields().find("status");
  if (status == report.fields().end() || !status->second.has_struct_value()) {
    return absl::InternalError(absl::StrCat("no status in the report: ", run.Describe()));
  }
  return status->second.struct_value();
}

// A uint64 field of a ReplicaStatus in proto3 JSON: a string (or a number),
// and left out when zero.
uint64_t JsonUint(const Struct& status, const std::string& key) {
  auto it = status.fields().find(key);
  if (it == status.fields().end()) return 0;
  const Value& value = it->second;
  if (value.has_number_value()) return static_cast<uint64_t>(value.number_value());
  uint64_t parsed = 0;
  return absl::SimpleAtoi(value.string_value(), &parsed) ? parsed : 0;
}

// A tree as the user sees it: relative path -> content, "<dir>" for a
// directory (the state folder at the top is left out).
using Tree = std::map<std::string, std::string>;

absl::Status SnapshotInto(const std::string& root, const std::string& relative, Tree* tree) {
  const std::string dir_path = relative.empty() ? root : absl::StrCat(root, "/", relative);
  DIR* dir = ::opendir(dir_path.c_str());
  if (dir == nullptr) return absl::ErrnoToStatus(errno, absl::StrCat("opendir ", dir_path));
  std::vector<std::string> names;
  while (const dirent* d = ::readdir(dir)) {
    const std::string name = d->d_name;
    if (name == "." || name == ".." || (relative.empty() && name == ".replfs")) continue;
    names.push_back(name);
  }
  ::closedir(dir);
  for (const std::string& name : names) {
    const std::string rel = relative.empty() ? name : absl::StrCat(relative, "/", name);
    const std::string full = absl::StrCat(root, "/", rel);
    struct stat st;
    if (::lstat(full.c_str(), &st) != 0) return absl::ErrnoToStatus(errno, "lstat " + full);
    if (S_ISDIR(st.st_mode)) {
      (*tree)[rel] = "<dir>";
      if (absl::Status s = SnapshotInto(root, rel, tree); !s.ok()) return s;
    } else {
      absl::StatusOr<std::string> content = ReadFile(full);
      if (!content.ok()) return content.status();
      (*tree)[rel] = *std::move(content);
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<Tree> Snapshot(const std::string& root) {
  Tree tree;
  if (absl::Status s = SnapshotInto(root, "", &tree); !s.ok()) return s;
  return tree;
}

// What differs between two trees, one line a path, for a failure message.
std::string TreeDiff(const Tree& want, const Tree& got) {
  std::string out;
  for (const auto& [path, content] : want) {
    auto it = got.find(path);
    if (it == got.end()) {
      absl::StrAppend(&out, "  missing ", path, "\n");
    } else if (it->second != content) {
      absl::StrAppend(&out, "  differs ", path, ": '", absl::CEscape(it->second.substr(0, 60)),
                      "' instead of '", absl::CEscape(content.substr(0, 60)), "'\n");
    }
  }
  for (const auto& [path, content] : got) {
    if (want.count(path) == 0) absl::StrAppend(&out, "  extra   ", path, "\n");
  }
  return out;
}

// write_bytes of /proc/PID/io: what the process caused to be written to
// storage (counted when it dirties page cache).
absl::StatusOr<uint64_t> ProcessWriteBytes(pid_t pid) {
  const std::string io = ReadWholeFile(absl::StrCat("/proc/", pid, "/io"));
  for (absl::string_view line : absl::StrSplit(io, '\n')) {
    if (!absl::ConsumePrefix(&line, "write_bytes:")) continue;
    uint64_t bytes = 0;
    if (absl::SimpleAtoi(absl::StripAsciiWhitespace(line), &bytes)) return bytes;
  }
  return absl::InternalError(absl::StrCat("no write_bytes in /proc/", pid, "/io: ", io));
}

// The ext4 lifetime write counter of the file system holding `path`, when
// it is ext4 (for the record only: other processes write to it too).
std::optional<uint64_t> Ext4LifetimeWriteKbytes(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  char target[256];
  const std::string link = absl::StrCat("/sys/dev/block/", major(st.st_dev), ":", minor(st.st_dev));
  const ssize_t n = ::readlink(link.c_str(), target, sizeof(target) - 1);
  if (n <= 0) return std::nullopt;
  const std::string device(target, static_cast<size_t>(n));
  const std::string name = device.substr(device.rfind('/') + 1);
  uint64_t kbytes = 0;
  const std::string text =
      ReadWholeFile(absl::StrCat("/sys/fs/ext4/", name, "/lifetime_write_kbytes"));
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(text), &kbytes)) return std::nullopt;
  return kbytes;
}

uint64_t FreeBytes(const std::string& path) {
  struct statvfs vfs;
  if (::statvfs(path.c_str(), &vfs) != 0) return 0;
  return static_cast<uint64_t>(vfs.f_bavail) * vfs.f_frsize;
}

// Piece `index` of a large file: 1 MiB from `base`, its first bytes the
// index (so no two pieces are alike).
void MakePiece(const std::string& base, uint64_t index, std::string* piece) {
  *piece = base;
  const std::string label = absl::StrCat(index, ":");
  piece->replace(0, label.size(), label);
}

// Opens the existing file `path` with `flags` (no O_TRUNC: the rest of the
// file stays), writes `bytes` at `offset` (or at the end, with O_APPEND)
// and closes it.
absl::Status WriteInPlace(const std::string& path, int flags, off_t offset,
                          const std::string& bytes) {
  UniqueFd fd(::open(path.c_str(), flags | O_CLOEXEC));
  if (!fd.valid()) return absl::ErrnoToStatus(errno, absl::StrCat("open ", path));
  const ssize_t n = (flags & O_APPEND) != 0
                        ? ::write(fd.get(), bytes.data(), bytes.size())
                        : ::pwrite(fd.get(), bytes.data(), bytes.size(), offset);
  if (n != static_cast<ssize_t>(bytes.size())) {
    return absl::ErrnoToStatus(errno, absl::StrCat("write ", path));
  }
  if (::close(fd.Release()) != 0) return absl::ErrnoToStatus(errno, absl::StrCat("close ", path));
  return absl::OkStatus();
}

// Writes `bytes` at `offset` of the existing file `path` through a shared
// mapping, as a program that maps its file does.
absl::Status WriteThroughMapping(const std::string& path, size_t offset, const std::string& bytes) {
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CLOEXEC));
  struct stat st;
  if (!fd.valid() || ::fstat(fd.get(), &st) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("open ", path));
  }
  const size_t length = static_cast<size_t>(st.st_size);
  if (offset + bytes.size() > length) return absl::InvalidArgumentError("past the end");
  void* map = ::mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
  if (map == MAP_FAILED) return absl::ErrnoToStatus(errno, absl::StrCat("mmap ", path));
  std::memcpy(static_cast<char*>(map) + offset, bytes.data(), bytes.size());
  const bool synced = ::msync(map, length, MS_SYNC) == 0;
  const int sync_error = errno;
  ::munmap(map, length);
  if (!synced) return absl::ErrnoToStatus(sync_error, absl::StrCat("msync ", path));
  if (::close(fd.Release()) != 0) return absl::ErrnoToStatus(errno, absl::StrCat("close ", path));
  return absl::OkStatus();
}

// Opens the existing file `path` read-write, reads it and closes it
// without writing.
absl::Status OpenReadWriteWithoutWriting(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CLOEXEC));
  if (!fd.valid()) return absl::ErrnoToStatus(errno, absl::StrCat("open ", path));
  char buffer[512];
  if (::pread(fd.get(), buffer, sizeof(buffer), 0) < 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("read ", path));
  }
  if (::close(fd.Release()) != 0) return absl::ErrnoToStatus(errno, absl::StrCat("close ", path));
  return absl::OkStatus();
}

// The first 12 hex digits of the SHA-256 of `content`, as `--versions` lists it.
std::string ShortSha(const std::string& content) {
  return absl::BytesToHexString(Sha256(content)).substr(0, 12);
}

// Writes `size` bytes to a new (or truncated) file in 1 MiB pieces
// (MakePiece). The first write or close that failed, as an error.
absl::Status WriteLargeFile(const std::string& path, uint64_t size, uint64_t seed) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd.valid()) return absl::ErrnoToStatus(errno, absl::StrCat("open ", path));
  const std::string base = IncompressibleBytes(kMiB, seed);
  std::string piece;
  for (uint64_t done = 0; done < size;) {
    if (done % kMiB == 0) MakePiece(base, done / kMiB, &piece);
    // The rest of the current piece (a short write leaves part of it).
    const size_t at = static_cast<size_t>(done % kMiB);
    const size_t want = static_cast<size_t>(std::min<uint64_t>(kMiB - at, size - done));
    const ssize_t n = ::write(fd.get(), piece.data() + at, want);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return absl::ErrnoToStatus(errno, absl::StrCat("write ", path, " at ", done));
    done += static_cast<uint64_t>(n);
  }
  if (::close(fd.Release()) != 0) return absl::ErrnoToStatus(errno, absl::StrCat("close ", path));
  return absl::OkStatus();
}

// Whether `path` holds what WriteLargeFile(path, size, seed) wrote; the
// first MiB that differs otherwise.
absl::Status VerifyLargeFile(const std::string& path, uint64_t size, uint64_t seed) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return absl::ErrnoToStatus(errno, absl::StrCat("open ", path));
  const std::string base = IncompressibleBytes(kMiB, seed);
  std::string piece;
  std::string read(kMiB, '\0');
  for (uint64_t index = 0; index * kMiB < size; ++index) {
    MakePiece(base, index, &piece);
    piece.resize(static_cast<size_t>(std::min<uint64_t>(kMiB, size - index * kMiB)));
    size_t filled = 0;
    while (filled < piece.size()) {
      const ssize_t n = ::pread(fd.get(), read.data() + filled, piece.size() - filled,
                                static_cast<off_t>(index * kMiB + filled));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return absl::ErrnoToStatus(errno, absl::StrCat("read ", path));
      if (n == 0) break;
      filled += static_cast<size_t>(n);
    }
    if (filled != piece.size() || read.compare(0, filled, piece) != 0) {
      return absl::DataLossError(absl::StrCat(path, ": MiB ", index, " is not what was written"));
    }
  }
  return absl::OkStatus();
}

// A tmpfs mounted for one test, unmounted when the guard dies whatever
// happened (the fixture declares it before the cluster: it goes after the
// replica on it has stopped).
class TmpfsMount {
 public:
  TmpfsMount() = default;
  ~TmpfsMount() {
    if (!path_.empty() && IsMountpoint(path_)) RunChild({"umount", "-l", path_});
  }
  TmpfsMount(const TmpfsMount&) = delete;
  TmpfsMount& operator=(const TmpfsMount&) = delete;
  absl::Status Mount(const std::string& path, const std::string& size) {
    if (RunChild({"mount", "-t", "tmpfs", "-o", absl::StrCat("size=", size), "tmpfs", path}) !=
        0) {
      return absl::InternalError(absl::StrCat("mount -t tmpfs on ", path, " failed"));
    }
    path_ = path;
    return absl::OkStatus();
  }

 private:
  std::string path_;
};

class VersionsTest : public ::testing::Test {
 protected:
  // A cluster of `replicas` (full mesh), kept by the fixture so a test can
  // end it early; started by the test (which may add arguments or mount
  // things first).
  Cluster& MakeCluster(int replicas) {
    cluster_ = std::make_unique<Cluster>(replicas);
    return *cluster_;
  }

  // Waits until replica i shows `content` at `relative`, reporting what it
  // shows otherwise.
  ::testing::AssertionResult HasContent(int i, const std::string& relative,
                                        const std::string& content,
                                        absl::Duration timeout = absl::Seconds(30)) const {
    if (cluster_->WaitForContent(i, relative, content, timeout)) {
      return ::testing::AssertionSuccess();
    }
    const std::string now = cluster_->Content(i, relative);
    return ::testing::AssertionFailure()
           << "replica " << i << " shows " << relative << " as '"
           << absl::CEscape(now.substr(0, 80)) << "' (" << now.size() << " bytes), not the "
           << content.size() << " bytes expected\n"
           << cluster_->Diagnostics();
  }

  // Waits until `relative` is gone from replica i.
  ::testing::AssertionResult IsGone(int i, const std::string& relative,
                                    absl::Duration timeout = absl::Seconds(30)) const {
    if (WaitUntil([&] { return !cluster_->Exists(i, relative); }, timeout,
                  absl::Milliseconds(100))) {
      return ::testing::AssertionSuccess();
    }
    return ::testing::AssertionFailure() << relative << " is still on replica " << i << "\n"
                                         << cluster_->Diagnostics();
  }

  // Polls `--versions` of `relative` on replica i until it lists a version
  // whose WHY contains `why` (versions of a peer's change are recorded as
  // the change is applied, a local one's by the commit worker).
  Listing WaitForVersion(int i, const std::string& relative, const std::string& why,
                         absl::Duration timeout = absl::Seconds(20)) const {
    Listing listing;
    WaitUntil(
        [&] {
          listing = ListVersions(*cluster_, i, relative);
          return FindWhy(listing, why) != nullptr;
        },
        timeout, absl::Milliseconds(200));
    return listing;
  }

  // Declared first, destroyed last: after the replicas on it have stopped.
  TmpfsMount tmpfs_;
  std::unique_ptr<Cluster> cluster_;
};

// A file deleted on A is kept on B as "deleted by" A's node; restoring it
// from B writes it through B's mount, so A and C get it back too.
TEST_F(VersionsTest, DeletedOnAListedAndRestoredFromBReachesEveryReplica) {
  Cluster& cluster = MakeCluster(3);
  REPLFS_ASSERT_OK(cluster.init_status());
  REPLFS_ASSERT_OK(cluster.StartAll());
  const std::string content = "the report, final version\n" + std::string(5000, 'r');
  REPLFS_ASSERT_OK(WriteFile(cluster.Mount(kA, "report.txt"), content));
  ASSERT_TRUE(HasContent(kB, "report.txt", content));
  ASSERT_TRUE(HasContent(kC, "report.txt", content));

  ASSERT_EQ(::unlink(cluster.Mount(kA, "report.txt").c_str()), 0) << std::strerror(errno);
  ASSERT_TRUE(IsGone(kB, "report.txt"));
  ASSERT_TRUE(IsGone(kC, "report.txt"));

  const Listing listing = WaitForVersion(kB, "report.txt", "deleted by");
  ASSERT_EQ(listing.run.exit_code, 0) << listing.run.Describe();
  ASSERT_EQ(listing.versions.size(), 1u) << listing.run.Describe();
  const ListedVersion& version = listing.versions.front();
  EXPECT_TRUE(absl::StrContains(version.why, "deleted by")) << listing.run.Describe();
  EXPECT_EQ(version.size, content.size()) << listing.run.Describe();
  EXPECT_EQ(version.sha256, ShortSha(content))
      << listing.run.Describe();

  const ToolRun restore = RunStatusTool(
      cluster, {"--restore", cluster.Mount(kB, "report.txt"), "--version", version.id});
  ASSERT_EQ(restore.exit_code, 0) << restore.Describe();
  for (int i : {kA, kB, kC}) EXPECT_TRUE(HasContent(i, "report.txt", content));
}

// A file written over in place, as `dd conv=notrunc`, fopen "r+" and a
// shared mapping do, keeps the content each writer found before its first
// write; opens that write nothing and an append (which leaves the old bytes
// where they were) keep nothing. A kept version restores, and the restore
// reaches the other replica.
TEST_F(VersionsTest, InPlaceRewritesKeepTheContentTheyWriteOver) {
  Cluster& cluster = MakeCluster(2);
  REPLFS_ASSERT_OK(cluster.init_status());
  REPLFS_ASSERT_OK(cluster.StartAll());
  const std::string path = cluster.Mount(kA, "page.html");
  const std::string v1 = "version one\n" + std::string(6000, '1');
  REPLFS_ASSERT_OK(WriteFile(path, v1));
  ASSERT_TRUE(HasContent(kB, "page.html", v1));

  // `dd conv=notrunc`: O_WRONLY without O_TRUNC.
  std::string v2 = v1;
  v2.replace(0, 11, "VERSION TWO");
  REPLFS_ASSERT_OK(WriteInPlace(path, O_WRONLY, 0, "VERSION TWO"));
  // fopen "r+".
  std::string v3 = v2;
  v3.replace(100, 5, "three");
  REPLFS_ASSERT_OK(WriteInPlace(path, O_RDWR, 100, "three"));
  // A shared mapping.
  std::string v4 = v3;
  v4.replace(5000, 4, "four");
  REPLFS_ASSERT_OK(WriteThroughMapping(path, 5000, "four"));
  // Opened read-write twice and never written, then appended to.
  REPLFS_ASSERT_OK(OpenReadWriteWithoutWriting(path));
  REPLFS_ASSERT_OK(OpenReadWriteWithoutWriting(path));
  const std::string v5 = v4 + "appended\n";
  REPLFS_ASSERT_OK(WriteInPlace(path, O_WRONLY | O_APPEND, 0, "appended\n"));
  ASSERT_TRUE(HasContent(kA, "page.html", v5));
  // A truncation last: the commit worker records in order, so once its
  // version is listed every record queued before it is in the store.
  REPLFS_ASSERT_OK(WriteFile(path, "final\n"));
  ASSERT_TRUE(HasContent(kB, "page.html", "final\n"));

  const Listing listing = WaitForVersion(kA, "page.html", "truncated here");
  ASSERT_EQ(listing.run.exit_code, 0) << listing.run.Describe();
  std::multiset<std::string> rewritten, truncated;
  for (const ListedVersion& version : listing.versions) {
    if (version.why == "rewritten here") rewritten.insert(version.sha256);
    if (version.why == "truncated here") truncated.insert(version.sha256);
  }
  EXPECT_EQ(rewritten, (std::multiset<std::string>{ShortSha(v1), ShortSha(v2), ShortSha(v3)}))
      << "v1 " << ShortSha(v1) << ", v2 " << ShortSha(v2) << ", v3 " << ShortSha(v3) << ", v4 "
      << ShortSha(v4) << "\n"
      << listing.run.Describe();
  EXPECT_EQ(truncated, std::multiset<std::string>{ShortSha(v5)}) << listing.run.Describe();
  EXPECT_EQ(listing.versions.size(), 4u) << listing.run.Describe();

  const ListedVersion* second = nullptr;
  for (const ListedVersion& version : listing.versions) {
    if (version.sha256 == ShortSha(v2)) second = &version;
  }
  ASSERT_NE(second, nullptr) << listing.run.Describe();
  EXPECT_EQ(second->size, v2.size());
  const ToolRun restore = RunStatusTool(cluster, {"--restore", path, "--version", second->id});
  ASSERT_EQ(restore.exit_code, 0) << restore.Describe();
  for (int i : {kA, kB}) EXPECT_TRUE(HasContent(i, "page.html", v2));
}

// The target of the symbolic link `path`; empty when it is not one.
std::string LinkTarget(const std::string& path) {
  char target[PATH_MAX];
  const ssize_t n = ::readlink(path.c_str(), target, sizeof(target));
  return n > 0 ? std::string(target, static_cast<size_t>(n)) : std::string();
}

// A symbolic link switched by a rename over it (a release switch, as
// `ln -sfn` makes one) or deleted is kept as a link, on the replica that
// changed it and on its peer; restored from the peer, the link comes back
// with its target on both.
TEST_F(VersionsTest, SymlinksReplacedOrDeletedAreKeptAndRestored) {
  Cluster& cluster = MakeCluster(2);
  REPLFS_ASSERT_OK(cluster.init_status());
  REPLFS_ASSERT_OK(cluster.StartAll());
  const auto link_on = [&](int i) { return LinkTarget(cluster.Mount(i, "current")); };
  const auto has_link = [&](int i, const std::string& target) {
    return WaitUntil([&] { return link_on(i) == target; }, absl::Seconds(30),
                     absl::Milliseconds(50));
  };
  ASSERT_EQ(::symlink("releases/v1", cluster.Mount(kA, "current").c_str()), 0)
      << std::strerror(errno);
  ASSERT_TRUE(has_link(kB, "releases/v1")) << cluster.Diagnostics();

  ASSERT_EQ(::symlink("releases/v2", cluster.Mount(kA, "current.new").c_str()), 0)
      << std::strerror(errno);
  ASSERT_EQ(::rename(cluster.Mount(kA, "current.new").c_str(),
                     cluster.Mount(kA, "current").c_str()),
            0)
      << std::strerror(errno);
  ASSERT_TRUE(has_link(kB, "releases/v2")) << cluster.Diagnostics();
  ASSERT_EQ(::unlink(cluster.Mount(kA, "current").c_str()), 0) << std::strerror(errno);
  ASSERT_TRUE(WaitUntil([&] { return link_on(kB).empty(); }, absl::Seconds(30),
                        absl::Milliseconds(50)))
      << cluster.Diagnostics();

  // Both links are kept on both replicas, as links (no hash: no content).
  const Listing on_a = WaitForVersion(kA, "current", "deleted here");
  ASSERT_NE(FindWhy(on_a, "renamed over here"), nullptr) << on_a.run.Describe();
  const Listing on_b = WaitForVersion(kB, "current", "deleted by");
  const ListedVersion* replaced = FindWhy(on_b, "replaced by");
  ASSERT_NE(replaced, nullptr) << on_b.run.Describe();
  for (const Listing* listing : {&on_a, &on_b}) {
    ASSERT_EQ(listing->versions.size(), 2u) << listing->run.Describe();
    for (const ListedVersion& version : listing->versions) {
      EXPECT_TRUE(absl::EndsWith(version.why, "(a symbolic link)")) << listing->run.Describe();
      EXPECT_EQ(version.size, std::string("releases/v1").size()) << listing->run.Describe();
    }
  }

  const ToolRun restore = RunStatusTool(
      cluster, {"--restore", cluster.Mount(kB, "current"), "--version", replaced->id});
  ASSERT_EQ(restore.exit_code, 0) << restore.Describe();
  for (int i : {kA, kB}) {
    EXPECT_TRUE(has_link(i, "releases/v1")) << "replica " << i << " links to '" << link_on(i)
                                            << "'\n"
                                            << cluster.Diagnostics();
  }
}

// A file open on B that A replaces (by rename, as rsync does) or deletes
// is kept on B by a link in versions/; through B's open handles it reads as
// before and has no links left, as natively: the link in versions/ is not
// one of the tree's, and the kernel does not keep the count it cached.
TEST_F(VersionsTest, AFileAPeerReplacesOrDeletesHasNoLinksThroughItsOpenHandles) {
  Cluster& cluster = MakeCluster(2);
  REPLFS_ASSERT_OK(cluster.init_status());
  REPLFS_ASSERT_OK(cluster.StartAll());
  const std::string page = "<h1>the page as served</h1>\n";
  const std::string gone = "a page about to be deleted\n";
  REPLFS_ASSERT_OK(WriteFile(cluster.Mount(kA, "page.html"), page));
  REPLFS_ASSERT_OK(WriteFile(cluster.Mount(kA, "gone.html"), gone));
  ASSERT_TRUE(HasContent(kB, "page.html", page));
  ASSERT_TRUE(HasContent(kB, "gone.html", gone));
  UniqueFd replaced(::open(cluster.Mount(kB, "page.html").c_str(), O_RDONLY | O_CLOEXEC));
  UniqueFd deleted(::open(cluster.Mount(kB, "gone.html").c_str(), O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(replaced.valid() && deleted.valid()) << std::strerror(errno);
  struct stat st;
  ASSERT_EQ(::fstat(replaced.get(), &st), 0);
  ASSERT_EQ(st.st_nlink, 1u);

  const std::string new_page = "<h1>the page after the deploy</h1>\n";
  REPLFS_ASSERT_OK(WriteFile(cluster.Mount(kA, ".page.html.tmp"), new_page));
  ASSERT_EQ(::rename(cluster.Mount(kA, ".page.html.tmp").c_str(),
                     cluster.Mount(kA, "page.html").c_str()),
            0)
      << std::strerror(errno);
  ASSERT_EQ(::unlink(cluster.Mount(kA, "gone.html").c_str()), 0) << std::strerror(errno);
  ASSERT_TRUE(HasContent(kB, "page.html", new_page));
  ASSERT_TRUE(IsGone(kB, "gone.html"));
  // Recorded by the same transaction that replaced or removed the file.
  WaitForVersion(kB, "page.html", "replaced by");
  WaitForVersion(kB, "gone.html", "deleted by");

  for (const std::pair<int, const char*>& handle :
       {std::pair{replaced.get(), "the replaced page"},
        std::pair{deleted.get(), "the deleted page"}}) {
    const int fd = handle.first;
    nlink_t links = 1;
    WaitUntil(
        [&] { return ::fstat(fd, &st) == 0 && (links = st.st_nlink) == 0; }, absl::Seconds(5),
        absl::Milliseconds(50));
    EXPECT_EQ(links, 0u) << handle.second << " still counts a link through its open handle";
  }
  char buffer[256];
  const ssize_t n = ::pread(replaced.get(), buffer, sizeof buffer, 0);
  ASSERT_GE(n, 0) << std::strerror(errno);
  EXPECT_EQ(std::string(buffer, static_cast<size_t>(n)), page);
}

// A deploy on A (files rewritten in place, one replaced by rename as rsync
// does, files and a directory added, files deleted) is undone from B with
// --as-of a time before it: first a dry run that changes nothing, then
// --exact, after which every replica's site/ is the tree from before.
TEST_F(VersionsTest, AsOfRestoreUndoesADeployOnEveryReplica) {
  Cluster& cluster = MakeCluster(3);
  REPLFS_ASSERT_OK(cluster.init_status());
  REPLFS_ASSERT_OK(cluster.StartAll());
  for (const char* dir : {"site", "site/img"}) {
    ASSERT_EQ(::mkdir(cluster.Mount(kA, dir).c_str(), 0755), 0) << dir;
  }
  const std::vector<std::pair<std::string, std::string>> before_deploy = {
      {"site/index.html", "<h1>Welcome</h1>\n"},
      {"site/about.html", "<p>About us, version 1</p>\n"},
      {"site/style.css", "body { color: #333; }\n"},
      {"site/app.js", "console.log('v1');\n" + std::string(6000, 'j')},
      {"site/img/logo.svg", "<svg>logo v1</svg>\n"},
      {"site/img/bg.txt", "background v1\n"},
  };
  for (const auto& [path, content] : before_deploy) {
    REPLFS_ASSERT_OK(WriteFile(cluster.Mount(kA, path), content));
  }
  REPLFS_ASSERT_OK(cluster.WaitForConvergence(absl::Seconds(30)));
  absl::StatusOr<Tree> original = Snapshot(cluster.Mount(kA, "site"));
  ASSERT_TRUE(original.ok()) << original.status();
  ASSERT_EQ(original->size(), 7u);  // Six files and img/.

  // Whole seconds apart from both sides: T is after every original
  // version began and before any change of the deploy.
  absl::SleepFor(absl::Milliseconds(1200));
  const std::time_t as_of = std::time(nullptr);
  absl::SleepFor(absl::Milliseconds(1200));

  // The deploy, on A.
  REPLFS_ASSERT_OK(WriteFile(cluster.Mount(kA, "site/index.html"), "<h1>Welcome v2</h1>\n"));
  REPLFS_ASSERT_OK(WriteFile(cluster.Mount(kA, "site/style.css"), "body { color: red; }\n"));
  REPLFS_ASSERT_OK(WriteFile(cluster.Mount(kA, "site/.app.js.Xy12Ab"), "console.log('v2');\n"));
  ASSERT_EQ(::rename(cluster.Mount(kA, "site/.app.js.Xy12Ab").c_str(),
                     cluster.Mount(kA, "site/app.js").c_str()),
            0)
      << std::strerror(errno);
  REPLFS_ASSERT_OK(WriteFile(cluster.Mount(kA, "site/new.html"), "<p>new page</p>\n"));
  REPLFS_ASSERT_OK(WriteFile(cluster.Mount(kA, "site/img/new.svg"), "<svg>new</svg>\n"));
  ASSERT_EQ(::mkdir(cluster.Mount(kA, "site/blog").c_str(), 0755), 0);
  REPLFS_ASSERT_OK(WriteFile(cluster.Mount(kA, "site/blog/post1.html"), "<p>first post</p>\n"));
  ASSERT_EQ(::unlink(cluster.Mount(kA, "site/about.html").c_str()), 0);
  ASSERT_EQ(::unlink(cluster.Mount(kA, "site/img/bg.txt").c_str()), 0);
  REPLFS_ASSERT_OK(cluster.WaitForConvergence(absl::Seconds(30)));
  absl::StatusOr<Tree> deployed = Snapshot(cluster.Mount(kB, "site"));
  ASSERT_TRUE(deployed.ok()) << deployed.status();
  ASSERT_NE(*deployed, *original);

  const std::string at = absl::StrCat("@", as_of);
  const ToolRun dry = RunStatusTool(
      cluster, {"--restore", cluster.Mount(kB, "site"), "--as-of", at, "--dry-run"});
  EXPECT_EQ(dry.exit_code, 0) << dry.Describe();
  // A dry run changes nothing, anywhere (a bounded look: a change it made
  // would have shown on B at once).
  absl::SleepFor(absl::Milliseconds(500));
  for (int i : {kA, kB, kC}) {
    absl::StatusOr<Tree> now = Snapshot(cluster.Mount(i, "site"));
    ASSERT_TRUE(now.ok()) << now.status();
    EXPECT_EQ(*now, *deployed) << "the dry run changed replica " << i << ":\n"
                               << TreeDiff(*deployed, *now) << dry.Describe();
  }
  EXPECT_EQ(cluster.Content(kB, "site/index.html"), "<h1>Welcome v2</h1>\n");

  const ToolRun restore = RunStatusTool(
      cluster, {"--restore", cluster.Mount(kB, "site"), "--as-of", at, "--exact"});
  EXPECT_EQ(restore.exit_code, 0) << restore.Describe();
  for (int i : {kA, kB, kC}) {
    absl::StatusOr<Tree> now;
    const bool restored = WaitUntil(
        [&] {
          now = Snapshot(cluster.Mount(i, "site"));
          return now.ok() && *now == *original;
        },
        absl::Seconds(30), absl::Milliseconds(200));
    EXPECT_TRUE(restored) << "replica " << i << "'s site/ is not the tree from before the deploy:\n"
                          << (now.ok() ? TreeDiff(*original, *now) : now.status().ToString())
                          << restore.Describe() << cluster.Diagnostics();
  }
}

// Concurrent writes on A and B (each holds its file open until both
// wrote, as replication_conflict_test provokes them): the replica that
// keeps the loser as a conflict copy lists it as a version "lost a
// conflict", and restoring that version puts the loser's content back on
// every replica.
TEST_F(VersionsTest, ConflictLoserIsAVersion) {
  Cluster& cluster = MakeCluster(3);
  REPLFS_ASSERT_OK(cluster.init_status());
  REPLFS_ASSERT_OK(cluster.StartAll());
  REPLFS_ASSERT_OK(WriteFile(cluster.Mount(kA, "contested"), "original\n"));
  REPLFS_ASSERT_OK(cluster.WaitForConvergence());

  const std::string from_a = "written on A\n" + std::string(6000, 'a');  // Not inline.
  const std::string from_b = "written on B\n" + std::string(7000, 'b');
  UniqueFd on_a(::open(cluster.Mount(kA, "contested").c_str(), O_RDWR | O_CLOEXEC));
  UniqueFd on_b(::open(cluster.Mount(kB, "contested").c_str(), O_RDWR | O_CLOEXEC));
  ASSERT_TRUE(on_a.valid() && on_b.valid());
  for (const auto& [fd, content] : {std::pair<int, const std::string*>{on_a.get(), &from_a},
                                    std::pair<int, const std::string*>{on_b.get(), &from_b}}) {
    ASSERT_EQ(::ftruncate(fd, 0), 0) << std::strerror(errno);
    ASSERT_EQ(::pwrite(fd, content->data(), content->size(), 0),
              static_cast<ssize_t>(content->size()))
        << std::strerror(errno);
  }
  ASSERT_EQ(::close(on_a.Release()), 0);
  ASSERT_EQ(::close(on_b.Release()), 0);
  REPLFS_ASSERT_OK(cluster.WaitForConvergence());
  absl::StatusOr<std::string> winner = ReadFile(cluster.Mount(kA, "contested"));
  ASSERT_TRUE(winner.ok()) << winner.status();
  ASSERT_TRUE(*winner == from_a || *winner == from_b) << "neither write won: " << *winner;
  const std::string& loser = *winner == from_a ? from_b : from_a;
  const std::string loser_sha = ShortSha(loser);

  // Some replica (at least the loser's origin) lists the loser.
  int keeper = -1;
  ListedVersion kept;
  std::string listings;
  WaitUntil(
      [&] {
        listings.clear();
        for (int i : {kA, kB, kC}) {
          const Listing listing = ListVersions(cluster, i, "contested");
          absl::StrAppend(&listings, "replica ", i, ": ", listing.run.Describe());
          for (const ListedVersion& version : listing.versions) {
            if (absl::StrContains(version.why, "lost a conflict") && version.sha256 == loser_sha) {
              keeper = i;
              kept = version;
              return true;
            }
          }
        }
        return false;
      },
      absl::Seconds(20), absl::Milliseconds(300));
  ASSERT_GE(keeper, 0) << "no replica lists the loser (sha256 " << loser_sha
                       << ") as a version that lost a conflict\n"
                       << listings << cluster.Diagnostics();
  EXPECT_EQ(kept.size, loser.size());

  const ToolRun restore = RunStatusTool(
      cluster, {"--restore", cluster.Mount(keeper, "contested"), "--version", kept.id});
  ASSERT_EQ(restore.exit_code, 0) << restore.Describe();
  for (int i : {kA, kB, kC}) EXPECT_TRUE(HasContent(i, "contested", loser));
}

// -o versions_max=1M: six 300 KiB files deleted one after the other keep
// at most 1 MiB; the oldest go first, the newest stays.
TEST_F(VersionsTest, CapDropsOldestVersions) {
  Cluster& cluster = MakeCluster(1);
  REPLFS_ASSERT_OK(cluster.init_status());
  cluster.AddArguments(0, {"-o", "versions_max=1M"});
  REPLFS_ASSERT_OK(cluster.StartAll());
  constexpr int kFiles = 6;
  constexpr size_t kSize = size_t{300} << 10;
  auto name = [](int i) { return absl::StrCat("file", i, ".bin"); };
  for (int i = 0; i < kFiles; ++i) {
    const std::string content = IncompressibleBytes(kSize, 100u + static_cast<uint64_t>(i));
    REPLFS_ASSERT_OK(WriteFile(cluster.Mount(0, name(i)), content));
    if (i > 0) {
      ASSERT_EQ(::unlink(cluster.Mount(0, name(i - 1)).c_str()), 0) << name(i - 1);
    }
    // Kept times a little apart, so "oldest" is well defined.
    absl::SleepFor(absl::Milliseconds(50));
  }
  ASSERT_EQ(::unlink(cluster.Mount(0, name(kFiles - 1)).c_str()), 0);

  absl::StatusOr<Struct> status;
  const bool within_cap = WaitUntil(
      [&] {
        status = JsonStatus(cluster, 0);
        return status.ok() && JsonUint(*status, "versions_kept") > 0 &&
               JsonUint(*status, "versions_bytes") <= kMiB;
      },
      absl::Seconds(10), absl::Milliseconds(200));
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_TRUE(within_cap) << "versions_bytes " << JsonUint(*status, "versions_bytes")
                          << " over the 1 MiB cap after 10 s\n"
                          << status->ShortDebugString();
  EXPECT_EQ(JsonUint(*status, "versions_max_bytes"), kMiB) << status->ShortDebugString();

  const Listing newest = ListVersions(cluster, 0, name(kFiles - 1));
  EXPECT_EQ(newest.run.exit_code, 0) << newest.run.Describe();
  EXPECT_NE(FindWhy(newest, "deleted here"), nullptr)
      << "the newest deleted file is not kept\n" << newest.run.Describe();
  const Listing oldest = ListVersions(cluster, 0, name(0));
  EXPECT_EQ(oldest.run.exit_code, 0) << oldest.run.Describe();
  EXPECT_TRUE(oldest.versions.empty())
      << "the oldest deleted file is still kept past the cap\n" << oldest.run.Describe();
}

// -o keep_versions=0: a deletion keeps nothing, and nothing is listed.
TEST_F(VersionsTest, KeepVersionsZeroKeepsNothing) {
  Cluster& cluster = MakeCluster(1);
  REPLFS_ASSERT_OK(cluster.init_status());
  cluster.AddArguments(0, {"-o", "keep_versions=0"});
  REPLFS_ASSERT_OK(cluster.StartAll());
  REPLFS_ASSERT_OK(WriteFile(cluster.Mount(0, "gone.txt"), "not to be kept\n"));
  ASSERT_EQ(::unlink(cluster.Mount(0, "gone.txt").c_str()), 0);
  // A kept version would be recorded by the commit worker within moments.
  absl::SleepFor(absl::Seconds(1));

  const Listing listing = ListVersions(cluster, 0, "gone.txt");
  EXPECT_EQ(listing.run.exit_code, 0) << listing.run.Describe();
  EXPECT_TRUE(listing.versions.empty()) << listing.run.Describe();
  for (absl::string_view line : absl::StrSplit(listing.run.out, '\n')) {
    const std::vector<std::string> fields = absl::StrSplit(line, ' ', absl::SkipEmpty());
    EXPECT_TRUE(fields.empty() || (!IsVersionId(fields[0]) && fields[0] != "-"))
        << "a version line: " << line;
  }
  const ToolRun root = RunStatusTool(cluster, {"--versions", cluster.Mount(0)});
  EXPECT_EQ(root.exit_code, 0) << root.Describe();
  EXPECT_TRUE(ParseVersions(root.out).empty()) << root.Describe();

  const std::string versions_dir = cluster.replica(0).StateDir() + "/versions";
  std::vector<std::string> inside;
  if (DIR* dir = ::opendir(versions_dir.c_str()); dir != nullptr) {
    while (const dirent* d = ::readdir(dir)) {
      const std::string name = d->d_name;
      if (name != "." && name != "..") inside.push_back(name);
    }
    ::closedir(dir);
  }
  EXPECT_TRUE(inside.empty()) << versions_dir << " holds " << absl::StrJoin(inside, ", ");

  absl::StatusOr<Struct> status = JsonStatus(cluster, 0);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(JsonUint(*status, "versions_kept"), 0u) << status->ShortDebugString();
  EXPECT_EQ(JsonUint(*status, "keep_versions_days"), 0u) << status->ShortDebugString();
}

// Deleting a 1 GiB file keeps it by a move: the daemon writes next to
// nothing, free space does not drop by the file's size, and the kept file
// has it all.
TEST_F(VersionsTest, DeletingALargeFileCopiesNothing) {
  Cluster& cluster = MakeCluster(1);
  REPLFS_ASSERT_OK(cluster.init_status());
  REPLFS_ASSERT_OK(cluster.StartAll());
  constexpr uint64_t kSize = uint64_t{1} << 30;
  REPLFS_ASSERT_OK(WriteLargeFile(cluster.Mount(0, "big.img"), kSize, 42));
  // Its commit (hashing 1 GiB) done before the delete is measured.
  absl::StatusOr<ReplicaStatus> status;
  const bool committed = WaitUntil(
      [&] {
        status = cluster.Status(0);
        return status.ok() && status->pending_commits() == 0;
      },
      absl::Seconds(120), absl::Milliseconds(200));
  ASSERT_TRUE(committed) << (status.ok() ? status->ShortDebugString() : status.status().ToString());
  absl::SleepFor(absl::Seconds(1));
  // Written data on its way to the disk now, not during the delete.
  const UniqueFd backing(::open(cluster.Backing(0).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  ASSERT_TRUE(backing.valid());
  ASSERT_EQ(::syncfs(backing.get()), 0) << std::strerror(errno);

  const pid_t daemon = cluster.replica(0).pid();
  ASSERT_GT(daemon, 0);
  absl::StatusOr<uint64_t> written_before = ProcessWriteBytes(daemon);
  ASSERT_TRUE(written_before.ok()) << written_before.status();
  const uint64_t free_before = FreeBytes(cluster.Backing(0));
  const std::optional<uint64_t> disk_before = Ext4LifetimeWriteKbytes(cluster.Backing(0));

  ASSERT_EQ(::unlink(cluster.Mount(0, "big.img").c_str()), 0) << std::strerror(errno);
  const Listing listing = WaitForVersion(0, "big.img", "deleted here");
  const ListedVersion* version = FindWhy(listing, "deleted here");
  ASSERT_NE(version, nullptr) << listing.run.Describe() << cluster.Diagnostics();
  EXPECT_EQ(version->size, kSize) << listing.run.Describe();
  ASSERT_EQ(::syncfs(backing.get()), 0) << std::strerror(errno);

  absl::StatusOr<uint64_t> written_after = ProcessWriteBytes(daemon);
  ASSERT_TRUE(written_after.ok()) << written_after.status();
  const uint64_t free_after = FreeBytes(cluster.Backing(0));
  const std::optional<uint64_t> disk_after = Ext4LifetimeWriteKbytes(cluster.Backing(0));
  std::printf("[versions] deleting 1 GiB: the daemon wrote %llu bytes; free space %llu -> %llu",
              static_cast<unsigned long long>(*written_after - *written_before),
              static_cast<unsigned long long>(free_before),
              static_cast<unsigned long long>(free_after));
  if (disk_before.has_value() && disk_after.has_value()) {
    std::printf("; the disk took %llu KiB (from every process)",
                static_cast<unsigned long long>(*disk_after - *disk_before));
  }
  std::printf("\n");
  EXPECT_LT(*written_after - *written_before, 4 * kMiB)
      << "the daemon wrote as much as a copy of the deleted file";
  // A copy would take the file's size; other processes may write a little.
  EXPECT_GT(free_after + kSize / 2, free_before)
      << "free space dropped by " << (free_before - free_after) << " bytes across the delete";

  struct stat kept;
  const std::string kept_path = cluster.replica(0).StateDir() + "/versions/" + version->id;
  ASSERT_EQ(::stat(kept_path.c_str(), &kept), 0) << kept_path << ": " << std::strerror(errno);
  EXPECT_EQ(static_cast<uint64_t>(kept.st_size), kSize);
  const absl::Status intact = VerifyLargeFile(kept_path, kSize, 42);
  EXPECT_TRUE(intact.ok()) << intact;

  // The kept gigabyte goes with the cluster's temp dir.
  std::string root = cluster.TempPath("");
  if (!root.empty() && root.back() == '/') root.pop_back();
  ASSERT_TRUE(PathExists(kept_path));
  cluster_.reset();
  EXPECT_FALSE(PathExists(kept_path));
  EXPECT_FALSE(PathExists(root)) << root << " was left behind";
}

// The backing directory on a 64 MiB tmpfs, with file data through the
// daemon (-o passthrough=off), where a write's ENOSPC can make room: a
// deleted 40 MiB file is kept, and a new 40 MiB file, which only fits
// once that version is gone, is written without an error; the version is
// pruned for it.
TEST_F(VersionsTest, FullDiskPrunesVersionsForAWrite) {
  Cluster& cluster = MakeCluster(1);
  REPLFS_ASSERT_OK(cluster.init_status());
  REPLFS_ASSERT_OK(tmpfs_.Mount(cluster.Backing(0), "64m"));
  // The default cap (10 % of 64 MiB) would drop the 40 MiB version within
  // a second by itself: with room for it under the cap, only the write's
  // need for space can take it.
  cluster.AddArguments(0, {"-o", "passthrough=off", "-o", "versions_max=60M"});
  REPLFS_ASSERT_OK(cluster.StartAll());
  constexpr uint64_t kSize = 40 * kMiB;

  REPLFS_ASSERT_OK(WriteLargeFile(cluster.Mount(0, "first.bin"), kSize, 1));
  ASSERT_EQ(::unlink(cluster.Mount(0, "first.bin").c_str()), 0) << std::strerror(errno);
  const Listing listed = WaitForVersion(0, "first.bin", "deleted here");
  ASSERT_NE(FindWhy(listed, "deleted here"), nullptr) << listed.run.Describe()
                                                      << cluster.Diagnostics();
  // A few pruner rounds (one a second) later it is still kept: free space
  // is above the watermark and the version under the cap.
  absl::SleepFor(absl::Seconds(2.5));
  const Listing kept = ListVersions(cluster, 0, "first.bin");
  const ListedVersion* version = FindWhy(kept, "deleted here");
  ASSERT_NE(version, nullptr) << "the version went before any write needed its space\n"
                              << kept.run.Describe() << cluster.Diagnostics();
  EXPECT_EQ(version->size, kSize);
  const uint64_t free_with_version = FreeBytes(cluster.Backing(0));
  std::printf("[versions] 40 MiB kept on a 64 MiB tmpfs: %llu bytes free\n",
              static_cast<unsigned long long>(free_with_version));
  EXPECT_LT(free_with_version, kSize) << "the deleted file's space was freed: not kept?";

  // Every write and the close succeed: the kept version makes way.
  const absl::Status second = WriteLargeFile(cluster.Mount(0, "second.bin"), kSize, 2);
  EXPECT_TRUE(second.ok()) << second << "\n" << cluster.Diagnostics();
  // All of it: a write the daemon answered short, or failed in the
  // kernel's writeback, would leave a hole. The backing file is what is
  // stored; the mount may answer from pages the kernel still caches.
  for (const std::string& path :
       {cluster.Backing(0, "second.bin"), cluster.Mount(0, "second.bin")}) {
    const absl::Status intact = VerifyLargeFile(path, kSize, 2);
    EXPECT_TRUE(intact.ok()) << intact;
  }

  const Listing after = ListVersions(cluster, 0, "first.bin");
  EXPECT_EQ(after.run.exit_code, 0) << after.run.Describe();
  for (const ListedVersion& left : after.versions) {
    EXPECT_NE(left.id, version->id) << "the 40 MiB version was not pruned for the write\n"
                                      << after.run.Describe();
  }
}

}  // namespace
}  // namespace replfs::testing
