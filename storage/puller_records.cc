#include "storage/puller_records.h"

#include <string>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace replfs {
namespace {

constexpr absl::string_view kPullerPrefix = "P/";

// Fixed width: keys sort in node id order.
std::string PullerKey(uint64_t node) { return absl::StrFormat("%s%016x", kPullerPrefix, node); }

absl::StatusOr<uint64_t> ParseSeq(absl::string_view key, absl::string_view value) {
  uint64_t seq = 0;
  if (!absl::SimpleAtoi(value, &seq)) {
    return absl::DataLossError(absl::StrCat("unreadable acknowledgement record ", key));
  }
  return seq;
}

}  // namespace

absl::StatusOr<std::optional<uint64_t>> PullerRecords::Get(uint64_t node) const {
  const std::string key = PullerKey(node);
  absl::StatusOr<std::optional<std::string>> value = store_.GetRaw(key);
  if (!value.ok()) return value.status();
  if (!value->has_value()) return std::nullopt;
  absl::StatusOr<uint64_t> seq = ParseSeq(key, **value);
  if (!seq.ok()) return seq.status();
  return *seq;
}

absl::StatusOr<bool> PullerRecords::Contains(uint64_t node) const {
  absl::StatusOr<std::optional<std::string>> value = store_.GetRaw(PullerKey(node));
  if (!value.ok()) return value.status();
  return value->has_value();
}

absl::Status PullerRecords::Scan(
    const std::function<bool(uint64_t node, uint64_t applied_seq)>& visit) const {
  using Record = std::pair<uint64_t, uint64_t>;
  auto parse = [](absl::string_view key, absl::string_view value) -> absl::StatusOr<Record> {
    uint64_t node = 0;
    if (!absl::SimpleHexAtoi(key.substr(kPullerPrefix.size()), &node)) {
      return absl::DataLossError(absl::StrCat("unreadable acknowledgement record ", key));
    }
    absl::StatusOr<uint64_t> seq = ParseSeq(key, value);
    if (!seq.ok()) return seq.status();
    return Record{node, *seq};
  };
  return store_.ScanParsed<Record>(kPullerPrefix, parse, [&](const Record& record) {
    return visit(record.first, record.second);
  });
}

void PullerRecords::Put(StoreTransaction& txn, uint64_t node, uint64_t applied_seq) {
  txn.PutRaw(PullerKey(node), absl::StrCat(applied_seq));
}

void PullerRecords::Delete(StoreTransaction& txn, uint64_t node) {
  txn.DeleteRaw(PullerKey(node));
}

}  // namespace replfs
