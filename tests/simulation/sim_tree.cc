#include "tests/simulation/sim_tree.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "base/unique_fd.h"
#include "storage/content_hasher.h"
#include "storage/version.h"

namespace replfs::sim {
namespace {

bool IsLive(const Entry& e) { return e.content().kind() != KIND_TOMBSTONE; }

int64_t Nanos(const struct timespec& ts) {
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

absl::StatusOr<std::vector<std::string>> HashFd(int fd) {
  std::vector<std::string> hashes;
  std::string block(kBlockSize, '\0');
  for (;;) {
    size_t filled = 0;
    while (filled < block.size()) {
      const ssize_t n = ::read(fd, block.data() + filled, block.size() - filled);
      if (n < 0) return absl::ErrnoToStatus(errno, "read");
      if (n == 0) break;
      filled += static_cast<size_t>(n);
    }
    if (filled == 0) break;
    hashes.push_back(Sha256(absl::string_view(block.data(), filled)));
    if (filled < block.size()) break;
  }
  return hashes;
}

absl::Status Walk(int dir_fd, const std::string& prefix, const std::string& hidden, Tree* tree) {
  UniqueFd listing(::openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!listing.valid()) return absl::ErrnoToStatus(errno, "open dir");
  DIR* dir = ::fdopendir(listing.get());
  if (dir == nullptr) return absl::ErrnoToStatus(errno, "fdopendir");
  listing.Release();
  std::vector<std::string> names;
  while (dirent* d = ::readdir(dir)) {
    const std::string n = d->d_name;
    if (n == "." || n == "..") continue;
    if (prefix.empty() && n == hidden) continue;
    names.push_back(n);
  }
  absl::Status status;
  for (const std::string& n : names) {
    const std::string path = prefix.empty() ? n : absl::StrCat(prefix, "/", n);
    struct stat st;
    if (::fstatat(::dirfd(dir), n.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      status = absl::ErrnoToStatus(errno, absl::StrCat("stat ", path));
      break;
    }
    TreeNode node;
    node.mode = st.st_mode & 07777;
    if (S_ISDIR(st.st_mode)) {
      node.kind = KIND_DIR;
      UniqueFd child(::openat(::dirfd(dir), n.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!child.valid()) {
        status = absl::ErrnoToStatus(errno, absl::StrCat("open ", path));
        break;
      }
      (*tree)[path] = node;
      status = Walk(child.get(), path, hidden, tree);
      if (!status.ok()) break;
      continue;
    }
    if (S_ISREG(st.st_mode)) {
      node.kind = KIND_FILE;
      node.size = static_cast<uint64_t>(st.st_size);
      node.mtime_ns = Nanos(st.st_mtim);
      UniqueFd file(::openat(::dirfd(dir), n.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
      if (!file.valid()) {
        status = absl::ErrnoToStatus(errno, absl::StrCat("open ", path));
        break;
      }
      absl::StatusOr<std::vector<std::string>> hashes = HashFd(file.get());
      if (!hashes.ok()) {
        status = hashes.status();
        break;
      }
      node.block_hashes = std::move(*hashes);
    } else if (S_ISLNK(st.st_mode)) {
      node.kind = KIND_SYMLINK;
      node.mode.reset();  // Symlinks have no mode of their own.
      node.mtime_ns = Nanos(st.st_mtim);
      std::string target(4096, '\0');
      const ssize_t len = ::readlinkat(::dirfd(dir), n.c_str(), target.data(), target.size());
      if (len < 0) {
        status = absl::ErrnoToStatus(errno, absl::StrCat("readlink ", path));
        break;
      }
      target.resize(static_cast<size_t>(len));
      node.symlink_target = target;
      node.size = target.size();
    } else {
      node.kind = KIND_FIFO;
    }
    (*tree)[path] = std::move(node);
  }
  ::closedir(dir);
  return status;
}

}  // namespace

std::string Describe(const TreeNode& node) {
  std::string hashes;
  for (const std::string& h : node.block_hashes) {
    absl::StrAppend(&hashes, hashes.empty() ? "" : ",", absl::BytesToHexString(h).substr(0, 10));
  }
  return absl::StrFormat("%s mode=%s size=%d blocks=[%s] target='%s' mtime=%d",
                         Kind_Name(node.kind),
                         node.mode ? absl::StrFormat("%04o", *node.mode) : std::string("?"),
                         node.size, hashes, node.symlink_target, node.mtime_ns);
}

absl::StatusOr<Tree> WalkBacking(int root_fd, const std::string& hidden) {
  UniqueFd root(::openat(root_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root.valid()) return absl::ErrnoToStatus(errno, "open root");
  Tree tree;
  if (absl::Status s = Walk(root.get(), "", hidden, &tree); !s.ok()) return s;
  return tree;
}

std::vector<std::string> BlockHashesOf(const Content& content) {
  if (content.is_inline()) {
    if (content.inline_data().empty()) return {};
    return {Sha256(content.inline_data())};
  }
  return {content.block_hashes().begin(), content.block_hashes().end()};
}

absl::StatusOr<std::vector<std::string>> BlockHashesOfFile(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) return absl::ErrnoToStatus(errno, absl::StrCat("open ", path));
  return HashFd(fd.get());
}

std::string FirstDifference(const Tree& a, absl::string_view a_name, const Tree& b,
                            absl::string_view b_name) {
  for (const auto& [path, node] : a) {
    auto it = b.find(path);
    if (it == b.end()) {
      return absl::StrFormat("%s has %s (%s), %s has nothing", a_name, path, Describe(node), b_name);
    }
    TreeNode left = node, right = it->second;
    if (!left.mode || !right.mode) left.mode = right.mode = std::nullopt;
    if (Describe(left) != Describe(right)) {
      return absl::StrFormat("%s: %s has %s, %s has %s", path, a_name, Describe(node), b_name,
                             Describe(it->second));
    }
  }
  for (const auto& [path, node] : b) {
    if (!a.contains(path)) {
      return absl::StrFormat("%s has %s (%s), %s has nothing", b_name, path, Describe(node), a_name);
    }
  }
  return "";
}

void VersionHistory::Add(const Entry& entry) {
  auto [it, inserted] = paths_.try_emplace(entry.path());
  PathHistory& history = it->second;
  if (inserted || CompareVersions(entry.content().version(), history.winner.content().version()) > 0) {
    history.winner = entry;
  }
  if (IsLive(entry)) {
    history.attributes_by_kind[entry.content().kind()].emplace_back(entry.attributes().version(),
                                                                    entry.attributes().mode());
  }
}

const Entry* VersionHistory::Winner(const std::string& path) const {
  auto it = paths_.find(path);
  return it == paths_.end() ? nullptr : &it->second.winner;
}

std::vector<std::string> VersionHistory::Paths() const {
  std::vector<std::string> paths;
  for (const auto& [path, unused] : paths_) paths.push_back(path);
  return paths;
}

Tree VersionHistory::Expected() const {
  Tree tree;
  // Live winners first; their ancestors exist as directories.
  for (const auto& [path, history] : paths_) {
    const Entry& winner = history.winner;
    if (!IsLive(winner)) continue;
    TreeNode node;
    node.kind = winner.content().kind();
    const Version* highest = nullptr;
    for (const auto& [version, mode] : history.attributes_by_kind.at(node.kind)) {
      if (highest == nullptr || CompareVersions(version, *highest) > 0) {
        highest = &version;
        node.mode = mode;
      }
    }
    if (node.kind == KIND_FILE) {
      node.size = winner.content().size();
      node.block_hashes = BlockHashesOf(winner.content());
      node.mtime_ns = winner.content().mtime_ns();
    } else if (node.kind == KIND_SYMLINK) {
      node.mode.reset();
      node.symlink_target = winner.content().symlink_target();
      node.size = node.symlink_target.size();
      node.mtime_ns = winner.content().mtime_ns();
    }
    tree.try_emplace(path, node);
  }
  Tree with_parents = tree;
  for (const auto& [path, node] : tree) {
    for (size_t slash = path.find('/'); slash != std::string::npos;
         slash = path.find('/', slash + 1)) {
      const std::string ancestor = path.substr(0, slash);
      TreeNode& parent = with_parents[ancestor];
      if (parent.kind == KIND_DIR) continue;
      // Not a live directory itself: a directory kept for its descendants.
      // No register decides its mode; replicas give it the default an
      // ancestor created for a descendant gets.
      parent = TreeNode{};
      parent.kind = KIND_DIR;
      parent.mode = kImplicitDirectoryMode;
    }
  }
  return with_parents;
}

}  // namespace replfs::sim
