#include "replication/batch_shape.h"

#include <cstdint>

#include "absl/strings/str_format.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/wire_format_lite.h"

namespace replfs {
namespace {

using google::protobuf::internal::WireFormatLite;
using google::protobuf::io::CodedInputStream;

// Field numbers in proto/replfs.proto and proto/entry.proto.
constexpr int kBatchEntries = 1;    // ChangeBatch.entries
constexpr int kEntryContent = 2;    // Entry.content
constexpr int kContentHashes = 6;   // Content.block_hashes

absl::Status Malformed() {
  return absl::InvalidArgumentError(
      "peer sent a message that does not parse as a ChangeBatch (garbage or truncated)");
}

// Calls `on_field(number, input)` for each length-delimited field of the
// message in `input` (up to its limit), with a limit pushed at its end; it
// must consume the field. Skips every other field.
template <typename OnField>
bool ForEachLengthDelimited(CodedInputStream* input, OnField on_field) {
  for (;;) {
    const uint32_t tag = input->ReadTag();
    // 0 at the end of the input or of the pushed limit (a legitimate end),
    // or for a tag that cannot be one.
    if (tag == 0) return input->ConsumedEntireMessage();
    if (WireFormatLite::GetTagWireType(tag) != WireFormatLite::WIRETYPE_LENGTH_DELIMITED) {
      if (!WireFormatLite::SkipField(input, tag)) return false;
      continue;
    }
    uint32_t length = 0;
    if (!input->ReadVarint32(&length) || length > static_cast<uint32_t>(INT32_MAX)) return false;
    const CodedInputStream::Limit limit = input->PushLimit(static_cast<int>(length));
    if (!on_field(WireFormatLite::GetTagFieldNumber(tag), input)) return false;
    if (input->BytesUntilLimit() != 0) return false;
    input->PopLimit(limit);
  }
}

bool SkipRest(CodedInputStream* input) {
  const int rest = input->BytesUntilLimit();
  return rest >= 0 && input->Skip(rest);
}

}  // namespace

absl::Status CheckBatchShape(google::protobuf::io::ZeroCopyInputStream* wire,
                             const BatchLimits& limits) {
  CodedInputStream input(wire);
  size_t entries = 0;
  uint64_t hashes = 0;
  absl::Status exceeded;
  const bool well_formed = ForEachLengthDelimited(&input, [&](int field, CodedInputStream* in) {
    if (field != kBatchEntries) return SkipRest(in);
    if (++entries > limits.max_entries) {
      exceeded = absl::InvalidArgumentError(absl::StrFormat(
          "batch of more than %d entries (no honest feed sends one)", limits.max_entries));
      return false;
    }
    uint64_t entry_hashes = 0;
    const bool entry_ok = ForEachLengthDelimited(in, [&](int entry_field, CodedInputStream* e) {
      if (entry_field != kEntryContent) return SkipRest(e);
      return ForEachLengthDelimited(e, [&](int content_field, CodedInputStream* c) {
        if (content_field == kContentHashes) ++entry_hashes;
        return SkipRest(c);
      });
    });
    if (!entry_ok) return false;
    hashes += entry_hashes;
    if (entry_hashes > limits.max_hashes_per_entry) {
      exceeded = absl::InvalidArgumentError(absl::StrFormat(
          "entry listing %d block hashes, more than a legal file has (%d)", entry_hashes,
          limits.max_hashes_per_entry));
      return false;
    }
    if (hashes > limits.max_hashes) {
      exceeded = absl::InvalidArgumentError(absl::StrFormat(
          "batch listing more than %d block hashes (no honest feed sends one)", limits.max_hashes));
      return false;
    }
    return true;
  });
  if (!exceeded.ok()) return exceeded;
  if (!well_formed) return Malformed();
  return absl::OkStatus();
}

}  // namespace replfs
