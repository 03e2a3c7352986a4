#include "fuse/inode_table.h"

#include <fcntl.h>

#include <cstdlib>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "fuse/backing_files.h"

namespace replfs {
namespace {
// Paths deeper than this are treated as unreachable (a corrupted link chain
// must not loop forever). PATH_MAX allows at most 2048 components.
constexpr int kMaxDepth = 4096;

// A file handle's bytes (struct file_handle with room for any handle) of
// `name` in `dir_fd` ("" names `dir_fd` itself), not following a symlink.
std::string HandleOf(int dir_fd, const char* name = "") {
  std::string bytes(sizeof(file_handle) + MAX_HANDLE_SZ, '\0');
  auto* handle = reinterpret_cast<file_handle*>(bytes.data());
  handle->handle_bytes = MAX_HANDLE_SZ;
  int mount_id = 0;
  const int flags = name[0] == '\0' ? AT_EMPTY_PATH : 0;
  if (::name_to_handle_at(dir_fd, name, handle, &mount_id, flags) != 0) return "";
  bytes.resize(sizeof(file_handle) + handle->handle_bytes);
  return bytes;
}

}  // namespace

Inode::~Inode() {
  // Nothing else holds the inode any more; the lock is for the analysis.
  absl::MutexLock lock(&io_mu);
  if (backing_files != nullptr) backing_files->Forget(this);
  if (read_fd_.valid()) read_fd_budget_->Give();
  if (fd_.valid() && fd_budget_ != nullptr) fd_budget_->Give();
}

PathFd Inode::path_fd() const {
  if (fd_.valid()) return PathFd::Borrowed(fd_.get());
  // open_by_handle_at takes a non-const handle; it does not change it.
  auto* handle = reinterpret_cast<file_handle*>(const_cast<char*>(handle_.data()));
  UniqueFd fd(::open_by_handle_at(mount_fd_, handle, O_PATH | O_NOFOLLOW | O_CLOEXEC));
  // Read before the move: the order in which arguments are evaluated is
  // unspecified.
  const int error = fd.valid() ? 0 : errno;
  return PathFd::Opened(std::move(fd), error);
}

void Inode::KeepFdWithin(FdBudget& budget, int mount_fd) {
  if (budget.TryTake()) {
    fd_budget_ = &budget;
    return;
  }
  std::string handle = HandleOf(fd_.get());
  if (handle.empty()) return;  // No handles on this file system: keep the fd.
  handle_ = std::move(handle);
  mount_fd_ = mount_fd;
  fd_.Reset();
}

UniqueFd Inode::DupReadFd(FdBudget& budget, const std::string& proc_path) {
  if (!read_fd_.valid()) {
    if (!budget.TryTake()) return UniqueFd(::open(proc_path.c_str(), O_RDONLY | O_CLOEXEC));
    read_fd_.Reset(::open(proc_path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!read_fd_.valid()) {
      budget.Give();
      return UniqueFd();
    }
    read_fd_budget_ = &budget;
  }
  return UniqueFd(::fcntl(read_fd_.get(), F_DUPFD_CLOEXEC, 0));
}

InodeTable::InodeTable(UniqueFd root_fd, int64_t non_directory_fds)
    : non_directory_fds_(non_directory_fds) {
  struct stat st;
  if (::fstatat(root_fd.get(), "", &st, AT_EMPTY_PATH) != 0) {
    st.st_dev = 0;
    st.st_ino = 0;
  }
  // open_by_handle_at wants a real (not O_PATH) fd on the file system, and
  // CAP_DAC_READ_SEARCH: try it once on the root.
  handle_mount_fd_.Reset(::openat(root_fd.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  std::string handle = HandleOf(root_fd.get());
  if (handle_mount_fd_.valid() && !handle.empty()) {
    UniqueFd reopened(::open_by_handle_at(handle_mount_fd_.get(),
                                          reinterpret_cast<file_handle*>(handle.data()),
                                          O_PATH | O_CLOEXEC));
    file_handles_work_ = reopened.valid();
  }
  if (!file_handles_work_) handle_mount_fd_.Reset();
  root_ = std::make_unique<Inode>(std::move(root_fd), st.st_dev, st.st_ino, S_IFDIR);
  root_->nlookup_ = 1;  // The kernel's reference, never forgotten.
}

Inode* InodeTable::LookedUp(Inode* parent, const std::string& name, UniqueFd fd,
                            const struct stat& st) {
  absl::MutexLock lock(&mu_);
  if (st.st_dev == root_->dev_ && st.st_ino == root_->ino_) {
    ++root_->nlookup_;
    return root_.get();
  }
  auto [it, inserted] = inodes_.try_emplace(Key{st.st_dev, st.st_ino});
  if (!inserted && it->second != nullptr && !it->second->handle_.empty() &&
      it->second->handle_ != HandleOf(fd.get())) {
    // The inode number was reused: see DetachLocked.
    DetachLocked(it->second);
  }
  if (inserted || it->second == nullptr) {
    it->second = std::make_unique<Inode>(std::move(fd), st.st_dev, st.st_ino,
                                         st.st_mode & S_IFMT);
    // Handles open relative to the root's file system only.
    if (!S_ISDIR(st.st_mode) && file_handles_work_ && st.st_dev == root_->dev_) {
      it->second->KeepFdWithin(non_directory_fds_, handle_mount_fd_.get());
    }
  }
  Inode* inode = it->second.get();
  ++inode->nlookup_;
  AddLinkLocked(inode, parent, name);
  return inode;
}

Inode* InodeTable::LookedUpExisting(Inode* parent, const std::string& name,
                                    const struct stat& st) {
  absl::MutexLock lock(&mu_);
  if (st.st_dev == root_->dev_ && st.st_ino == root_->ino_) {
    ++root_->nlookup_;
    return root_.get();
  }
  auto it = inodes_.find(Key{st.st_dev, st.st_ino});
  if (it == inodes_.end()) return nullptr;
  Inode* inode = it->second.get();
  // A reused inode number is a new object: the caller opens it anew.
  if (!inode->handle_.empty() && inode->handle_ != HandleOf(parent->dir_fd(), name.c_str())) {
    return nullptr;
  }
  ++inode->nlookup_;
  AddLinkLocked(inode, parent, name);
  return inode;
}

bool InodeTable::AddLinkLocked(Inode* inode, Inode* parent, const std::string& name) {
  for (const Link& link : inode->links_) {
    if (link.parent == parent && link.name == name) return false;
  }
  // A directory has exactly one name: a new one replaces the old (the
  // directory was renamed behind our back).
  if (inode->is_dir()) {
    for (const Link& link : inode->links_) {
      --link.parent->child_links_;
      MaybeEraseLocked(link.parent);
    }
    inode->links_.clear();
  }
  inode->links_.push_back(Link{parent, name});
  ++parent->child_links_;
  return true;
}

void InodeTable::RemoveLinkLocked(Inode* inode, Inode* parent, const std::string& name) {
  for (auto it = inode->links_.begin(); it != inode->links_.end(); ++it) {
    if (it->parent == parent && it->name == name) {
      inode->links_.erase(it);
      --parent->child_links_;
      MaybeEraseLocked(parent);
      return;
    }
  }
}

void InodeTable::DetachLocked(std::unique_ptr<Inode>& entry) {
  Inode* stale = entry.get();
  detached_.emplace(stale, std::move(entry));
}

void InodeTable::MaybeEraseLocked(Inode* inode) {
  // Erasing an inode drops its links, which may free its parents in turn;
  // iterate rather than recurse so deep trees cannot overflow the stack.
  std::vector<Inode*> pending{inode};
  while (!pending.empty()) {
    Inode* current = pending.back();
    pending.pop_back();
    if (current == root_.get() || current->nlookup_ != 0 || current->child_links_ != 0 ||
        current->pins_ != 0) {
      continue;
    }
    for (const Link& link : current->links_) {
      --link.parent->child_links_;
      pending.push_back(link.parent);
    }
    auto it = inodes_.find(Key{current->dev_, current->ino_});
    if (it != inodes_.end() && it->second.get() == current) {
      inodes_.erase(it);
    } else {
      detached_.erase(current);
    }
  }
}

void InodeTable::Forget(Inode* inode, uint64_t n) {
  absl::MutexLock lock(&mu_);
  if (inode == root_.get()) return;
  if (n > inode->nlookup_) {
    std::fprintf(stderr, "replfs: forget underflow on inode %lu\n",
                 static_cast<unsigned long>(inode->ino_));
    std::abort();
  }
  inode->nlookup_ -= n;
  MaybeEraseLocked(inode);
}

void InodeTable::Pin(Inode* inode) {
  absl::MutexLock lock(&mu_);
  ++inode->pins_;
}

void InodeTable::Unpin(Inode* inode) {
  absl::MutexLock lock(&mu_);
  --inode->pins_;
  MaybeEraseLocked(inode);
}

Inode* InodeTable::Find(dev_t dev, ino_t ino) {
  absl::MutexLock lock(&mu_);
  if (dev == root_->dev_ && ino == root_->ino_) return root_.get();
  auto it = inodes_.find(Key{dev, ino});
  return it == inodes_.end() ? nullptr : it->second.get();
}

void InodeTable::MoveLink(dev_t dev, ino_t ino, Inode* parent, const std::string& name,
                          Inode* new_parent, const std::string& new_name) {
  absl::MutexLock lock(&mu_);
  auto it = inodes_.find(Key{dev, ino});
  if (it == inodes_.end()) return;
  Inode* inode = it->second.get();
  // Add first so that removing the old link cannot free the inode's parent
  // chain while it is still needed.
  ++new_parent->child_links_;
  RemoveLinkLocked(inode, parent, name);
  bool present = false;
  for (const Link& link : inode->links_) {
    present |= link.parent == new_parent && link.name == new_name;
  }
  if (!present) {
    inode->links_.push_back(Link{new_parent, new_name});
  } else {
    --new_parent->child_links_;
  }
}

void InodeTable::RemoveLink(dev_t dev, ino_t ino, Inode* parent, const std::string& name,
                            bool kept_aside) {
  absl::MutexLock lock(&mu_);
  auto it = inodes_.find(Key{dev, ino});
  if (it == inodes_.end()) return;
  if (kept_aside) it->second->links_kept_aside.fetch_add(1, std::memory_order_relaxed);
  RemoveLinkLocked(it->second.get(), parent, name);
}

bool InodeTable::PathOfLocked(Inode* inode, std::string* out, int depth) {
  if (inode == root_.get()) {
    out->clear();
    return true;
  }
  if (depth > kMaxDepth || inode->links_.empty()) return false;
  const Link& link = inode->links_.front();
  std::string parent_path;
  if (!PathOfLocked(link.parent, &parent_path, depth + 1)) return false;
  *out = parent_path.empty() ? link.name : absl::StrCat(parent_path, "/", link.name);
  return true;
}

std::vector<std::string> InodeTable::PathsOf(Inode* inode) {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> paths;
  if (inode == root_.get()) return {""};
  for (const Link& link : inode->links_) {
    std::string parent_path;
    if (!PathOfLocked(link.parent, &parent_path, 1)) continue;
    paths.push_back(parent_path.empty() ? link.name : absl::StrCat(parent_path, "/", link.name));
  }
  return paths;
}

std::optional<std::string> InodeTable::PathOf(Inode* inode) {
  absl::MutexLock lock(&mu_);
  std::string path;
  if (!PathOfLocked(inode, &path, 0)) return std::nullopt;
  return path;
}

size_t InodeTable::size() {
  absl::MutexLock lock(&mu_);
  return inodes_.size() + 1;
}

bool InodeTable::HasOpenWriters(dev_t dev, ino_t ino) {
  absl::MutexLock lock(&mu_);
  auto it = inodes_.find(Key{dev, ino});
  if (it == inodes_.end()) return false;
  return it->second->writes.HasOpenWriters();
}

bool InodeTable::HasUncommittedChanges(dev_t dev, ino_t ino) {
  absl::MutexLock lock(&mu_);
  auto it = inodes_.find(Key{dev, ino});
  if (it == inodes_.end()) return false;
  const Inode& inode = *it->second;
  return inode.pins_ > 0 || inode.writes.HasOpenWriters() || inode.writes.Changed();
}

uint64_t InodeTable::CountUncommitted() {
  absl::MutexLock lock(&mu_);
  uint64_t dirty = 0;
  for (const auto& [key, inode] : inodes_) {
    if (inode->writes.Changed()) ++dirty;
  }
  return dirty;
}

}  // namespace replfs
