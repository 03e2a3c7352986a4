#ifndef REPLFS_STORAGE_STORED_MESSAGE_H_
#define REPLFS_STORAGE_STORED_MESSAGE_H_

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace replfs {

// A protobuf value read from the store under `key`, or a DataLossError
// naming what it should have been: a record that does not parse is never
// skipped or taken for an empty one.
template <typename Message>
absl::StatusOr<Message> ParseStoredMessage(absl::string_view what, absl::string_view key,
                                           absl::string_view value) {
  Message message;
  if (!message.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
    return absl::DataLossError(absl::StrCat("corrupt ", what, " ", key));
  }
  return message;
}

}  // namespace replfs

#endif  // REPLFS_STORAGE_STORED_MESSAGE_H_
