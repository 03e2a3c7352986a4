#include "fuse/idle_committer.h"

#include <cstdint>
#include <utility>
#include <vector>

namespace replfs {

IdleCommitter::IdleCommitter(ReplicaFs* fs, std::chrono::milliseconds quiet,
                             std::chrono::milliseconds period)
    : fs_(fs), quiet_(quiet), period_(period), thread_([this] { Run(); }) {}

IdleCommitter::~IdleCommitter() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void IdleCommitter::Run() {
  std::unique_lock lock(mu_);
  while (!wake_.wait_for(lock, period_, [this] { return stopping_; })) {
    lock.unlock();
    CommitQuietFiles();
    lock.lock();
  }
}

void IdleCommitter::CommitQuietFiles() {
  // Held throughout: an inode in the set cannot be forgotten (see
  // ReplicaFs::writing), and a commit here is rare (quiet files only).
  std::lock_guard writing_lock(fs_->writing_mu);
  const auto now = std::chrono::steady_clock::now();
  std::vector<std::pair<Inode*, uint64_t>> due;  // With the generation seen quiet.
  for (Inode* inode : fs_->writing) {
    bool unseen_writes;
    {
      std::lock_guard lock(inode->mu);
      unseen_writes = inode->unseen_writers > 0;
    }
    if (unseen_writes) fs_->NoteUnseenWrites(inode);
    std::lock_guard lock(inode->mu);
    if (inode->content_dirty && now - inode->last_change >= quiet_) {
      due.emplace_back(inode, inode->change_generation);
    }
  }
  for (const auto& [inode, generation] : due) fs_->CommitInode(inode, generation);
}

}  // namespace replfs
