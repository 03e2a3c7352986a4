#include "storage/apply_intents.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "storage/stored_message.h"

namespace replfs {
namespace {

constexpr absl::string_view kIntentPrefix = "A/";

std::string IntentKey(absl::string_view path) { return absl::StrCat(kIntentPrefix, path); }

}  // namespace

absl::Status ApplyIntents::Scan(const std::function<bool(const ApplyIntent&)>& visit) const {
  auto parse = [](absl::string_view key, absl::string_view value) {
    return ParseStoredMessage<ApplyIntent>("apply intent", key, value);
  };
  return store_.ScanParsed<ApplyIntent>(kIntentPrefix, parse, visit);
}

void ApplyIntents::Put(StoreTransaction& txn, const ApplyIntent& intent) {
  txn.PutRaw(IntentKey(intent.result().path()), intent.SerializeAsString());
}

void ApplyIntents::Delete(StoreTransaction& txn, absl::string_view path) {
  txn.DeleteRaw(IntentKey(path));
}

}  // namespace replfs
