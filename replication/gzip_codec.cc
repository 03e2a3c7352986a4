#include "replication/gzip_codec.h"

#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <limits>

#include "absl/strings/str_cat.h"

namespace replfs {
namespace {

// zlib's windowBits for a gzip wrapper (15 bits of window, +16: gzip).
constexpr int kGzipWindowBits = 15 + 16;
constexpr int kMemLevel = 8;
constexpr size_t kSampleBytes = 4096;

// The deflate stream's state, ended on every path.
class Deflater {
 public:
  Deflater() {
    ok_ = deflateInit2(&stream_, Z_DEFAULT_COMPRESSION, Z_DEFLATED, kGzipWindowBits, kMemLevel,
                       Z_DEFAULT_STRATEGY) == Z_OK;
  }
  ~Deflater() {
    if (ok_) deflateEnd(&stream_);
  }
  Deflater(const Deflater&) = delete;
  Deflater& operator=(const Deflater&) = delete;

  // The gzip of `data` if it fits in `limit` bytes.
  std::optional<std::string> Compress(absl::string_view data, size_t limit) {
    if (!ok_ || data.size() > std::numeric_limits<uInt>::max()) return std::nullopt;
    std::string out(std::min<size_t>(deflateBound(&stream_, data.size()), limit), '\0');
    stream_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
    stream_.avail_in = static_cast<uInt>(data.size());
    stream_.next_out = reinterpret_cast<Bytef*>(out.data());
    stream_.avail_out = static_cast<uInt>(out.size());
    // Z_STREAM_END: all of it fit; anything else (Z_OK, Z_BUF_ERROR) means
    // the output ran out of room before the limit was met.
    if (deflate(&stream_, Z_FINISH) != Z_STREAM_END) return std::nullopt;
    out.resize(stream_.total_out);
    return out;
  }

 private:
  z_stream stream_{};
  bool ok_ = false;
};

class Inflater {
 public:
  Inflater() { ok_ = inflateInit2(&stream_, kGzipWindowBits) == Z_OK; }
  ~Inflater() {
    if (ok_) inflateEnd(&stream_);
  }
  Inflater(const Inflater&) = delete;
  Inflater& operator=(const Inflater&) = delete;

  absl::StatusOr<std::string> Inflate(absl::string_view gzipped, size_t max_bytes) {
    if (!ok_) return absl::ResourceExhaustedError("gzip: cannot set up zlib");
    if (gzipped.size() > std::numeric_limits<uInt>::max()) {
      return absl::InvalidArgumentError("gzip: input too large");
    }
    stream_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(gzipped.data()));
    stream_.avail_in = static_cast<uInt>(gzipped.size());
    std::string out;
    // Grows as it fills, so what is allocated follows what came out, never
    // more than max_bytes (+1: to see that there is more).
    size_t room = std::min<size_t>(std::max<size_t>(gzipped.size() * 4, 4096), max_bytes + 1);
    for (;;) {
      const size_t filled = stream_.total_out;
      out.resize(room);
      stream_.next_out = reinterpret_cast<Bytef*>(out.data() + filled);
      stream_.avail_out = static_cast<uInt>(room - filled);
      const int result = inflate(&stream_, Z_FINISH);
      if (stream_.total_out > max_bytes) {
        return absl::InvalidArgumentError(
            absl::StrCat("gzip: inflates to more than ", max_bytes, " bytes"));
      }
      if (result == Z_STREAM_END) break;
      if (result == Z_BUF_ERROR && stream_.avail_out == 0) {
        room = std::min<size_t>(room * 2, max_bytes + 1);
        continue;
      }
      return absl::InvalidArgumentError(absl::StrCat(
          "gzip: not a whole gzip stream (", stream_.msg != nullptr ? stream_.msg : "truncated",
          ")"));
    }
    if (stream_.avail_in != 0) {
      return absl::InvalidArgumentError("gzip: bytes after the end of the stream");
    }
    out.resize(stream_.total_out);
    return out;
  }

 private:
  z_stream stream_{};
  bool ok_ = false;
};

// Output below 15/16 of the input.
size_t SavingLimit(size_t input_bytes) { return input_bytes - input_bytes / 16 - 1; }

}  // namespace

std::optional<std::string> GzipIfSmaller(absl::string_view data) {
  if (data.size() < 64) return std::nullopt;  // The gzip header and trailer take 18.
  if (data.size() > 2 * kSampleBytes) {
    const absl::string_view sample = data.substr(0, kSampleBytes);
    if (!Deflater().Compress(sample, SavingLimit(sample.size())).has_value()) return std::nullopt;
  }
  return Deflater().Compress(data, SavingLimit(data.size()));
}

absl::StatusOr<std::string> Gunzip(absl::string_view gzipped, size_t max_bytes) {
  return Inflater().Inflate(gzipped, max_bytes);
}

}  // namespace replfs
