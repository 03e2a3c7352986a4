#include "replication/apply_failure.h"

#include <cerrno>
#include <optional>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "storage/errno_status.h"

namespace replfs {
namespace {

constexpr absl::string_view kScopePayload = "replfs/failure-scope";
constexpr absl::string_view kPeerScope = "peer";
constexpr absl::string_view kEntryScope = "entry";

// Errors that say nothing about the entry being applied: every other entry
// would meet them too, so setting entries aside would only empty the
// stream into the set-aside list. Retrying the batch later is right.
bool IsReplicaWide(int error_number) {
  switch (error_number) {
    case ENOSPC:   // A file that cannot fit the free space is refused earlier.
    case EDQUOT:
    case EIO:
    case ENOMEM:
    case ENOBUFS:
    case EMFILE:
    case ENFILE:
    case EROFS:
    case EAGAIN:
    case EINTR:
    case ESTALE:
      return true;
    default:
      return false;
  }
}

}  // namespace

absl::Status PeerFault(absl::Status status) {
  if (!status.ok()) status.SetPayload(kScopePayload, absl::Cord(kPeerScope));
  return status;
}

absl::Status EntryFault(absl::Status status) {
  if (!status.ok()) status.SetPayload(kScopePayload, absl::Cord(kEntryScope));
  return status;
}

bool IsPeerFault(const absl::Status& status) {
  const auto scope = status.GetPayload(kScopePayload);
  return scope.has_value() && *scope == kPeerScope;
}

FailureScope ScopeOf(const absl::Status& status) {
  if (const auto scope = status.GetPayload(kScopePayload); scope.has_value()) {
    return *scope == kPeerScope ? FailureScope::kPeer : FailureScope::kEntry;
  }
  // A file system call that failed for this entry: whatever it refused
  // (EINVAL, ENAMETOOLONG, EFBIG, EPERM, EOPNOTSUPP, EMLINK...) it will
  // refuse again, and a race with a local change is retried with the entry.
  if (std::optional<int> error_number = ErrnoOf(status)) {
    return IsReplicaWide(*error_number) ? FailureScope::kTransient : FailureScope::kEntry;
  }
  return FailureScope::kTransient;
}

absl::Status InEntry(const Entry& e, const absl::Status& s) {
  return WithPrefix(absl::StrCat("apply ", e.path(), ": "), s);
}

}  // namespace replfs
