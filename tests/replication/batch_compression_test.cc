// GzipEntries and GunzipEntries: a batch's entries travel gzipped when that
// saves bytes and come back exactly as they were; gzipped entries no honest
// feed sends (garbage, too big inflated, past BatchLimits) are refused.
#include "replication/batch_compression.h"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <random>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "replfs.pb.h"
#include "replication/batch_shape.h"
#include "replication/gzip_codec.h"

namespace replfs {
namespace {

using google::protobuf::util::MessageDifferencer;

constexpr size_t kMaxInflatedBytes = size_t{24} << 20;

// About 800 bytes of HTML, different for each `page`.
std::string PageHtml(int page) {
  std::string html = absl::StrCat("<!DOCTYPE html>\n<html><head><title>Page ", page,
                                  "</title></head>\n<body>\n<ul class=\"nav\">\n");
  for (int i = 0; i < 12; ++i) {
    absl::StrAppend(&html, "  <li class=\"entry\"><a href=\"/docs/page-", page * 100 + i,
                    ".html\">Section ", i, "</a></li>\n");
  }
  absl::StrAppend(&html, "</ul>\n</body></html>\n");
  return html;
}

void AddPage(ChangeBatch* batch, int page) {
  Entry* entry = batch->add_entries();
  entry->set_path(absl::StrCat("www/docs/page-", page, ".html"));
  entry->set_seq(100 + static_cast<uint64_t>(page));
  Content* content = entry->mutable_content();
  const std::string html = PageHtml(page);
  content->set_size(html.size());
  content->set_is_inline(true);
  content->set_inline_data(html);
}

// A batch of `entries` inline HTML files, with the feed's fields set.
ChangeBatch PageBatch(int entries) {
  ChangeBatch batch;
  for (int page = 0; page < entries; ++page) AddPage(&batch, page);
  batch.set_head_seq(5000);
  batch.set_hlc(uint64_t{1700000000} << 16);
  batch.set_through_seq(100 + static_cast<uint64_t>(entries));
  return batch;
}

std::string RandomBytes(std::mt19937_64& rng, size_t bytes) {
  std::string data(bytes, '\0');
  for (char& c : data) c = static_cast<char>(rng() & 0xff);
  return data;
}

// A hash per block, 32 bytes like SHA-256; distinct for each (entry, block).
std::string BlockHash(int entry, int block) {
  return std::string(32, static_cast<char>(entry * 16 + block));
}

// The batch `GunzipEntries` gets from the wire: `batch`, gzipped.
ChangeBatch Gzipped(ChangeBatch batch) {
  GzipEntries(&batch);
  EXPECT_EQ(batch.entries_size(), 0);
  EXPECT_FALSE(batch.gzipped_entries().empty());
  return batch;
}

TEST(BatchCompressionTest, GzippedEntriesComeBackAsTheyWere) {
  const ChangeBatch original = PageBatch(50);
  ChangeBatch batch = original;
  const size_t plain_bytes = batch.ByteSizeLong();

  GzipEntries(&batch);
  EXPECT_EQ(batch.entries_size(), 0);
  EXPECT_FALSE(batch.gzipped_entries().empty());
  EXPECT_LT(batch.ByteSizeLong(), plain_bytes / 4);
  EXPECT_EQ(batch.through_seq(), original.through_seq());
  EXPECT_EQ(batch.head_seq(), original.head_seq());
  EXPECT_EQ(batch.hlc(), original.hlc());

  const absl::Status status = GunzipEntries(&batch, BatchLimits(), kMaxInflatedBytes);
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_TRUE(batch.gzipped_entries().empty());
  EXPECT_TRUE(MessageDifferencer::Equals(batch, original))
      << "got " << batch.ShortDebugString().substr(0, 500);
}

TEST(BatchCompressionTest, RandomEntriesStayPlain) {
  std::mt19937_64 rng(42);
  ChangeBatch batch;
  for (int i = 0; i < 20; ++i) {
    Entry* entry = batch.add_entries();
    entry->set_path(absl::StrCat("bin/blob-", i));
    entry->set_seq(static_cast<uint64_t>(i) + 1);
    entry->mutable_content()->set_is_inline(true);
    entry->mutable_content()->set_inline_data(RandomBytes(rng, 2048));
  }
  batch.set_head_seq(20);
  batch.set_through_seq(20);
  const ChangeBatch copy = batch;

  GzipEntries(&batch);
  EXPECT_TRUE(batch.gzipped_entries().empty());
  EXPECT_EQ(batch.entries_size(), 20);
  EXPECT_TRUE(MessageDifferencer::Equals(batch, copy));
}

TEST(BatchCompressionTest, HeartbeatStaysAsItWas) {
  ChangeBatch batch;
  batch.set_head_seq(77);
  batch.set_through_seq(77);
  batch.set_hlc(123456);
  const ChangeBatch copy = batch;

  GzipEntries(&batch);
  EXPECT_TRUE(batch.gzipped_entries().empty());
  EXPECT_TRUE(MessageDifferencer::Equals(batch, copy));

  const absl::Status status = GunzipEntries(&batch, BatchLimits(), kMaxInflatedBytes);
  EXPECT_TRUE(status.ok()) << status;
  EXPECT_TRUE(MessageDifferencer::Equals(batch, copy));
}

TEST(BatchCompressionTest, GunzipLeavesAPlainBatchAlone) {
  ChangeBatch batch = PageBatch(5);
  const ChangeBatch copy = batch;
  // Limits and a cap the plain batch would break, were they applied to it.
  BatchLimits limits;
  limits.max_entries = 1;
  const absl::Status status = GunzipEntries(&batch, limits, 100);
  EXPECT_TRUE(status.ok()) << status;
  EXPECT_TRUE(MessageDifferencer::Equals(batch, copy));
}

TEST(BatchCompressionTest, EntriesBothPlainAndGzippedAreRefused) {
  ChangeBatch batch = PageBatch(50);
  batch.set_gzipped_entries(Gzipped(PageBatch(50)).gzipped_entries());
  EXPECT_EQ(GunzipEntries(&batch, BatchLimits(), kMaxInflatedBytes).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(BatchCompressionTest, GarbageGzipIsRefused) {
  ChangeBatch batch;
  batch.set_head_seq(10);
  batch.set_through_seq(10);
  batch.set_gzipped_entries("not gzip at all");
  EXPECT_EQ(GunzipEntries(&batch, BatchLimits(), kMaxInflatedBytes).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(BatchCompressionTest, WholeGzipOfBytesThatAreNoBatchIsRefused) {
  // The gzip is whole, but what it inflates to is a batch cut short: its
  // last entry's length runs past the end.
  ChangeBatch entries_only;
  *entries_only.mutable_entries() = PageBatch(5).entries();
  const std::string plain = entries_only.SerializeAsString();
  const std::optional<std::string> gzipped = GzipIfSmaller(plain.substr(0, plain.size() / 2));
  ASSERT_TRUE(gzipped.has_value());
  ChangeBatch batch;
  batch.set_head_seq(10);
  batch.set_gzipped_entries(*gzipped);
  EXPECT_EQ(GunzipEntries(&batch, BatchLimits(), kMaxInflatedBytes).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(BatchCompressionTest, GzipInflatingPastTheCapIsRefused) {
  const ChangeBatch original = PageBatch(50);
  ChangeBatch entries_only;
  *entries_only.mutable_entries() = original.entries();
  const size_t inflated_bytes = entries_only.ByteSizeLong();
  const ChangeBatch gzipped = Gzipped(original);

  ChangeBatch batch = gzipped;
  EXPECT_EQ(GunzipEntries(&batch, BatchLimits(), 100).code(),
            absl::StatusCode::kInvalidArgument);
  batch = gzipped;
  EXPECT_EQ(GunzipEntries(&batch, BatchLimits(), inflated_bytes - 1).code(),
            absl::StatusCode::kInvalidArgument);
  // Exactly the inflated size is within the cap.
  batch = gzipped;
  const absl::Status status = GunzipEntries(&batch, BatchLimits(), inflated_bytes);
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_TRUE(MessageDifferencer::Equals(batch, original));
}

TEST(BatchCompressionTest, InflatedBatchOverMaxEntriesIsRefused) {
  const ChangeBatch gzipped = Gzipped(PageBatch(11));
  BatchLimits limits;
  limits.max_entries = 10;
  ChangeBatch batch = gzipped;
  EXPECT_EQ(GunzipEntries(&batch, limits, kMaxInflatedBytes).code(),
            absl::StatusCode::kInvalidArgument);
  // Eleven entries pass a limit of eleven.
  limits.max_entries = 11;
  batch = gzipped;
  const absl::Status status = GunzipEntries(&batch, limits, kMaxInflatedBytes);
  EXPECT_TRUE(status.ok()) << status;
  EXPECT_EQ(batch.entries_size(), 11);
}

TEST(BatchCompressionTest, InflatedEntryOverMaxHashesPerEntryIsRefused) {
  ChangeBatch plain = PageBatch(10);
  Entry* big = plain.add_entries();
  big->set_path("www/video.mp4");
  big->set_seq(200);
  big->mutable_content()->set_block_size(uint32_t{1} << 20);
  big->mutable_content()->set_size(uint64_t{5} << 20);
  for (int block = 0; block < 5; ++block) {
    big->mutable_content()->add_block_hashes(BlockHash(1, block));
  }
  const ChangeBatch gzipped = Gzipped(plain);

  BatchLimits limits;
  limits.max_hashes_per_entry = 4;
  ChangeBatch batch = gzipped;
  EXPECT_EQ(GunzipEntries(&batch, limits, kMaxInflatedBytes).code(),
            absl::StatusCode::kInvalidArgument);
  // Five hashes pass a limit of five.
  limits.max_hashes_per_entry = 5;
  batch = gzipped;
  const absl::Status status = GunzipEntries(&batch, limits, kMaxInflatedBytes);
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_TRUE(MessageDifferencer::Equals(batch, plain));
}

TEST(BatchCompressionTest, InflatedBatchOverMaxHashesIsRefused) {
  ChangeBatch plain = PageBatch(10);
  for (int entry = 0; entry < 2; ++entry) {
    Entry* file = plain.add_entries();
    file->set_path(absl::StrCat("www/video-", entry, ".mp4"));
    file->set_seq(200 + static_cast<uint64_t>(entry));
    for (int block = 0; block < 3; ++block) {
      file->mutable_content()->add_block_hashes(BlockHash(entry, block));
    }
  }
  const ChangeBatch gzipped = Gzipped(plain);

  BatchLimits limits;
  limits.max_hashes = 5;  // Each entry's three are within max_hashes_per_entry.
  ChangeBatch batch = gzipped;
  EXPECT_EQ(GunzipEntries(&batch, limits, kMaxInflatedBytes).code(),
            absl::StatusCode::kInvalidArgument);
  limits.max_hashes = 6;
  batch = gzipped;
  const absl::Status status = GunzipEntries(&batch, limits, kMaxInflatedBytes);
  EXPECT_TRUE(status.ok()) << status;
}

TEST(BatchCompressionTest, CompressionNames) {
  EXPECT_EQ(CompressionName(COMPRESSION_GZIP), "gzip");
  EXPECT_EQ(CompressionName(COMPRESSION_NONE), "none");
}

}  // namespace
}  // namespace replfs
