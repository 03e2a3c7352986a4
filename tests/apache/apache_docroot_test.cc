// Apache (Debian's apache2, its enabled modules, the default event MPM)
// serving a DocumentRoot on replica A's mount while the tree changes through
// replica B. Every expectation is first checked against the same Apache
// serving a native directory that receives the same operations, so the test
// asserts native semantics, not what replfs happens to do; then A must give
// the same answer within a bounded time: no stale bytes from the kernel's
// page cache or Apache's mmap, no stale names or permissions, never a
// half-written file.
//
// Apache runs privately: its own config, pid file, runtime dir and error log
// in the test's temp dir, on loopback ports, as www-data; it is stopped by
// PID whatever happens. The system's apache2 service is never used.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "base/unique_fd.h"
#include "gtest/gtest.h"
#include "tests/apache/apache_server.h"
#include "tests/apache/mirrored_tree.h"
#include "tests/http_client.h"
#include "tests/support/replica_process.h"

namespace replfs::testing {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;
using apache::ApacheServer;
using apache::ApacheSettings;
using apache::EnsureApacheInstalled;
using apache::MirroredTree;
using apache::Site;

// How long a change made on B may take to show on A.
constexpr seconds kPropagation{20};

// The last `bytes` of `text`, for failure messages.
std::string Tail(const std::string& text, size_t bytes = 3000) {
  return text.size() <= bytes ? text : text.substr(text.size() - bytes);
}

// `size` bytes that differ at every position for different `seed`s (so a
// mix of two versions never equals either).
std::string Pattern(size_t size, int seed) {
  std::string s(size, '\0');
  for (size_t i = 0; i < size; ++i) {
    s[i] = static_cast<char>('a' + static_cast<int>((i * 7 + static_cast<size_t>(seed) * 5 + i / 4096) % 26));
  }
  for (size_t i = 0; i + 1 < size; i += 64) s[i] = static_cast<char>('0' + seed % 10);
  return s;
}

std::string Describe(const absl::StatusOr<HttpResponse>& r) {
  if (!r.ok()) return r.status().ToString();
  const std::string preview = r->body.substr(0, 60);
  return absl::StrCat("status ", r->status, ", ", r->body.size(), " body bytes starting '", preview,
                      "'");
}

bool Matches(const absl::StatusOr<HttpResponse>& r, int status, const std::string& body) {
  // Error pages name the port, so only a 200's body is compared.
  return r.ok() && r->status == status && (status != 200 || r->body == body);
}

class ApacheDocrootTest : public ::testing::TestWithParam<ApacheSettings> {
 protected:
  static void SetUpTestSuite() {
    // Files and directories the test makes: 0644 / 0755, like a deploy.
    ::umask(022);
  }

  void SetUp() override {
    absl::StatusOr<std::string> binary = EnsureApacheInstalled();
    ASSERT_TRUE(binary.ok()) << binary.status();
    dir_ = std::make_unique<TempDir>("replfs-apache");
    // www-data must be able to walk from / to both document roots.
    ASSERT_EQ(::chmod(dir_->path().c_str(), 0755), 0);
    const std::string backing_a = dir_->Sub("a-backing"), backing_b = dir_->Sub("b-backing");
    native_ = dir_->Sub("native");
    for (const std::string& d : {backing_a, backing_b, native_}) ASSERT_EQ(::chmod(d.c_str(), 0755), 0);
    // Two replicas and two Apache sites; a port handed out twice made
    // Apache refuse "multiple Listeners on the same IP:port".
    absl::StatusOr<std::vector<int>> distinct_ports = DistinctLoopbackPorts(4);
    ASSERT_TRUE(distinct_ports.ok()) << distinct_ports.status();
    const std::vector<int>& ports = *distinct_ports;
    replica_a_ = std::make_unique<ReplicaProcess>(
        backing_a, dir_->Sub("a-mnt"),
        std::vector<std::string>{"-o", absl::StrCat("listen=127.0.0.1:", ports[0],
                                                    ",peers=127.0.0.1:", ports[1],
                                                    GetParam().writeback ? "" : ",writeback=off")});
    replica_b_ = std::make_unique<ReplicaProcess>(
        backing_b, dir_->Sub("b-mnt"),
        std::vector<std::string>{"-o", absl::StrCat("listen=127.0.0.1:", ports[1],
                                                    ",peers=127.0.0.1:", ports[0])});
    const absl::Status started_a = replica_a_->Start();
    ASSERT_TRUE(started_a.ok()) << started_a;
    const absl::Status started_b = replica_b_->Start();
    ASSERT_TRUE(started_b.ok()) << started_b;
    mount_port_ = ports[2];
    native_port_ = ports[3];
    apache_ = std::make_unique<ApacheServer>(
        *binary, dir_->Sub("apache"),
        std::vector<Site>{{mount_port_, replica_a_->mountpoint()}, {native_port_, native_}},
        GetParam());
    const absl::Status started = apache_->Start();
    ASSERT_TRUE(started.ok()) << started;
    tree_ = std::make_unique<MirroredTree>(replica_b_->mountpoint(), native_);
  }

  void TearDown() override {
    // Apache first: its workers must not hold anything on the mount.
    apache_.reset();
    replica_b_.reset();
    replica_a_.reset();
    dir_.reset();
  }

  // Asserts that natively `target` gives `status` (and `body` for a 200),
  // then waits until Apache on A's mount gives the same.
  ::testing::AssertionResult ServedOnA(const std::string& target, int status,
                                       const std::string& body = "") {
    const absl::StatusOr<HttpResponse> native = HttpGet(native_port_, target);
    if (!Matches(native, status, body)) {
      return ::testing::AssertionFailure()
             << "the native docroot does not give " << status << " for " << target
             << " (the test's expectation is wrong): " << Describe(native);
    }
    const Clock::time_point deadline = Clock::now() + kPropagation;
    absl::StatusOr<HttpResponse> last = absl::UnknownError("never asked");
    int polls = 0;
    while (Clock::now() < deadline) {
      last = HttpGet(mount_port_, target);
      ++polls;
      if (Matches(last, status, body)) return ::testing::AssertionSuccess();
      std::this_thread::sleep_for(milliseconds(50));
    }
    return ::testing::AssertionFailure()
           << target << " on A's mount: want status " << status << " (" << body.size()
           << " body bytes), still " << Describe(last) << " after " << polls << " requests in "
           << kPropagation.count() << " s\n"
           << Diagnostics();
  }

  std::string Diagnostics() const {
    return absl::StrCat("--- apache error.log:\n", Tail(apache_->ErrorLog()),
                        "\n--- replica A log:\n", Tail(replica_a_->Log()),
                        "\n--- replica B log:\n", Tail(replica_b_->Log()));
  }

  std::unique_ptr<TempDir> dir_;
  std::unique_ptr<ReplicaProcess> replica_a_;
  std::unique_ptr<ReplicaProcess> replica_b_;
  std::unique_ptr<ApacheServer> apache_;
  std::unique_ptr<MirroredTree> tree_;
  std::string native_;
  int mount_port_ = 0;
  int native_port_ = 0;
};

TEST_P(ApacheDocrootTest, NewFilesAndDirectoriesAppear) {
  // Asked before they exist: A's kernel caches the negative lookups and
  // Apache answers 404; the remote create must clear those.
  ASSERT_TRUE(ServedOnA("/new.html", 404));
  ASSERT_TRUE(ServedOnA("/site/page.html", 404));
  const std::string page = "<html><body>new page</body></html>\n";
  ASSERT_TRUE(tree_->Write("new.html", page).ok());
  EXPECT_TRUE(ServedOnA("/new.html", 200, page));

  ASSERT_TRUE(tree_->Mkdir("site").ok());
  ASSERT_TRUE(tree_->Mkdir("site/deep").ok());
  const std::string inner = Pattern(size_t{100} * 1024, 1);
  const std::string index = "<html>index of site</html>\n";
  ASSERT_TRUE(tree_->Write("site/page.html", inner).ok());
  ASSERT_TRUE(tree_->Write("site/deep/index.html", index).ok());
  EXPECT_TRUE(ServedOnA("/site/page.html", 200, inner));
  // DirectoryIndex (mod_dir) resolves the index file inside the new dir.
  EXPECT_TRUE(ServedOnA("/site/deep/", 200, index));
}

TEST_P(ApacheDocrootTest, OverwritesOfServedFilesAreNeverStale) {
  // Sizes on both sides of Apache's mmap use (files up to 4 MiB are mmapped
  // when sendfile is off) and of replfs's inline limit (4 KiB).
  struct Case {
    std::string name;
    size_t size;
  };
  const std::vector<Case> cases = {{"small.txt", 2048}, {"medium.bin", size_t{100} * 1024},
                                   {"large.bin", size_t{5} * 1024 * 1024}};
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string target = "/" + c.name;
    const std::string v1 = Pattern(c.size, 1);
    ASSERT_TRUE(tree_->Write(c.name, v1).ok());
    ASSERT_TRUE(ServedOnA(target, 200, v1));
    // Served twice: now in A's page cache and attribute cache.
    ASSERT_TRUE(ServedOnA(target, 200, v1));

    // Same size, bytes changed in place on B (same inode there).
    const std::string v2 = Pattern(c.size, 2);
    ASSERT_TRUE(tree_->Overwrite(c.name, v2).ok());
    EXPECT_TRUE(ServedOnA(target, 200, v2));

    // Same size again, by truncate and rewrite.
    const std::string v3 = Pattern(c.size, 3);
    ASSERT_TRUE(tree_->Write(c.name, v3).ok());
    EXPECT_TRUE(ServedOnA(target, 200, v3));

    // Larger, then smaller than what A has cached.
    const std::string v4 = Pattern(c.size * 2 + 123, 4);
    ASSERT_TRUE(tree_->Write(c.name, v4).ok());
    EXPECT_TRUE(ServedOnA(target, 200, v4));
    const std::string v5 = Pattern(c.size / 3, 5);
    ASSERT_TRUE(tree_->Write(c.name, v5).ok());
    EXPECT_TRUE(ServedOnA(target, 200, v5));
  }
}

TEST_P(ApacheDocrootTest, RenamedFilesAndDirectoriesMove) {
  const std::string a = Pattern(3000, 1), b = Pattern(40000, 2), inside = Pattern(5000, 3);
  ASSERT_TRUE(tree_->Write("a.html", a).ok());
  ASSERT_TRUE(tree_->Write("b.html", b).ok());
  ASSERT_TRUE(tree_->Mkdir("dir").ok());
  ASSERT_TRUE(tree_->Write("dir/inside.html", inside).ok());
  ASSERT_TRUE(ServedOnA("/a.html", 200, a));
  ASSERT_TRUE(ServedOnA("/b.html", 200, b));
  ASSERT_TRUE(ServedOnA("/dir/inside.html", 200, inside));
  ASSERT_TRUE(ServedOnA("/moved/inside.html", 404));
  ASSERT_TRUE(ServedOnA("/renamed.html", 404));

  // A plain rename to a new name.
  ASSERT_TRUE(tree_->Rename("a.html", "renamed.html").ok());
  EXPECT_TRUE(ServedOnA("/renamed.html", 200, a));
  EXPECT_TRUE(ServedOnA("/a.html", 404));

  // A rename over a file A has served: the name now has the other content.
  ASSERT_TRUE(tree_->Rename("renamed.html", "b.html").ok());
  EXPECT_TRUE(ServedOnA("/b.html", 200, a));
  EXPECT_TRUE(ServedOnA("/renamed.html", 404));

  // A directory with a served file in it.
  ASSERT_TRUE(tree_->Rename("dir", "moved").ok());
  EXPECT_TRUE(ServedOnA("/moved/inside.html", 200, inside));
  EXPECT_TRUE(ServedOnA("/dir/inside.html", 404));
}

TEST_P(ApacheDocrootTest, DeletedFilesAndDirectoriesAreGone) {
  const std::string page = Pattern(2048, 1), nested = Pattern(size_t{100} * 1024, 2);
  ASSERT_TRUE(tree_->Write("gone.html", page).ok());
  ASSERT_TRUE(tree_->Mkdir("old").ok());
  ASSERT_TRUE(tree_->Write("old/nested.bin", nested).ok());
  ASSERT_TRUE(ServedOnA("/gone.html", 200, page));
  ASSERT_TRUE(ServedOnA("/old/nested.bin", 200, nested));

  ASSERT_TRUE(tree_->Unlink("gone.html").ok());
  EXPECT_TRUE(ServedOnA("/gone.html", 404));
  ASSERT_TRUE(tree_->Unlink("old/nested.bin").ok());
  ASSERT_TRUE(tree_->Rmdir("old").ok());
  EXPECT_TRUE(ServedOnA("/old/nested.bin", 404));
  EXPECT_TRUE(ServedOnA("/old/", 404));

  // The name comes back with new content: no stale negative entry either.
  const std::string again = Pattern(4000, 3);
  ASSERT_TRUE(tree_->Write("gone.html", again).ok());
  EXPECT_TRUE(ServedOnA("/gone.html", 200, again));
}

TEST_P(ApacheDocrootTest, PermissionsFollowChmod) {
  // Files are root's; Apache's workers run as www-data, so only the
  // "other" bits let them read (default_permissions: the kernel checks).
  const std::string secret = Pattern(2048, 1), inside = Pattern(size_t{100} * 1024, 2);
  ASSERT_TRUE(tree_->Write("secret.html", secret).ok());
  ASSERT_TRUE(tree_->Mkdir("private").ok());
  ASSERT_TRUE(tree_->Write("private/inside.html", inside).ok());
  ASSERT_TRUE(ServedOnA("/secret.html", 200, secret));
  ASSERT_TRUE(ServedOnA("/private/inside.html", 200, inside));

  ASSERT_TRUE(tree_->Chmod("secret.html", 0600).ok());
  EXPECT_TRUE(ServedOnA("/secret.html", 403));
  ASSERT_TRUE(tree_->Chmod("secret.html", 0644).ok());
  EXPECT_TRUE(ServedOnA("/secret.html", 200, secret));

  // A directory www-data may not search hides what is inside.
  ASSERT_TRUE(tree_->Chmod("private", 0700).ok());
  EXPECT_TRUE(ServedOnA("/private/inside.html", 403));
  ASSERT_TRUE(tree_->Chmod("private", 0755).ok());
  EXPECT_TRUE(ServedOnA("/private/inside.html", 200, inside));

  // A new file created unreadable is refused from the start.
  ASSERT_TRUE(tree_->Write("born-private.html", secret).ok());
  ASSERT_TRUE(tree_->Chmod("born-private.html", 0640).ok());
  EXPECT_TRUE(ServedOnA("/born-private.html", 403));
}

TEST_P(ApacheDocrootTest, NeverServesAHalfWrittenFile) {
  // B rewrites a 4 MiB file in 1 MiB chunks with pauses while A is polled
  // without a break. Every answer must be the complete old or the complete
  // new file. Old and new have the same size: Apache takes the length from
  // its stat and then opens the file, so a replacement landing between the
  // two would (natively as well) send a length that belongs to the other
  // version; equal sizes keep that Apache-side race out of the verdict.
  constexpr size_t kSize = size_t{4} * 1024 * 1024;
  constexpr size_t kChunk = size_t{1024} * 1024;
  const std::string old_body = Pattern(kSize, 1), new_body = Pattern(kSize, 2);
  ASSERT_TRUE(tree_->Write("big.bin", old_body).ok());
  ASSERT_TRUE(ServedOnA("/big.bin", 200, old_body));

  std::atomic<bool> writer_done{false};
  absl::Status writer_status;
  std::thread writer([&] {
    const std::string path = replica_b_->MountPath("big.bin");
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC));
    if (!fd.valid()) {
      writer_status = absl::ErrnoToStatus(errno, "open big.bin on B");
    } else {
      for (size_t at = 0; at < kSize && writer_status.ok(); at += kChunk) {
        if (::write(fd.get(), new_body.data() + at, kChunk) != static_cast<ssize_t>(kChunk)) {
          writer_status = absl::ErrnoToStatus(errno, "write big.bin on B");
        }
        std::this_thread::sleep_for(milliseconds(150));
      }
      if (::close(fd.Release()) != 0) writer_status = absl::ErrnoToStatus(errno, "close");
    }
    writer_done = true;
  });

  int old_seen = 0, new_seen = 0, bad = 0;
  std::string first_bad;
  const Clock::time_point deadline = Clock::now() + kPropagation;
  while (Clock::now() < deadline && !(writer_done && new_seen > 0)) {
    const absl::StatusOr<HttpResponse> r = HttpGet(mount_port_, "/big.bin");
    if (Matches(r, 200, old_body)) {
      ++old_seen;
    } else if (Matches(r, 200, new_body)) {
      ++new_seen;
    } else {
      if (bad++ == 0) first_bad = Describe(r);
    }
  }
  writer.join();
  ASSERT_TRUE(writer_status.ok()) << writer_status;
  EXPECT_EQ(bad, 0) << "responses that were neither the old nor the new file; first: " << first_bad
                    << "\n" << Diagnostics();
  EXPECT_GT(old_seen, 0) << "the old version was never served while B was writing";
  EXPECT_GT(new_seen, 0) << "the new version did not reach A within " << kPropagation.count()
                         << " s\n" << Diagnostics();
  // And natively the final state is the new file.
  ASSERT_TRUE(MirroredTree::WriteAt(native_ + "/big.bin", new_body, O_WRONLY | O_CREAT | O_TRUNC).ok());
  EXPECT_TRUE(ServedOnA("/big.bin", 200, new_body));
}

std::string SettingsName(const ::testing::TestParamInfo<ApacheSettings>& info) {
  return absl::StrCat(info.param.sendfile ? "SendfileOn" : "DebianDefaults",
                      info.param.writeback ? "" : "WritebackOff");
}

// Debian ships EnableSendfile Off (the compiled default; its apache2.conf
// does not set it) and EnableMMAP On; many sites turn sendfile on.
INSTANTIATE_TEST_SUITE_P(Apache, ApacheDocrootTest,
                         ::testing::Values(ApacheSettings{false, true, true},
                                           ApacheSettings{true, true, true},
                                           ApacheSettings{false, true, false}),
                         SettingsName);

}  // namespace
}  // namespace replfs::testing
