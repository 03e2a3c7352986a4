#include "tests/cluster.h"

#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <random>
#include <thread>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "base/unique_fd.h"
#include "grpcpp/grpcpp.h"
#include "replfs.grpc.pb.h"
#include "storage/content_hasher.h"

namespace replfs::testing {
namespace {

absl::Status ErrnoError(const std::string& what) { return absl::ErrnoToStatus(errno, what); }

std::string Hex(const std::string& bytes) { return absl::BytesToHexString(bytes); }

// Hash of the whole content: SHA-256 over the per-MiB SHA-256s, so a 1 GiB
// file is read once in bounded memory.
absl::StatusOr<std::string> HashFd(int fd) {
  std::string buffer(1 << 20, '\0');
  std::string chunk_hashes;
  for (;;) {
    size_t filled = 0;
    while (filled < buffer.size()) {
      const ssize_t n = ::read(fd, buffer.data() + filled, buffer.size() - filled);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return ErrnoError("read");
      if (n == 0) break;
      filled += static_cast<size_t>(n);
    }
    if (filled == 0) break;
    chunk_hashes += Sha256(absl::string_view(buffer.data(), filled));
    if (filled < buffer.size()) break;
  }
  return Hex(Sha256(chunk_hashes));
}

std::string UserXattrs(const std::string& path) {
  std::vector<char> names(65536);
  const ssize_t n = ::llistxattr(path.c_str(), names.data(), names.size());
  if (n <= 0) return "";
  std::vector<std::string> items;
  for (ssize_t at = 0; at < n;) {
    const std::string name(names.data() + at);
    at += static_cast<ssize_t>(name.size()) + 1;
    if (!name.starts_with("user.")) continue;
    std::string value(65536, '\0');
    const ssize_t v = ::lgetxattr(path.c_str(), name.c_str(), value.data(), value.size());
    value.resize(v < 0 ? 0 : static_cast<size_t>(v));
    items.push_back(absl::StrCat(name, "=", absl::CEscape(value)));
  }
  std::sort(items.begin(), items.end());
  return items.empty() ? "" : absl::StrCat(" xattrs[", absl::StrJoin(items, ","), "]");
}

absl::Status DigestInto(const std::string& root, const std::string& relative,
                        const std::string& hidden, bool hash_content, std::vector<std::string>* out) {
  const std::string dir_path = relative.empty() ? root : absl::StrCat(root, "/", relative);
  DIR* dir = ::opendir(dir_path.c_str());
  if (dir == nullptr) return ErrnoError(absl::StrCat("opendir ", dir_path));
  std::vector<std::string> names;
  while (struct dirent* d = ::readdir(dir)) {
    const std::string name = d->d_name;
    if (name == "." || name == "..") continue;
    if (relative.empty() && name == hidden) continue;
    names.push_back(name);
  }
  ::closedir(dir);
  std::sort(names.begin(), names.end());
  for (const std::string& name : names) {
    const std::string rel = relative.empty() ? name : absl::StrCat(relative, "/", name);
    const std::string full = absl::StrCat(root, "/", rel);
    struct stat st;
    if (::lstat(full.c_str(), &st) != 0) return ErrnoError(absl::StrCat("lstat ", full));
    const std::string owner =
        absl::StrCat(absl::StrFormat("%04o", st.st_mode & 07777), " ", st.st_uid, " ", st.st_gid);
    if (S_ISDIR(st.st_mode)) {
      out->push_back(absl::StrCat(rel, " dir ", owner, UserXattrs(full)));
      if (absl::Status s = DigestInto(root, rel, hidden, hash_content, out); !s.ok()) return s;
    } else if (S_ISLNK(st.st_mode)) {
      std::string target(4096, '\0');
      const ssize_t n = ::readlink(full.c_str(), target.data(), target.size());
      if (n < 0) return ErrnoError(absl::StrCat("readlink ", full));
      target.resize(static_cast<size_t>(n));
      out->push_back(absl::StrCat(rel, " symlink -> ", target));
    } else if (S_ISREG(st.st_mode) && !hash_content) {
      out->push_back(absl::StrCat(rel, " file ", owner, " ", st.st_size, UserXattrs(full)));
    } else if (S_ISREG(st.st_mode)) {
      UniqueFd fd(::open(full.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
      if (!fd.valid()) return ErrnoError(absl::StrCat("open ", full));
      absl::StatusOr<std::string> hash = HashFd(fd.get());
      if (!hash.ok()) return hash.status();
      out->push_back(absl::StrCat(rel, " file ", owner, " ", st.st_size, " ", hash->substr(0, 16),
                                  UserXattrs(full)));
    } else {
      out->push_back(absl::StrCat(rel, " other ", owner));
    }
  }
  return absl::OkStatus();
}

std::string Tail(const std::string& text, size_t bytes) {
  return text.size() <= bytes ? text : absl::StrCat("...", text.substr(text.size() - bytes));
}

std::unique_ptr<Admin::Stub> AdminStub(const std::string& socket) {
  return Admin::NewStub(
      grpc::CreateChannel(absl::StrCat("unix:", socket), grpc::InsecureChannelCredentials()));
}

}  // namespace

Topology FullMesh(int replicas) {
  Topology topology(static_cast<size_t>(replicas));
  for (int i = 0; i < replicas; ++i) {
    for (int j = 0; j < replicas; ++j) {
      if (i != j) topology[static_cast<size_t>(i)].push_back(j);
    }
  }
  return topology;
}

Topology HubAndSpoke(int replicas, int hub) {
  Topology topology(static_cast<size_t>(replicas));
  for (int i = 0; i < replicas; ++i) {
    if (i == hub) continue;
    topology[static_cast<size_t>(i)].push_back(hub);
    topology[static_cast<size_t>(hub)].push_back(i);
  }
  return topology;
}

absl::StatusOr<std::vector<std::string>> TreeDigest(const std::string& root,
                                                    const std::string& hidden, bool hash_content) {
  std::vector<std::string> out;
  if (absl::Status s = DigestInto(root, "", hidden, hash_content, &out); !s.ok()) return s;
  return out;
}

std::string DigestDiff(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  std::vector<std::string> only_a, only_b;
  std::set_difference(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(only_a));
  std::set_difference(b.begin(), b.end(), a.begin(), a.end(), std::back_inserter(only_b));
  std::string out;
  constexpr size_t kMaxLines = 40;
  for (size_t i = 0; i < only_a.size() && i < kMaxLines; ++i) absl::StrAppend(&out, "  - ", only_a[i], "\n");
  if (only_a.size() > kMaxLines) absl::StrAppend(&out, "  - ... ", only_a.size() - kMaxLines, " more\n");
  for (size_t i = 0; i < only_b.size() && i < kMaxLines; ++i) absl::StrAppend(&out, "  + ", only_b[i], "\n");
  if (only_b.size() > kMaxLines) absl::StrAppend(&out, "  + ... ", only_b.size() - kMaxLines, " more\n");
  return out;
}

absl::Status WriteFile(const std::string& path, const std::string& content) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd.valid()) return ErrnoError(absl::StrCat("open ", path));
  size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = ::write(fd.get(), content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoError(absl::StrCat("write ", path));
    done += static_cast<size_t>(n);
  }
  if (::close(fd.Release()) != 0) return ErrnoError(absl::StrCat("close ", path));
  return absl::OkStatus();
}

absl::Status AppendFile(const std::string& path, const std::string& content) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC));
  if (!fd.valid()) return ErrnoError(absl::StrCat("open ", path));
  if (::write(fd.get(), content.data(), content.size()) != static_cast<ssize_t>(content.size())) {
    return ErrnoError(absl::StrCat("append ", path));
  }
  if (::close(fd.Release()) != 0) return ErrnoError(absl::StrCat("close ", path));
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return ErrnoError(absl::StrCat("open ", path));
  std::string out;
  char buffer[65536];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoError(absl::StrCat("read ", path));
    if (n == 0) break;
    out.append(buffer, static_cast<size_t>(n));
  }
  return out;
}

std::string IncompressibleBytes(size_t size, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string data(size, '\0');
  for (size_t i = 0; i + 8 <= size; i += 8) {
    const uint64_t word = rng();
    for (size_t b = 0; b < 8; ++b) data[i + b] = static_cast<char>(word >> (8 * b));
  }
  return data;
}

absl::StatusOr<std::string> FileSha256(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return ErrnoError(absl::StrCat("open ", path));
  return HashFd(fd.get());
}

Cluster::Cluster(int replicas, Topology topology, std::vector<std::string> extra_args)
    : topology_(std::move(topology)), extra_args_(std::move(extra_args)) {
  dir_ = std::make_unique<TempDir>("replfs-cluster");
  if (static_cast<int>(topology_.size()) != replicas) {
    init_status_ = absl::InvalidArgumentError("topology size does not match the replica count");
    return;
  }
  absl::StatusOr<std::vector<int>> ports = DistinctLoopbackPorts(replicas);
  if (!ports.ok()) {
    init_status_ = ports.status();
    return;
  }
  ports_ = *std::move(ports);
  for (int i = 0; i < replicas; ++i) {
    replicas_.push_back(std::make_unique<ReplicaProcess>(dir_->Sub(absl::StrCat("b", i)),
                                                         dir_->Sub(absl::StrCat("m", i)),
                                                         Arguments(i)));
  }
}

Cluster::~Cluster() {
  // Stop in reverse order; each ReplicaProcess also cleans up on its own.
  for (auto it = replicas_.rbegin(); it != replicas_.rend(); ++it) {
    if ((*it)->pid() > 0 && !(*it)->Stop().ok()) (*it)->Kill();
  }
  replicas_.clear();
}

std::vector<std::string> Cluster::Arguments(int i) const {
  std::vector<std::string> peers;
  for (int peer : topology_[static_cast<size_t>(i)]) {
    peers.push_back(absl::StrCat("127.0.0.1:", ports_[static_cast<size_t>(peer)]));
  }
  std::string options = absl::StrCat("listen=127.0.0.1:", ports_[static_cast<size_t>(i)],
                                     ",log_level=info");
  if (!peers.empty()) absl::StrAppend(&options, ",peers=", absl::StrJoin(peers, ";"));
  std::vector<std::string> args = {"-o", options};
  args.insert(args.end(), extra_args_.begin(), extra_args_.end());
  return args;
}

absl::Status Cluster::StartAll() {
  if (!init_status_.ok()) return init_status_;
  for (int i = 0; i < size(); ++i) {
    if (absl::Status s = Start(i); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status Cluster::Start(int i) {
  if (!init_status_.ok()) return init_status_;
  absl::Status s = replica(i).Start();
  if (!s.ok()) return absl::Status(s.code(), absl::StrCat("replica ", i, ": ", s.message()));
  return absl::OkStatus();
}

absl::Status Cluster::SetArguments(int i, const std::vector<std::string>& args) {
  if (running(i)) return absl::FailedPreconditionError(absl::StrCat("replica ", i, " is running"));
  std::vector<std::string> all = Arguments(i);
  all.insert(all.end(), args.begin(), args.end());
  std::unique_ptr<ReplicaProcess>& slot = replicas_[static_cast<size_t>(i)];
  slot = std::make_unique<ReplicaProcess>(slot->backing(), slot->mountpoint(), std::move(all));
  return absl::OkStatus();
}

absl::Status Cluster::Stop(int i) { return replica(i).Stop(); }

void Cluster::Kill(int i) { replica(i).Kill(); }

bool Cluster::Exists(int i, const std::string& relative) const {
  struct stat st;
  return ::lstat(Mount(i, relative).c_str(), &st) == 0;
}

std::string Cluster::Content(int i, const std::string& relative) const {
  absl::StatusOr<std::string> got = ReadFile(Mount(i, relative));
  return got.ok() ? *got : absl::StrCat("<", got.status().ToString(), ">");
}

bool Cluster::WaitForContent(int i, const std::string& relative, const std::string& content,
                             absl::Duration timeout) const {
  return WaitUntil(
      [&] {
        absl::StatusOr<std::string> got = ReadFile(Mount(i, relative));
        return got.ok() && *got == content;
      },
      timeout, absl::Milliseconds(100));
}

std::string Cluster::TempPath(const std::string& name) const {
  return absl::StrCat(dir_->path(), "/", name);
}

std::string Cluster::Mount(int i, const std::string& relative) const {
  const std::string& m = replicas_[static_cast<size_t>(i)]->mountpoint();
  return relative.empty() ? m : absl::StrCat(m, "/", relative);
}

std::string Cluster::Backing(int i, const std::string& relative) const {
  const std::string& b = replicas_[static_cast<size_t>(i)]->backing();
  return relative.empty() ? b : absl::StrCat(b, "/", relative);
}

absl::StatusOr<ReplicaStatus> AdminStatus(const ReplicaProcess& replica) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  ReplicaStatus status;
  grpc::Status s = AdminStub(replica.StateDir() + "/admin.sock")
                       ->Status(&context, StatusRequest(), &status);
  if (!s.ok()) return absl::UnavailableError(s.error_message());
  return status;
}

absl::StatusOr<ConflictsReply> AdminConflicts(const ReplicaProcess& replica) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  ConflictsReply reply;
  grpc::Status s = AdminStub(replica.StateDir() + "/admin.sock")
                       ->Conflicts(&context, ConflictsRequest(), &reply);
  if (!s.ok()) return absl::UnavailableError(s.error_message());
  return reply;
}

absl::Status AdminForgetPuller(const ReplicaProcess& replica, uint64_t node) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  ForgetPullerRequest request;
  request.set_node(node);
  ForgetPullerReply reply;
  grpc::Status s = AdminStub(replica.StateDir() + "/admin.sock")
                       ->ForgetPuller(&context, request, &reply);
  if (!s.ok()) return absl::UnavailableError(s.error_message());
  if (!reply.forgotten()) return absl::NotFoundError("the node does not pull from this replica");
  return absl::OkStatus();
}

absl::StatusOr<ReplicaStatus> Cluster::Status(int i) const {
  absl::StatusOr<ReplicaStatus> status = AdminStatus(*replicas_[static_cast<size_t>(i)]);
  if (!status.ok()) {
    return absl::UnavailableError(
        absl::StrCat("admin Status of replica ", i, ": ", status.status().message()));
  }
  return status;
}

absl::StatusOr<ConflictsReply> Cluster::Conflicts(int i) const {
  absl::StatusOr<ConflictsReply> reply = AdminConflicts(*replicas_[static_cast<size_t>(i)]);
  if (!reply.ok()) {
    return absl::UnavailableError(
        absl::StrCat("admin Conflicts of replica ", i, ": ", reply.status().message()));
  }
  return reply;
}

absl::StatusOr<uint64_t> Cluster::SumOverPeers(
    int i, const std::function<uint64_t(const PeerStatus&)>& field) const {
  absl::StatusOr<ReplicaStatus> status = Status(i);
  if (!status.ok()) return status.status();
  uint64_t sum = 0;
  for (const PeerStatus& peer : status->peers()) sum += field(peer);
  return sum;
}

absl::StatusOr<uint64_t> Cluster::BlockBytesFetched(int i) const {
  return SumOverPeers(i, [](const PeerStatus& p) { return p.block_bytes_fetched(); });
}

absl::Status WaitForMountsToConverge(const std::vector<NamedMount>& mounts, absl::Duration timeout,
                                    const std::function<std::string()>& diagnostics) {
  std::vector<absl::StatusOr<std::vector<std::string>>> digests;
  auto all_equal = [&](bool hash_content) {
    digests.clear();
    for (const NamedMount& m : mounts) {
      digests.push_back(TreeDigest(m.mount, ".replfs", hash_content));
      if (!digests.back().ok()) return false;
      if (*digests.back() != *digests.front()) return false;
    }
    return true;
  };
  // Cheap metadata digests first; contents are read only once those agree
  // (a poll must not re-read gigabytes).
  const bool converged = WaitUntil(
      [&] { return all_equal(/*hash_content=*/false) && all_equal(/*hash_content=*/true); },
      timeout, absl::Milliseconds(200));
  if (converged) return absl::OkStatus();
  // Take every digest once more for the report.
  digests.clear();
  for (const NamedMount& m : mounts) digests.push_back(TreeDigest(m.mount));
  std::string report = absl::StrCat("replicas did not converge within ", absl::FormatDuration(timeout), "\n");
  for (size_t k = 0; k < mounts.size(); ++k) {
    if (!digests[k].ok()) {
      absl::StrAppend(&report, mounts[k].name, ": digest failed: ", digests[k].status().ToString(), "\n");
      continue;
    }
    if (k == 0) {
      absl::StrAppend(&report, mounts[0].name, " tree (", digests[0]->size(), " objects):\n");
      for (size_t j = 0; j < digests[0]->size() && j < 30; ++j) {
        absl::StrAppend(&report, "    ", (*digests[0])[j], "\n");
      }
    } else if (digests[0].ok()) {
      absl::StrAppend(&report, mounts[k].name, " vs ", mounts[0].name, ":\n",
                      DigestDiff(*digests[k], *digests[0]));
    }
  }
  if (diagnostics) absl::StrAppend(&report, diagnostics());
  return absl::DeadlineExceededError(report);
}

std::string ReplicaDiagnostics(const std::string& name, const ReplicaProcess& replica) {
  const bool running = replica.pid() > 0;
  std::string out = absl::StrCat("==== ", name, " (", running ? "running" : "stopped", ") ====\n");
  if (running) {
    absl::StatusOr<ReplicaStatus> status = AdminStatus(replica);
    absl::StrAppend(&out, status.ok() ? status->ShortDebugString() : status.status().ToString(), "\n");
  }
  absl::StrAppend(&out, "-- log tail --\n", Tail(replica.Log(), 6000), "\n");
  return out;
}

absl::Status Cluster::WaitForConvergence(absl::Duration timeout, std::vector<int> which) {
  if (which.empty()) {
    for (int i = 0; i < size(); ++i) {
      if (running(i)) which.push_back(i);
    }
  }
  std::vector<NamedMount> mounts;
  mounts.reserve(which.size());
  for (int i : which) mounts.push_back({absl::StrCat("replica ", i), Mount(i)});
  return WaitForMountsToConverge(mounts, timeout, [this] { return Diagnostics(); });
}

std::string Cluster::Diagnostics() const {
  std::string out;
  for (int i = 0; i < size(); ++i) {
    absl::StrAppend(&out, ReplicaDiagnostics(absl::StrCat("replica ", i, " port ", port(i)),
                                             *replicas_[static_cast<size_t>(i)]));
  }
  return out;
}

}  // namespace replfs::testing
