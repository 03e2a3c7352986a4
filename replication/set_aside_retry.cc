// RemoteApplier: entries set aside, and partly applied ones, tried again.
#include <fcntl.h>
#include <sys/stat.h>

#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/unique_fd.h"
#include "replication/apply_failure.h"
#include "replication/object_attributes.h"
#include "replication/remote_applier.h"
#include "replication/set_aside_schedule.h"
#include "replication/uncovered_ancestors.h"
#include "storage/beneath.h"
#include "storage/errno_status.h"
#include "storage/log.h"
#include "storage/object_observer.h"
#include "storage/version.h"

namespace replfs {
namespace {

bool SameVersions(const Entry& a, const Entry& b) {
  return CompareVersions(a.content().version(), b.content().version()) == 0 &&
         CompareVersions(a.attributes().version(), b.attributes().version()) == 0;
}

}  // namespace

absl::Status RemoteApplier::SetAsideOrFail(const Entry& remote, uint64_t peer,
                                           const absl::Status& failure, ApplyStats* stats,
                                           const SetAsideRecord* retried) {
  absl::Status in_entry = InEntry(remote, failure);
  if (ScopeOf(failure) != FailureScope::kEntry) return in_entry;
  const int64_t now = NowUnixMs();
  // The record's history is kept when the same entry fails again.
  auto keep_history = [&](const SetAsideRecord& earlier) {
    SetAsideRecord record;  // Without its entry: `remote` goes in as it is.
    record.set_peer(peer != 0 ? peer : earlier.peer());
    record.set_first_unix_ms(earlier.first_unix_ms());
    record.set_attempts(earlier.attempts());
    return record;
  };
  SetAsideRecord record;
  if (retried != nullptr) {
    record = keep_history(*retried);
  } else {
    absl::StatusOr<std::optional<SetAsideRecord>> earlier = store_->GetSetAside(remote.path());
    if (!earlier.ok()) return earlier.status();
    if (earlier->has_value() && !(*earlier)->partial() &&
        SameVersions((*earlier)->entry(), remote)) {
      record = keep_history(**earlier);
    } else {
      record.set_peer(peer);
      record.set_first_unix_ms(now);
    }
  }
  record.set_partial(false);
  record.clear_dropped();
  record.set_retryable(true);
  record.set_reason(std::string(failure.message()));
  record.set_next_attempt_unix_ms(NextAttemptUnixMs(now, record.attempts()));
  record.set_attempts(record.attempts() + 1);
  if (absl::Status s = store_->Transact([&](StoreTransaction& txn) {
        txn.PutSetAside(record, remote);
        return absl::OkStatus();
      });
      !s.ok()) {
    return s;
  }
  ++stats->set_aside;
  LogWarning(absl::StrFormat("%s: set aside (attempt %d, next in %d s): later entries go on",
                             in_entry.message(), record.attempts(),
                             (record.next_attempt_unix_ms() - now) / 1000));
  return absl::OkStatus();
}

absl::Status RemoteApplier::RetrySetAside(BlockFetcher* fetcher, int64_t now_unix_ms, bool all,
                                          size_t limit, ApplyStats* stats) {
  // Which are due, by path and attempt only: a record may hold an entry
  // listing 2^18 hashes, and they are read again one at a time.
  struct Due {
    std::string path;
    uint32_t attempts;
  };
  std::vector<Due> due;
  absl::Status scanned = store_->ScanSetAside("", [&](const SetAsideRecord& record) {
    if (all || (record.retryable() && record.next_attempt_unix_ms() <= now_unix_ms)) {
      due.push_back({record.entry().path(), record.attempts()});
    }
    return due.size() < limit;
  });
  if (!scanned.ok()) return scanned;
  for (const Due& item : due) {
    // Applied, superseded or tried again since it was read: not due now.
    absl::StatusOr<std::optional<SetAsideRecord>> current = store_->GetSetAside(item.path);
    if (!current.ok()) return current.status();
    if (!current->has_value() || (*current)->attempts() != item.attempts) continue;
    const SetAsideRecord& record = **current;
    const Entry& entry = record.entry();
    if (record.partial()) {
      absl::MutexLock lock(&mu_);
      if (absl::Status s = RetryDroppedAttributes(record, now_unix_ms); !s.ok()) return s;
      continue;
    }
    {
      absl::MutexLock lock(&mu_);
      absl::StatusOr<std::optional<Entry>> local = store_->Get(entry.path());
      if (!local.ok()) return local.status();
      if (local->has_value() &&
          CompareVersions((*local)->content().version(), entry.content().version()) >= 0) {
        // A newer version was made or applied here since: it decides now.
        LogInfo(absl::StrCat("set-aside entry ", entry.path(), " ",
                             VersionToString(entry.content().version()), " superseded by ",
                             VersionToString((*local)->content().version())));
        if (absl::Status s = store_->Transact([&](StoreTransaction& txn) {
              txn.DeleteSetAside(entry.path());
              return absl::OkStatus();
            });
            !s.ok()) {
          return s;
        }
        continue;
      }
    }
    const uint64_t applied_before = stats->applied;
    const absl::Status outcome =
        ApplyGroup({&entry}, BatchSource{fetcher, record.peer()}, &record, stats);
    if (outcome.ok()) {
      if (stats->applied > applied_before) {
        LogInfo(absl::StrCat("set-aside entry ", entry.path(), " ",
                             VersionToString(entry.content().version()), " applied at attempt ",
                             record.attempts() + 1));
      }
      continue;
    }
    // Not the entry's own failure (the disk is full, no peer serves its
    // blocks right now): it stays set aside, tried again later.
    SetAsideRecord later;  // Its entry stays as it is.
    later.set_peer(record.peer());
    later.set_retryable(true);
    later.set_first_unix_ms(record.first_unix_ms());
    later.set_reason(std::string(outcome.message()));
    later.set_next_attempt_unix_ms(NextAttemptUnixMs(now_unix_ms, record.attempts()));
    later.set_attempts(record.attempts() + 1);
    if (absl::Status s = store_->Transact([&](StoreTransaction& txn) {
          txn.PutSetAside(later, entry);
          return absl::OkStatus();
        });
        !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

absl::Status RemoteApplier::RetryDroppedAttributes(const SetAsideRecord& record,
                                                   int64_t now_unix_ms) {
  const std::string& path = record.entry().path();
  absl::StatusOr<std::optional<Entry>> local = store_->Get(path);
  if (!local.ok()) return local.status();
  const bool superseded = !local->has_value() || !SameVersions(**local, record.entry());
  std::unique_lock<std::shared_mutex> gate = hooks_->BlockLocalChanges();
  return store_->Transact([&](StoreTransaction& txn) -> absl::Status {
    // A newer version replaced the one that lacked something: what it
    // lacks itself, if anything, has its own record.
    if (superseded) {
      txn.DeleteSetAside(path);
      return absl::OkStatus();
    }
    absl::StatusOr<std::optional<Entry>> now = txn.Get(path);
    if (!now.ok()) return now.status();
    if (!SameStoredEntry(*now, *local)) return absl::OkStatus();  // Raced: next time.
    const Entry& applied = **local;
    DroppedAttributes dropped;
    std::string name;
    absl::StatusOr<UniqueFd> parent = OpenParentBeneath(root_fd_, path, false, &name);
    struct stat st;
    if (parent.ok() && ::fstatat(parent->get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
        KindMatches(applied.content().kind(), st.st_mode)) {
      UniqueFd object(::openat(parent->get(), name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
      if (!object.valid()) return ErrnoStatus(errno, "open for attributes");
      if (absl::Status s = SetObjectAttributes(object.get(), applied.content().kind(),
                                               applied.attributes(),
                                               applied.content().mtime_ns(),
                                               options_.allow_setuid, &dropped);
          !s.ok()) {
        dropped.items.push_back(std::string(s.message()));
        dropped.retryable = true;
      }
    }
    // (An object that is not there as that kind any more, a directory
    // standing in for a hidden file: nothing of it to complete.)
    if (dropped.empty()) {
      LogInfo(absl::StrCat("apply ", path, ": the attributes it lacked are stored now"));
      txn.DeleteSetAside(path);
      return absl::OkStatus();
    }
    SetAsideRecord later = PartialRecord(applied, record.peer(), dropped, now_unix_ms);
    later.set_first_unix_ms(record.first_unix_ms());
    later.set_attempts(record.attempts() + 1);
    if (later.retryable()) {
      later.set_next_attempt_unix_ms(NextAttemptUnixMs(now_unix_ms, later.attempts()));
    }
    txn.PutSetAside(later);
    return absl::OkStatus();
  });
}

}  // namespace replfs
