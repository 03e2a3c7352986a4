// -o compression=gzip on real replicas: a hub feeds two spokes the same
// docroot, one spoke asking for gzip and one not. The gzip spoke's status
// counts far fewer bytes on the wire for the text (small pages inline in
// the feed, large scripts as blocks), the same bytes plain once what gzip
// saved is added back, and no more than plain for data gzip cannot shrink
// (sent raw). Both spokes end with the hub's tree.
#include <sys/stat.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/cluster.h"
#include "tests/support/child_process.h"

namespace replfs::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr int kHub = 0;
constexpr int kGzipSpoke = 1;
constexpr int kPlainSpoke = 2;

// Page-like text: markup around words drawn from a small vocabulary, so it
// compresses about as well as real HTML, CSS and JS (3-5x), not like a
// run of one byte.
std::string PageText(size_t size, uint32_t seed) {
  static const std::vector<std::string> kWords = {
      "<div class=\"content\">", "</div>", "<p>", "</p>", "function", "return", "var",
      "const", "color: #333;", "margin: 0 auto;", "replication", "server", "the", "of",
      "and", "datacentre", "docroot", "=>", "{", "}", "<a href=\"/index.html\">", "</a>",
      "padding: 4px;", "document.querySelector", "window", "async", "await", "\n"};
  std::mt19937 rng(seed);
  std::uniform_int_distribution<size_t> pick(0, kWords.size() - 1);
  std::uniform_int_distribution<int> digit(0, 9);
  std::string text;
  text.reserve(size + 64);
  while (text.size() < size) {
    absl::StrAppend(&text, kWords[pick(rng)], " ");
    if (pick(rng) == 0) absl::StrAppend(&text, digit(rng), digit(rng), digit(rng), " ");
  }
  text.resize(size);
  return text;
}

struct WireBytes {
  uint64_t received = 0;
  uint64_t saved = 0;
};

// What spoke `i` took from the hub, its only peer.
absl::StatusOr<WireBytes> FromHub(const Cluster& cluster, int i, const std::string& compression) {
  absl::StatusOr<ReplicaStatus> status = cluster.Status(i);
  if (!status.ok()) return status.status();
  if (status->peers_size() != 1) return absl::InternalError("a spoke has one peer, the hub");
  const PeerStatus& hub = status->peers(0);
  if (hub.compression() != compression) {
    return absl::InternalError(
        absl::StrCat("status says compression '", hub.compression(), "', not ", compression));
  }
  return WireBytes{hub.bytes_received(), hub.bytes_saved_by_compression()};
}

// What `replfs-status MOUNT` prints for replica `i`.
std::string StatusText(const Cluster& cluster, int i) {
  const std::string out = cluster.TempPath(absl::StrCat("status-", i, ".out"));
  ChildOptions output;
  output.stdout_path = out;
  RunChild({REPLFS_STATUS_BINARY_PATH, cluster.Mount(i)}, output, absl::Seconds(30));
  absl::StatusOr<std::string> text = ReadFile(out);
  return text.ok() ? *text : text.status().ToString();
}

// The counters of both spokes before and after a step, and the bytes the
// step cost each.
struct Step {
  WireBytes gzipped;
  WireBytes plain;
};

absl::StatusOr<Step> Counters(const Cluster& cluster) {
  absl::StatusOr<WireBytes> gzipped = FromHub(cluster, kGzipSpoke, "gzip");
  if (!gzipped.ok()) return gzipped.status();
  absl::StatusOr<WireBytes> plain = FromHub(cluster, kPlainSpoke, "none");
  if (!plain.ok()) return plain.status();
  return Step{*gzipped, *plain};
}

Step Cost(const Step& before, const Step& after) {
  return Step{{after.gzipped.received - before.gzipped.received,
               after.gzipped.saved - before.gzipped.saved},
              {after.plain.received - before.plain.received,
               after.plain.saved - before.plain.saved}};
}

// A text step: the gzip spoke takes less than half of what the plain one
// does, and what it would have taken plain (received + saved) is the plain
// spoke's count, up to how the two feeds happened to cut their batches.
void ExpectTextShrinks(const Step& cost, uint64_t text_bytes, const std::string& what) {
  SCOPED_TRACE(what);
  EXPECT_GE(cost.plain.received, text_bytes);
  EXPECT_EQ(cost.plain.saved, 0u);
  EXPECT_LT(cost.gzipped.received * 2, cost.plain.received)
      << "gzip " << cost.gzipped.received << " bytes, plain " << cost.plain.received;
  const double plain_equivalent = static_cast<double>(cost.gzipped.received + cost.gzipped.saved);
  EXPECT_NEAR(plain_equivalent / static_cast<double>(cost.plain.received), 1.0, 0.02)
      << "gzip " << cost.gzipped.received << " + saved " << cost.gzipped.saved << ", plain "
      << cost.plain.received;
}

TEST(CompressionTest, GzipSpokeTakesATextDocrootInAFractionOfTheBytes) {
  Cluster cluster(3, HubAndSpoke(3, kHub));
  REPLFS_ASSERT_OK(cluster.init_status());
  cluster.AddArguments(kGzipSpoke, {"-o", "compression=gzip"});
  cluster.AddArguments(kPlainSpoke, {"-o", "compression=none"});
  REPLFS_ASSERT_OK(cluster.StartAll());
  for (const char* dir : {"pages", "js"}) {
    ASSERT_EQ(::mkdir(cluster.Mount(kHub, dir).c_str(), 0755), 0) << dir;
  }
  REPLFS_ASSERT_OK(cluster.WaitForConvergence(absl::Seconds(30)));

  // Pages below the inline limit: they travel in the feed's batches.
  absl::StatusOr<Step> before = Counters(cluster);
  ASSERT_TRUE(before.ok()) << before.status() << cluster.Diagnostics();
  uint64_t page_bytes = 0;
  for (uint32_t i = 0; i < 120; ++i) {
    const std::string page = PageText(1000 + 25 * i, i);
    page_bytes += page.size();
    REPLFS_ASSERT_OK(WriteFile(cluster.Mount(kHub, absl::StrCat("pages/p", i, ".html")), page));
  }
  REPLFS_ASSERT_OK(cluster.WaitForConvergence(absl::Seconds(60)));
  absl::StatusOr<Step> after_pages = Counters(cluster);
  ASSERT_TRUE(after_pages.ok()) << after_pages.status();
  ExpectTextShrinks(Cost(*before, *after_pages), page_bytes, "pages, inline in the feed");

  // Scripts above it: their blocks are fetched on their own.
  uint64_t script_bytes = 0;
  for (uint32_t i = 0; i < 4; ++i) {
    const std::string script = PageText((300 + 100 * i) << 10, 1000 + i);
    script_bytes += script.size();
    REPLFS_ASSERT_OK(WriteFile(cluster.Mount(kHub, absl::StrCat("js/app", i, ".js")), script));
  }
  REPLFS_ASSERT_OK(cluster.WaitForConvergence(absl::Seconds(60)));
  absl::StatusOr<Step> after_scripts = Counters(cluster);
  ASSERT_TRUE(after_scripts.ok()) << after_scripts.status();
  ExpectTextShrinks(Cost(*after_pages, *after_scripts), script_bytes, "scripts, as blocks");

  // Data gzip cannot shrink (images, archives) goes raw: no more bytes
  // than plain, nothing counted as saved.
  const std::string image = IncompressibleBytes(3 << 20, 7);
  REPLFS_ASSERT_OK(WriteFile(cluster.Mount(kHub, "photo.jpg"), image));
  REPLFS_ASSERT_OK(cluster.WaitForConvergence(absl::Seconds(60)));
  absl::StatusOr<Step> after_image = Counters(cluster);
  ASSERT_TRUE(after_image.ok()) << after_image.status();
  const Step image_cost = Cost(*after_scripts, *after_image);
  EXPECT_GE(image_cost.plain.received, image.size());
  EXPECT_LE(image_cost.gzipped.received,
            image_cost.plain.received + image_cost.plain.received / 100)
      << "gzip " << image_cost.gzipped.received << ", plain " << image_cost.plain.received;
  EXPECT_LT(image_cost.gzipped.saved, uint64_t{4096});

  // replfs-status says it under the peer, on the gzip spoke only.
  EXPECT_THAT(StatusText(cluster, kGzipSpoke), HasSubstr("gzipped: "));
  EXPECT_THAT(StatusText(cluster, kPlainSpoke), Not(HasSubstr("gzipped")));
}

}  // namespace
}  // namespace replfs::testing
