#include "fuse/file_write_state.h"

#include <utility>

#include "storage/content_hasher.h"

namespace replfs {

void FileWriteState::MarkChangedLocked() {
  changed_ = true;
  last_change_ = Clock::now();
  ++generation_;
}

void FileWriteState::MarkAllChangedLocked() {
  MarkChangedLocked();
  dirty_.MarkAll();
}

void FileWriteState::CountWriter(bool truncating, bool writes_unseen, const struct stat& st) {
  absl::MutexLock lock(&mu_);
  ++open_writers_;
  if (writes_unseen && unseen_writers_++ == 0) {
    // The idle committer's polls start from the file as opened.
    polled_ = ChangeStamp::Of(st);
  }
  // Counted before the open touches the file: a commit running meanwhile
  // sees the change and gives up rather than record the emptied file.
  if (truncating || writes_unseen) MarkAllChangedLocked();
}

void FileWriteState::UncountWriter(bool writes_unseen) {
  absl::MutexLock lock(&mu_);
  --open_writers_;
  if (writes_unseen) --unseen_writers_;
}

FileWriteState::ClosedWriter FileWriteState::CloseWriter(bool writes_unseen) {
  absl::MutexLock lock(&mu_);
  if (writes_unseen) {
    // Whatever it wrote went past the daemon, possibly after a commit that
    // ran while it was open: the file is observed again, whole.
    --unseen_writers_;
    MarkAllChangedLocked();
  }
  ClosedWriter closed;
  closed.last_writer = --open_writers_ == 0;
  // A writer that opens after this moves the generation, and the commit
  // gives up.
  if (closed.last_writer && changed_) closed.commit_at = generation_;
  return closed;
}

bool FileWriteState::HasOpenWriters() const {
  absl::MutexLock lock(&mu_);
  return open_writers_ > 0;
}

bool FileWriteState::HasUnseenWriters() const {
  absl::MutexLock lock(&mu_);
  return unseen_writers_ > 0;
}

void FileWriteState::MarkWritten(uint64_t offset, uint64_t length) {
  absl::MutexLock lock(&mu_);
  MarkChangedLocked();
  dirty_.MarkRange(offset, length, kBlockSize);
}

void FileWriteState::MarkResized(uint64_t old_size, uint64_t new_size) {
  absl::MutexLock lock(&mu_);
  // The blocks between the two sizes change (zeros now, or gone): a shrink
  // and regrow in one commit window must not reuse their hashes.
  dirty_.MarkResized(old_size, new_size, kBlockSize);
  MarkChangedLocked();
}

void FileWriteState::MarkMetadataChanging() {
  absl::MutexLock lock(&mu_);
  MarkChangedLocked();
}

void FileWriteState::NoteStat(const struct stat& st) {
  absl::MutexLock lock(&mu_);
  // The last unseen writer closed since the caller looked: its close marked
  // the file changed and decided the commit that records it. Moving the
  // generation now would make that commit give up with nothing to follow.
  if (unseen_writers_ == 0) return;
  const ChangeStamp now = ChangeStamp::Of(st);
  if (now == polled_) return;
  polled_ = now;
  MarkAllChangedLocked();
}

std::optional<uint64_t> FileWriteState::GenerationUnlessBeingWritten(bool regular_file) {
  absl::MutexLock lock(&mu_);
  if (open_writers_ > 0 && regular_file) {
    MarkChangedLocked();
    return std::nullopt;
  }
  return generation_;
}

std::optional<uint64_t> FileWriteState::GenerationIfChanged() const {
  absl::MutexLock lock(&mu_);
  if (!changed_) return std::nullopt;
  return generation_;
}

std::optional<uint64_t> FileWriteState::GenerationIfQuiet(Clock::time_point now,
                                                          Clock::duration quiet) const {
  absl::MutexLock lock(&mu_);
  if (!changed_ || now - last_change_ < quiet) return std::nullopt;
  return generation_;
}

bool FileWriteState::Changed() const {
  absl::MutexLock lock(&mu_);
  return changed_;
}

std::optional<DirtyBlocks> FileWriteState::TakeForCommit(uint64_t decided_at) {
  absl::MutexLock lock(&mu_);
  if (generation_ != decided_at) return std::nullopt;
  DirtyBlocks taken = std::move(dirty_);
  dirty_.Clear();
  changed_ = false;
  return taken;
}

bool FileWriteState::GiveBackIfChangedSince(uint64_t decided_at, const DirtyBlocks& dirty) {
  absl::MutexLock lock(&mu_);
  if (generation_ == decided_at) return false;
  dirty_.Merge(dirty);
  changed_ = true;
  commit_reading_ = false;
  return true;
}

void FileWriteState::KeepChangedAfterFailure() {
  absl::MutexLock lock(&mu_);
  dirty_.MarkAll();
  changed_ = true;
  commit_reading_ = false;
}

void FileWriteState::BeginCommitRead(const struct timespec& atime) {
  absl::MutexLock lock(&mu_);
  commit_reading_ = true;
  atime_before_commit_ = atime;
}

void FileWriteState::EndCommitRead() {
  absl::MutexLock lock(&mu_);
  commit_reading_ = false;
}

void FileWriteState::HideCommitRead(struct stat* st) const {
  absl::MutexLock lock(&mu_);
  if (commit_reading_) st->st_atim = atime_before_commit_;
}

}  // namespace replfs
