#ifndef REPLFS_TOOLS_BENCH_FLAGS_H_
#define REPLFS_TOOLS_BENCH_FLAGS_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/types/span.h"

namespace replfs {

// A `--name=N` flag of a benchmark helper ("--files=" and where N goes).
struct NumberFlag {
  const char* name;
  uint64_t* value;
};

// Sets the value of the flag `arg` names, if it names one of `flags`.
// Returns whether it did; an error when the number does not parse.
inline absl::StatusOr<bool> ParseNumberFlag(absl::string_view arg,
                                            absl::Span<const NumberFlag> flags) {
  for (const NumberFlag& flag : flags) {
    absl::string_view rest = arg;
    if (!absl::ConsumePrefix(&rest, flag.name)) continue;
    if (!absl::SimpleAtoi(rest, flag.value)) {
      return absl::InvalidArgumentError(absl::StrCat("bad number in ", arg));
    }
    return true;
  }
  return false;
}

}  // namespace replfs

#endif  // REPLFS_TOOLS_BENCH_FLAGS_H_
