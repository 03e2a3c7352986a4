#include "storage/state_dir.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"

namespace replfs {
namespace {

absl::StatusOr<std::string> ReadSmallFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return std::string(absl::StripAsciiWhitespace(buffer.str()));
}

// Writes `content` to `path` atomically (temp file, fsync, rename).
absl::Status WriteSmallFile(const std::string& path, const std::string& content) {
  const std::string temp = path + ".tmp";
  UniqueFd fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd.valid()) return absl::ErrnoToStatus(errno, absl::StrCat("create ", temp));
  if (::write(fd.get(), content.data(), content.size()) != static_cast<ssize_t>(content.size()) ||
      ::fsync(fd.get()) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("write ", temp));
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("rename ", temp));
  }
  return absl::OkStatus();
}

absl::Status MakeDir(const std::string& path) {
  if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) {
    return absl::ErrnoToStatus(errno, absl::StrCat("cannot create ", path));
  }
  return absl::OkStatus();
}

uint64_t RandomNodeId() {
  uint64_t id = 0;
  while (id == 0) {
    if (::getrandom(&id, sizeof(id), 0) != sizeof(id)) id = 0;
  }
  return id;
}

}  // namespace

absl::StatusOr<uint64_t> ReadNodeId(const std::string& state_path) {
  absl::StatusOr<std::string> text = ReadSmallFile(state_path + "/node_id");
  if (!text.ok()) return text.status();
  uint64_t id = 0;
  if (!absl::SimpleHexAtoi(*text, &id) || id == 0) {
    return absl::DataLossError(absl::StrCat("corrupt node id in ", state_path, "/node_id"));
  }
  return id;
}

absl::StatusOr<std::unique_ptr<StateDir>> StateDir::Open(const std::string& path) {
  if (absl::Status s = MakeDir(path); !s.ok()) return s;
  UniqueFd lock_fd(::open((path + "/lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!lock_fd.valid()) {
    return absl::ErrnoToStatus(errno, absl::StrCat("cannot open lock in state folder ", path));
  }
  if (::flock(lock_fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      return absl::FailedPreconditionError(absl::StrCat(
          "another replfs is already running on this backing directory (state folder ", path,
          " is locked)"));
    }
    return absl::ErrnoToStatus(errno, "lock state folder");
  }
  const std::string layout_path = path + "/layout_version";
  absl::StatusOr<std::string> layout = ReadSmallFile(layout_path);
  if (layout.ok()) {
    if (*layout != absl::StrCat(kLayoutVersion)) {
      return absl::FailedPreconditionError(absl::StrFormat(
          "state folder %s has layout version %s; this replfs understands version %d", path,
          *layout, kLayoutVersion));
    }
  } else if (absl::Status s = WriteSmallFile(layout_path, absl::StrCat(kLayoutVersion, "\n"));
             !s.ok()) {
    return s;
  }
  for (const std::string& sub : {path + "/tmp", path + "/conflicts"}) {
    if (absl::Status s = MakeDir(sub); !s.ok()) return s;
  }
  uint64_t node_id;
  absl::StatusOr<uint64_t> existing = ReadNodeId(path);
  if (existing.ok()) {
    node_id = *existing;
  } else if (absl::IsNotFound(existing.status())) {
    node_id = RandomNodeId();
    if (absl::Status s = WriteSmallFile(path + "/node_id", absl::StrFormat("%016x\n", node_id));
        !s.ok()) {
      return s;
    }
  } else {
    return existing.status();
  }
  return std::unique_ptr<StateDir>(new StateDir(path, std::move(lock_fd), node_id));
}

}  // namespace replfs
