// GzipIfSmaller and Gunzip: data gzip saves a sixteenth of comes back byte for
// byte; incompressible or tiny data is left raw; a gzip stream that is not
// whole, or that inflates past the cap, is refused.
#include "replication/gzip_codec.h"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <random>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "gtest/gtest.h"

namespace replfs {
namespace {

constexpr size_t kKiB = 1024;

// Lines of HTML as a web server's tree holds them: compresses well.
std::string HtmlText(size_t bytes) {
  std::string text;
  for (int i = 0; text.size() < bytes; ++i) {
    absl::StrAppend(&text, "<li class=\"entry\"><a href=\"/docs/page-", i, ".html\">Page ", i,
                    " of the manual</a></li>\n");
  }
  text.resize(bytes);
  return text;
}

std::string RandomBytes(size_t bytes, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string data(bytes, '\0');
  for (char& c : data) c = static_cast<char>(rng() & 0xff);
  return data;
}

// The gzip of `data`, which the test needs to compress.
std::string MustGzip(absl::string_view data) {
  std::optional<std::string> gzipped = GzipIfSmaller(data);
  EXPECT_TRUE(gzipped.has_value()) << "gzip did not shrink " << data.size() << " bytes";
  return gzipped.value_or(std::string());
}

absl::StatusCode GunzipCode(absl::string_view gzipped, size_t max_bytes) {
  return Gunzip(gzipped, max_bytes).status().code();
}

TEST(GzipCodecTest, TextRoundTripsAtUnderAQuarterOfItsSize) {
  const std::string text = HtmlText(100 * kKiB);
  const std::optional<std::string> gzipped = GzipIfSmaller(text);
  ASSERT_TRUE(gzipped.has_value());
  EXPECT_LT(gzipped->size(), text.size() / 4);
  // RFC 1952: the gzip magic, then deflate.
  ASSERT_GE(gzipped->size(), 2u);
  EXPECT_EQ(static_cast<unsigned char>((*gzipped)[0]), 0x1f);
  EXPECT_EQ(static_cast<unsigned char>((*gzipped)[1]), 0x8b);

  const absl::StatusOr<std::string> inflated = Gunzip(*gzipped, text.size());
  ASSERT_TRUE(inflated.ok()) << inflated.status();
  EXPECT_EQ(inflated->size(), text.size());
  EXPECT_TRUE(*inflated == text);
}

TEST(GzipCodecTest, RandomBytesAreNotGzipped) {
  EXPECT_FALSE(GzipIfSmaller(RandomBytes(256 * kKiB, 42)).has_value());
}

TEST(GzipCodecTest, IncompressibleSampleKeepsTheWholeRaw) {
  // The whole would shrink to a sixteenth (60 KiB of zeros), but the first
  // 4 KiB does not shrink, so the whole is never tried.
  std::string data = RandomBytes(4 * kKiB, 7);
  data.append(60 * kKiB, '\0');
  ASSERT_EQ(data.size(), 64 * kKiB);
  EXPECT_FALSE(GzipIfSmaller(data).has_value());
}

TEST(GzipCodecTest, ACompressibleSampleDoesNotDecideForTheWhole) {
  // The sample shrinks, so the whole is tried: 4 KiB of text and 60 KiB of
  // random bytes gzip to more than 15/16 of 64 KiB, so it stays raw.
  std::string data = HtmlText(4 * kKiB);
  data.append(RandomBytes(60 * kKiB, 9));
  EXPECT_FALSE(GzipIfSmaller(data).has_value());
  // The same text ahead of only 20 KiB of random bytes saves enough.
  std::string mostly_text = HtmlText(40 * kKiB);
  mostly_text.append(RandomBytes(20 * kKiB, 9));
  const std::optional<std::string> gzipped = GzipIfSmaller(mostly_text);
  ASSERT_TRUE(gzipped.has_value());
  EXPECT_LT(gzipped->size() * 16, mostly_text.size() * 15);
  const absl::StatusOr<std::string> inflated = Gunzip(*gzipped, mostly_text.size());
  ASSERT_TRUE(inflated.ok()) << inflated.status();
  EXPECT_TRUE(*inflated == mostly_text);
}

TEST(GzipCodecTest, InputsUnder64BytesAreNotGzipped) {
  EXPECT_FALSE(GzipIfSmaller("").has_value());
  EXPECT_FALSE(GzipIfSmaller(std::string(63, 'a')).has_value());
  // The same bytes one longer do shrink: it is the size that decided.
  EXPECT_TRUE(GzipIfSmaller(std::string(64, 'a')).has_value());
}

TEST(GzipCodecTest, BombInflatesToExactlyMaxBytesAndNoMore) {
  // 1 MiB of zeros gzips to about a kilobyte.
  const std::string zeros(1024 * kKiB, '\0');
  const std::string gzipped = MustGzip(zeros);
  EXPECT_LT(gzipped.size(), 4 * kKiB);

  const absl::StatusOr<std::string> inflated = Gunzip(gzipped, zeros.size());
  ASSERT_TRUE(inflated.ok()) << inflated.status();
  EXPECT_EQ(inflated->size(), zeros.size());
  EXPECT_TRUE(*inflated == zeros);

  EXPECT_EQ(GunzipCode(gzipped, zeros.size() - 1), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(GunzipCode(gzipped, 1000), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(GunzipCode(gzipped, 0), absl::StatusCode::kInvalidArgument);
}

TEST(GzipCodecTest, SmallOutputOfExactlyMaxBytesIsAcceptedOneLessRefused) {
  // Fits in the first buffer Gunzip sizes (no growing).
  const std::string text = HtmlText(1000);
  const std::string gzipped = MustGzip(text);

  const absl::StatusOr<std::string> inflated = Gunzip(gzipped, text.size());
  ASSERT_TRUE(inflated.ok()) << inflated.status();
  EXPECT_EQ(*inflated, text);
  EXPECT_EQ(GunzipCode(gzipped, text.size() - 1), absl::StatusCode::kInvalidArgument);
}

TEST(GzipCodecTest, TruncatedStreamIsRefused) {
  const std::string text = HtmlText(20 * kKiB);
  const std::string gzipped = MustGzip(text);
  ASSERT_GT(gzipped.size(), 8u);
  // Without the CRC32 and ISIZE trailer.
  EXPECT_EQ(GunzipCode(gzipped.substr(0, gzipped.size() - 8), text.size()),
            absl::StatusCode::kInvalidArgument);
  // Without the trailer's last byte.
  EXPECT_EQ(GunzipCode(gzipped.substr(0, gzipped.size() - 1), text.size()),
            absl::StatusCode::kInvalidArgument);
  // Cut in the middle of the deflate data.
  EXPECT_EQ(GunzipCode(gzipped.substr(0, gzipped.size() / 2), text.size()),
            absl::StatusCode::kInvalidArgument);
}

TEST(GzipCodecTest, BytesAfterTheStreamAreRefused) {
  const std::string text = HtmlText(20 * kKiB);
  const std::string gzipped = MustGzip(text);
  EXPECT_EQ(GunzipCode(gzipped + "trailing garbage", 2 * text.size()),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(GunzipCode(gzipped + std::string(1, '\0'), 2 * text.size()),
            absl::StatusCode::kInvalidArgument);
  // A second gzip member is more than the one stream a batch carries.
  EXPECT_EQ(GunzipCode(gzipped + gzipped, 2 * text.size()), absl::StatusCode::kInvalidArgument);
}

TEST(GzipCodecTest, BadCrcOrLengthInTheTrailerIsRefused) {
  const std::string text = HtmlText(20 * kKiB);
  const std::string gzipped = MustGzip(text);
  ASSERT_GT(gzipped.size(), 8u);
  // The trailer: CRC32 of the data, then ISIZE, both little-endian.
  std::string bad_crc = gzipped;
  const size_t crc = bad_crc.size() - 8;
  bad_crc[crc] = static_cast<char>(bad_crc[crc] ^ 0x01);
  EXPECT_EQ(GunzipCode(bad_crc, text.size()), absl::StatusCode::kInvalidArgument);

  std::string bad_length = gzipped;
  const size_t isize = bad_length.size() - 4;
  bad_length[isize] = static_cast<char>(bad_length[isize] ^ 0x01);
  EXPECT_EQ(GunzipCode(bad_length, 2 * text.size()), absl::StatusCode::kInvalidArgument);
}

TEST(GzipCodecTest, GarbageAndEmptyInputAreRefused) {
  EXPECT_EQ(GunzipCode("not gzip at all", 1024), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(GunzipCode(RandomBytes(4 * kKiB, 11), 1024 * kKiB),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(GunzipCode("", 1024), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(GunzipCode(absl::string_view(), 1024), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace replfs
