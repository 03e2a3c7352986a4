// libFuzzer target: the apply planner. A sequence of fuzzer-made batches of
// entries (hostile paths, symlinks planted and then written through,
// tombstones, kind changes, blocks whose data may or may not match or that
// the peer no longer serves, xattrs of every namespace, times before 1970)
// goes through RemoteApplier over a temporary backing directory, with
// set-aside entries tried again now and then. Invariants: nothing crashes;
// nothing is ever created, changed or removed outside the backing
// directory nor in its state folder (checked by walking the temporary root
// around it, and a canary in the state folder); no object in the tree gets
// an xattr of a namespace replfs does not replicate.
//
// Built twice: apply_fuzzer starts every input on an empty tree and store;
// apply_live_fuzzer (REPLFS_FUZZ_LIVE_STORE) keeps one tree, store and
// applier for the whole run, so inputs build on what earlier ones left (the
// long run is `tools/fuzz.sh --seconds 28800 apply_live_fuzzer`).
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <fuzzer/FuzzedDataProvider.h>

#include "absl/synchronization/mutex.h"
#include "replication/block_fetcher.h"
#include "replication/remote_applier.h"
#include "storage/filesystem_hooks.h"
#include "storage/content_hasher.h"
#include "storage/hlc.h"
#include "storage/metadata_store.h"

namespace {

namespace fs = std::filesystem;

// Layout, made once per process:
//   <base>/outside/victim       must never change
//   <base>/root/                the backing directory
//   <base>/root/.replfs/canary  must never change; tmp/ and conflicts/ are
//                               the applier's own
//   <base>/store/               the metadata store, fresh per input
struct Sandbox {
  std::string base, root, state, outside, store;
  std::set<std::string> absolute_before;  // Which /<name> existed at start.
};

// Names the fuzzer builds paths and symlink targets from: real names, the
// state folder, traversal, and whatever the sandbox is called.
const std::vector<std::string>& Names() {
  static const std::vector<std::string> names = {"a", "b", "c", "d", "etc", "victim", ".replfs",
                                                 "..", ".", "", "tmp", "canary"};
  return names;
}

const Sandbox& GetSandbox() {
  static const Sandbox* sandbox = [] {
    auto* s = new Sandbox;
    // tmpfs when there is one: every input creates a store and files, and
    // on a disk filesystem inode creation and fsync dominate the run time.
    const char* tmpdir = std::getenv("TMPDIR");
    const fs::path parent = tmpdir == nullptr && fs::is_directory("/dev/shm")
                                ? fs::path("/dev/shm")
                                : fs::temp_directory_path();
    std::string templ = (parent / "replfs-apply-fuzz-XXXXXX").string();
    if (::mkdtemp(templ.data()) == nullptr) std::abort();
    s->base = templ;
    s->root = s->base + "/root";
    s->state = s->root + "/.replfs";
    s->outside = s->base + "/outside";
    s->store = s->base + "/store";
    fs::create_directories(s->state + "/tmp");
    fs::create_directories(s->state + "/conflicts");
    fs::create_directories(s->outside);
    std::ofstream(s->outside + "/victim") << "victim";
    std::ofstream(s->state + "/canary") << "canary";
    for (const std::string& name : Names()) {
      struct stat st;
      if (!name.empty() && name != "." && name != ".." && ::lstat(("/" + name).c_str(), &st) == 0) {
        s->absolute_before.insert(name);
      }
    }
    // Removed when the process exits normally (-runs=N, -max_total_time).
    std::atexit([] { std::error_code ec; fs::remove_all(GetSandbox().base, ec); });
    return s;
  }();
  return *sandbox;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream data;
  data << in.rdbuf();
  return data.str();
}

[[noreturn]] void Escaped(const std::string& what) {
  std::fprintf(stderr, "apply wrote outside the backing directory: %s\n", what.c_str());
  std::abort();
}

void CheckNothingEscaped(const Sandbox& s) {
  std::set<std::string> top;
  for (const auto& e : fs::directory_iterator(s.base)) top.insert(e.path().filename().string());
  if (top != std::set<std::string>{"outside", "root", "store"}) Escaped("a new name in the sandbox");
  std::set<std::string> outside;
  for (const auto& e : fs::directory_iterator(s.outside)) outside.insert(e.path().filename().string());
  if (outside != std::set<std::string>{"victim"} || ReadFile(s.outside + "/victim") != "victim") {
    Escaped("the victim next to the backing dir");
  }
  struct stat st;
  if (::lstat(s.state.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) Escaped("the state folder");
  std::set<std::string> state;
  for (const auto& e : fs::directory_iterator(s.state)) state.insert(e.path().filename().string());
  if (state != std::set<std::string>{"canary", "conflicts", "tmp"} ||
      ReadFile(s.state + "/canary") != "canary") {
    Escaped("inside the state folder");
  }
  for (const std::string& name : Names()) {
    if (name.empty() || name == "." || name == ".." || s.absolute_before.contains(name)) continue;
    if (::lstat(("/" + name).c_str(), &st) == 0) Escaped("/" + name);
  }
}

[[noreturn]] void ForeignXattr(const std::string& path, const std::string& name) {
  std::fprintf(stderr, "apply set xattr %s on %s: a namespace replfs does not replicate\n",
               name.c_str(), path.c_str());
  std::abort();
}

// No object in the tree carries a security.* or trusted.* xattr: those are
// this machine's policy and never taken from a peer.
void CheckNoForeignXattrs(const Sandbox& s) {
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(s.root, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->path() == s.state) {
      it.disable_recursion_pending();
      continue;
    }
    std::vector<char> names(4096);
    const ssize_t n = ::llistxattr(it->path().c_str(), names.data(), names.size());
    for (ssize_t at = 0; n > 0 && at < n;) {
      const std::string name(names.data() + at);
      at += static_cast<ssize_t>(name.size()) + 1;
      if (name.starts_with("security.") || name.starts_with("trusted.")) {
        ForeignXattr(it->path().string(), name);
      }
    }
  }
}

// Empties the backing dir (but the state folder) and the store, without
// following symlinks.
void Reset(const Sandbox& s) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(s.root)) {
    if (e.path().filename() != ".replfs") fs::remove_all(e.path(), ec);
  }
  for (const char* sub : {"/tmp", "/conflicts"}) {
    for (const auto& e : fs::directory_iterator(s.state + sub)) fs::remove_all(e.path(), ec);
  }
  fs::remove_all(s.store, ec);
}

// Blocks the input defines; entries refer to them by index.
struct BlockPool {
  std::vector<std::string> data;
  std::vector<std::string> hashes;
};

// Serves the pool's blocks, or (as the input says) wrong or missing ones.
class FuzzFetcher final : public replfs::BlockFetcher {
 public:
  FuzzFetcher(const BlockPool& pool, FuzzedDataProvider& input) : pool_(pool), input_(input) {}
  absl::StatusOr<std::vector<std::string>> Fetch(const std::vector<std::string>& hashes) override {
    // The applier fetches from several threads; the input is read by one at a time.
    absl::MutexLock lock(&mu_);
    std::vector<std::string> out;
    for (const std::string& hash : hashes) {
      std::string block;
      for (size_t i = 0; i < pool_.hashes.size(); ++i) {
        if (pool_.hashes[i] == hash) block = pool_.data[i];
      }
      switch (input_.ConsumeIntegralInRange<int>(0, 6)) {
        case 0: block = input_.ConsumeRandomLengthString(64); break;
        case 1: if (!block.empty()) block[0] = static_cast<char>(block[0] ^ 1); break;
        case 2: return absl::UnavailableError("fetch failed");
        case 3: return absl::NotFoundError("peer no longer holds the block");
        default: break;
      }
      out.push_back(std::move(block));
    }
    if (input_.ConsumeIntegralInRange<int>(0, 9) == 0) out.emplace_back("extra");
    return out;
  }

 private:
  absl::Mutex mu_;
  const BlockPool& pool_;
  FuzzedDataProvider& input_;  // Read under mu_.
};

std::string MakePath(FuzzedDataProvider& input) {
  const int parts = input.ConsumeIntegralInRange<int>(1, 4);
  std::string path;
  for (int i = 0; i < parts; ++i) {
    if (i > 0) path += '/';
    if (input.ConsumeIntegralInRange<int>(0, 9) == 0) {
      path += input.ConsumeRandomLengthString(12);
    } else {
      path += Names()[input.ConsumeIntegralInRange<size_t>(0, Names().size() - 1)];
    }
  }
  return path;
}

std::string MakeSymlinkTarget(FuzzedDataProvider& input, const Sandbox& s) {
  switch (input.ConsumeIntegralInRange<int>(0, 6)) {
    case 0: return "/";
    case 1: return "..";
    case 2: return "../outside";
    case 3: return s.outside;
    case 4: return ".replfs";
    case 5: return s.base;
    default: return input.ConsumeRandomLengthString(32);
  }
}

uint64_t MakeHlc(FuzzedDataProvider& input) {
  const uint64_t now_ms = replfs::HybridLogicalClock::SystemWallClockMs();
  if (input.ConsumeIntegralInRange<int>(0, 19) == 0) return input.ConsumeIntegral<uint64_t>();
  const uint64_t ms = now_ms - 100000 + input.ConsumeIntegralInRange<uint64_t>(0, 200000);
  return replfs::HybridLogicalClock::Pack(ms, input.ConsumeIntegralInRange<uint64_t>(0, 3));
}

replfs::Entry MakeEntry(FuzzedDataProvider& input, const BlockPool& pool, const Sandbox& s) {
  replfs::Entry e;
  e.set_path(MakePath(input));
  replfs::Content* c = e.mutable_content();
  const int kind = input.ConsumeIntegralInRange<int>(0, 6);
  c->set_kind(kind == 6 ? static_cast<replfs::Kind>(input.ConsumeIntegral<uint8_t>())
                        : static_cast<replfs::Kind>(kind == 0 ? replfs::KIND_FILE : kind));
  c->mutable_version()->set_hlc(MakeHlc(input));
  c->mutable_version()->set_node(input.ConsumeIntegralInRange<uint64_t>(0, 3));
  const int vector_items = input.ConsumeIntegralInRange<int>(0, 2);
  for (int i = 0; i < vector_items; ++i) {
    replfs::VersionVectorItem* item = c->add_vector();
    item->set_node(static_cast<uint64_t>(i) + 1);
    item->set_counter(input.ConsumeIntegralInRange<uint64_t>(1, 4));
  }
  c->set_mtime_ns(input.ConsumeIntegralInRange<int64_t>(-(int64_t{1} << 62), int64_t{1} << 62));
  if (c->kind() == replfs::KIND_FILE) {
    if (input.ConsumeBool() || pool.data.empty()) {
      c->set_is_inline(true);
      c->set_inline_data(input.ConsumeRandomLengthString(64));
      c->set_size(input.ConsumeIntegralInRange<int>(0, 7) == 0 ? input.ConsumeIntegral<uint16_t>()
                                                               : c->inline_data().size());
    } else {
      // One block (any size up to the pool's), or a 1 MiB block and a tail.
      c->set_block_size(replfs::kBlockSize);
      const size_t first = input.ConsumeIntegralInRange<size_t>(0, pool.data.size() - 1);
      c->add_block_hashes(pool.hashes[first]);
      c->set_size(pool.data[first].size());
      if (pool.data[first].size() == replfs::kBlockSize && input.ConsumeBool()) {
        const size_t second = input.ConsumeIntegralInRange<size_t>(0, pool.data.size() - 1);
        c->add_block_hashes(pool.hashes[second]);
        c->set_size(c->size() + pool.data[second].size());
      }
    }
  } else if (c->kind() == replfs::KIND_SYMLINK) {
    c->set_symlink_target(MakeSymlinkTarget(input, s));
    c->set_size(c->symlink_target().size());
  }
  replfs::Attributes* a = e.mutable_attributes();
  a->mutable_version()->set_hlc(input.ConsumeBool() ? c->version().hlc() : MakeHlc(input));
  a->mutable_version()->set_node(input.ConsumeIntegralInRange<uint64_t>(0, 3));
  a->set_mode(input.ConsumeBool() ? 0644u : input.ConsumeIntegral<uint32_t>() & 017777u);
  a->set_uid(input.ConsumeBool() ? ::getuid() : input.ConsumeIntegralInRange<uint32_t>(0, 2000));
  a->set_gid(::getgid());
  if (input.ConsumeIntegralInRange<int>(0, 7) == 0) {
    static const std::vector<std::string> kXattrNames = {
        "user.fuzz", "security.capability", "trusted.fuzz", "system.posix_acl_access", "fuzz"};
    replfs::Xattr* x = a->add_xattrs();
    x->set_name(input.ConsumeBool()
                    ? kXattrNames[input.ConsumeIntegralInRange<size_t>(0, kXattrNames.size() - 1)]
                    : input.ConsumeRandomLengthString(16));
    x->set_value(input.ConsumeRandomLengthString(16));
  }
  return e;
}


// The store and applier inputs apply through: a fresh one per input, or
// (REPLFS_FUZZ_LIVE_STORE) one for the whole run.
struct Applying {
  std::unique_ptr<replfs::MetadataStore> store;
  int root_fd = -1;
  replfs::HybridLogicalClock clock;
  replfs::NoFilesystemHooks hooks;
  std::unique_ptr<replfs::RemoteApplier> applier;

  void Open(const Sandbox& s) {
    // A small space reserve keeps each store cheap.
    replfs::MetadataStore::OpenOptions store_options;
    store_options.max_reserve_bytes = 2 << 20;
    absl::StatusOr<std::unique_ptr<replfs::MetadataStore>> opened =
        replfs::MetadataStore::Open(s.store, store_options);
    if (!opened.ok()) std::abort();
    store = *std::move(opened);
    root_fd = ::open(s.root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (root_fd < 0) std::abort();
    replfs::ApplierOptions options;
    options.hidden_name = ".replfs";
    options.temp_dir = s.state + "/tmp";
    options.conflicts_dir = s.state + "/conflicts";
    applier = std::make_unique<replfs::RemoteApplier>(root_fd, store.get(), &clock, &hooks,
                                                      options);
  }
  void Close() {
    applier.reset();
    store.reset();
    if (root_fd >= 0) ::close(root_fd);
    root_fd = -1;
  }
};

Applying& Applier(const Sandbox& s) {
  static Applying* applying = new Applying;
  if (applying->applier == nullptr) {
    Reset(s);
    applying->Open(s);
  }
  return *applying;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const Sandbox& s = GetSandbox();
  FuzzedDataProvider input(data, size);

  BlockPool pool;
  const int blocks = input.ConsumeIntegralInRange<int>(0, 3);
  for (int i = 0; i < blocks; ++i) {
    std::string block;
    if (input.ConsumeIntegralInRange<int>(0, 7) == 0) {
      // A full block: a pattern, cheap to describe.
      block.assign(replfs::kBlockSize, static_cast<char>(input.ConsumeIntegral<uint8_t>()));
    } else {
      block = input.ConsumeRandomLengthString(256);
      if (block.empty()) block = "b";
    }
    pool.hashes.push_back(replfs::Sha256(block));
    pool.data.push_back(std::move(block));
  }

  Applying& applying = Applier(s);
  FuzzFetcher fetcher(pool, input);
  const int batches = input.ConsumeIntegralInRange<int>(1, 4);
  for (int b = 0; b < batches && input.remaining_bytes() > 0; ++b) {
    std::vector<replfs::Entry> batch;
    const int entries = input.ConsumeIntegralInRange<int>(1, 5);
    batch.reserve(static_cast<size_t>(entries));
    for (int i = 0; i < entries; ++i) batch.push_back(MakeEntry(input, pool, s));
    replfs::ApplyStats stats;
    (void)applying.applier->ApplyBatch(batch, &fetcher, &stats);
    if (input.ConsumeIntegralInRange<int>(0, 3) == 0) {
      (void)applying.applier->RetrySetAside(&fetcher, 0, /*all=*/true, 16, &stats);
    }
    CheckNothingEscaped(s);
  }
  CheckNoForeignXattrs(s);
#ifndef REPLFS_FUZZ_LIVE_STORE
  applying.Close();
#endif
  CheckNothingEscaped(s);
  return 0;
}
