#ifndef REPLFS_STORAGE_ERRNO_STATUS_H_
#define REPLFS_STORAGE_ERRNO_STATUS_H_

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/string_view.h"

namespace replfs {

// A failed system call as a status that keeps its errno (absl's code alone
// folds EINVAL, ENAMETOOLONG and E2BIG together, and ENOSPC with EMLINK),
// so that whoever handles it can tell what the file system refused: the
// applier sets aside an entry a file system cannot store, but stops at a
// full disk.
inline constexpr absl::string_view kErrnoPayload = "replfs/errno";

inline absl::Status ErrnoStatus(int error_number, absl::string_view what) {
  absl::Status status = absl::ErrnoToStatus(error_number, what);
  status.SetPayload(kErrnoPayload, absl::Cord(std::to_string(error_number)));
  return status;
}

// The errno an ErrnoStatus was made from.
inline std::optional<int> ErrnoOf(const absl::Status& status) {
  const auto payload = status.GetPayload(kErrnoPayload);
  int error_number = 0;
  if (!payload.has_value() || !absl::SimpleAtoi(std::string(*payload), &error_number)) {
    return std::nullopt;
  }
  return error_number;
}

// `status` with `prefix` before its message, its code and payloads kept.
inline absl::Status WithPrefix(absl::string_view prefix, const absl::Status& status) {
  absl::Status out(status.code(), std::string(prefix) + std::string(status.message()));
  status.ForEachPayload([&](absl::string_view type_url, const absl::Cord& payload) {
    out.SetPayload(type_url, payload);
  });
  return out;
}

}  // namespace replfs

#endif  // REPLFS_STORAGE_ERRNO_STATUS_H_
