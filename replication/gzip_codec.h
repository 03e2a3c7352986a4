#ifndef REPLFS_REPLICATION_GZIP_CODEC_H_
#define REPLFS_REPLICATION_GZIP_CODEC_H_

#include <cstddef>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace replfs {

// gzip (RFC 1952, zlib's level 6) of `data` when that saves at least a
// sixteenth of its bytes; nullopt when it does not. Data that is
// compressed already (images, archives, fonts) is told from a 4 KiB sample
// before the whole is tried, so it costs a replica little to send it raw.
std::optional<std::string> GzipIfSmaller(absl::string_view data);

// The bytes of one whole gzip stream. InvalidArgument when `gzipped` is not
// one (garbage, truncated, trailing bytes, a bad CRC) or inflates to more
// than `max_bytes`: inflating stops there, so a small message cannot make
// the receiver allocate more than it would accept uncompressed.
absl::StatusOr<std::string> Gunzip(absl::string_view gzipped, size_t max_bytes);

}  // namespace replfs

#endif  // REPLFS_REPLICATION_GZIP_CODEC_H_
