#include "replication/conflict_keeper.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "base/unique_fd.h"
#include "storage/conflict_records.h"
#include "storage/errno_status.h"
#include "storage/file_blocks.h"
#include "storage/log.h"
#include "storage/version.h"

namespace replfs {
namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

absl::Status CopyFile(int from_fd, int to_fd) {
  char buffer[1 << 16];
  for (;;) {
    const ssize_t n = ::read(from_fd, buffer, sizeof(buffer));
    if (n < 0) return ErrnoStatus(errno, "read");
    if (n == 0) return absl::OkStatus();
    if (::write(to_fd, buffer, static_cast<size_t>(n)) != n) {
      return ErrnoStatus(errno, "write");
    }
  }
}

}  // namespace

absl::Status ConflictKeeper::Keep(int parent_fd, const std::string& name, const Entry& loser,
                                  const Version& winner, StoreTransaction& txn) {
  // One flat folder; the name says where the copy came from.
  const std::string copy_name = absl::StrFormat(
      "%s.%s", absl::StrReplaceAll(loser.path(), {{"/", "%"}}).substr(0, 200),
      VersionToString(loser.content().version()));
  const std::string copy_path = absl::StrCat(conflicts_dir_, "/", copy_name);
  ::unlinkat(AT_FDCWD, copy_path.c_str(), 0);
  if (::linkat(parent_fd, name.c_str(), AT_FDCWD, copy_path.c_str(), 0) != 0) {
    UniqueFd from(::openat(parent_fd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!from.valid()) return ErrnoStatus(errno, "open conflict source");
    UniqueFd to(::open(copy_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (!to.valid()) return ErrnoStatus(errno, "create conflict copy");
    if (absl::Status s = CopyFile(from.get(), to.get()); !s.ok()) return s;
  }
  ConflictRecord record;
  record.set_path(loser.path());
  record.set_copy_path(absl::StrCat("conflicts/", copy_name));
  *record.mutable_loser() = loser.content();
  StoreInlineAsBlock(record.mutable_loser());
  *record.mutable_winner_version() = winner;
  record.set_saved_unix_ms(NowMs());
  ConflictRecords::Put(txn, record);
  // Found by the convergence simulation (seed 852): a replica whose file was
  // displaced by a live descendant still lists that version in its change
  // log, and peers fetch its blocks from it; with the content only in an
  // unindexed copy, their applies failed for good. Index the copy's blocks.
  IndexCopy(record, /*add=*/true, txn);
  // A winner's own content kept aside (hidden by live descendants) lost
  // nothing: it is no conflict's loser.
  const Version& kept_version = loser.content().version();
  const bool lost = kept_version.hlc() != winner.hlc() || kept_version.node() != winner.node();
  struct stat copy_stat;
  if (versions_ != nullptr && versions_->enabled() && lost &&
      ::lstat(copy_path.c_str(), &copy_stat) == 0) {
    const KeptFile kept = versions_->LinkAside(AT_FDCWD, copy_path.c_str(), copy_stat);
    versions_->Queue(txn, kept, loser.path(), loser, KEPT_CONFLICT_LOSER, winner.node());
  }
  return Prune(txn);
}

void ConflictKeeper::IndexCopy(const ConflictRecord& record, bool add, StoreTransaction& txn) {
  const Content& c = record.loser();
  if (root_relative_dir_.empty() || c.kind() != KIND_FILE) return;
  // copy_path is relative to the state folder: "conflicts/<name>".
  const absl::string_view name = absl::string_view(record.copy_path()).substr(
      record.copy_path().rfind('/') + 1);
  const std::string path = absl::StrCat(root_relative_dir_, "/", name);
  // A loser that came inline is indexed too: the store holds a small file
  // as one block (file_blocks.h), found through this index.
  const std::vector<std::string> hashes = FileBlockHashes(c);
  for (size_t i = 0; i < hashes.size(); ++i) {
    if (add) {
      txn.PutBlockLocation(hashes[i], path, i);
    } else {
      txn.DeleteBlockLocation(hashes[i], path);
    }
  }
}

absl::Status ConflictKeeper::Prune(StoreTransaction& txn) {
  absl::StatusOr<std::vector<ConflictRecord>> all = List();
  if (!all.ok()) return all.status();
  if (all->size() < max_copies_) return absl::OkStatus();
  std::sort(all->begin(), all->end(), [](const ConflictRecord& a, const ConflictRecord& b) {
    return a.saved_unix_ms() < b.saved_unix_ms();
  });
  const size_t excess = all->size() - max_copies_ + 1;
  for (size_t i = 0; i < excess; ++i) {
    const ConflictRecord& old = (*all)[i];
    ConflictRecords::Delete(txn, old);
    IndexCopy(old, /*add=*/false, txn);
    // The record goes either way: a copy that cannot be removed now is
    // only space, not worth failing the apply that pruned it for.
    const std::filesystem::path copy =
        std::filesystem::path(conflicts_dir_).parent_path() / old.copy_path();
    std::error_code removal;
    std::filesystem::remove(copy, removal);
    if (removal) {
      LogWarning(absl::StrCat("pruning conflict copy ", copy.string(), ": ", removal.message()));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<ConflictRecord>> ConflictKeeper::List() const {
  std::vector<ConflictRecord> records;
  absl::Status s = ConflictRecords(*store_).Scan([&](const ConflictRecord& record) {
    records.push_back(record);
    return true;
  });
  if (!s.ok()) return s;
  return records;
}

absl::Status ConflictKeeper::Restore(const ConflictRecord& record,
                                     const std::string& destination) const {
  const std::string source =
      (std::filesystem::path(conflicts_dir_).parent_path() / record.copy_path()).string();
  UniqueFd from(::open(source.c_str(), O_RDONLY | O_CLOEXEC));
  if (!from.valid()) return ErrnoStatus(errno, absl::StrCat("open ", source));
  UniqueFd to(::open(destination.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!to.valid()) return ErrnoStatus(errno, absl::StrCat("create ", destination));
  return CopyFile(from.get(), to.get());
}

}  // namespace replfs
