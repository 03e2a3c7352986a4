// libFuzzer target: Gunzip, which inflates what a peer sends gzipped
// (-o compression=gzip) within a bound. Whatever the bytes, it never
// crashes and never returns more than its bound; what it accepts, gzipped
// again, inflates back to the same bytes.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "replication/gzip_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  constexpr size_t kMaxBytes = 1 << 16;
  const absl::string_view input(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<std::string> plain = replfs::Gunzip(input, kMaxBytes);
  if (!plain.ok()) return 0;
  if (plain->size() > kMaxBytes) {
    std::fprintf(stderr, "Gunzip returned %zu bytes, above its bound\n", plain->size());
    std::abort();
  }
  const std::optional<std::string> again = replfs::GzipIfSmaller(*plain);
  if (!again.has_value()) return 0;
  absl::StatusOr<std::string> back = replfs::Gunzip(*again, kMaxBytes);
  if (!back.ok() || *back != *plain) {
    std::fprintf(stderr, "gzip of %zu bytes did not inflate back to them\n", plain->size());
    std::abort();
  }
  return 0;
}
