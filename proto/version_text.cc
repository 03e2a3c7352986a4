#include "proto/version_text.h"

#include "absl/strings/str_format.h"

namespace replfs {

std::string VersionToString(const Version& v) {
  // entry.proto's layout of an HLC: 48 bits of wall-clock ms, 16 of counter.
  return absl::StrFormat("%d.%d@%016x", v.hlc() >> 16, v.hlc() & 0xffff, v.node());
}

}  // namespace replfs
