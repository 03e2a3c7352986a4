#include "tools/store_dump.h"

#include <sys/stat.h>

#include <filesystem>
#include <memory>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "google/protobuf/util/json_util.h"
#include "storage/hlc.h"
#include "storage/metadata_store.h"
#include "storage/object_observer.h"
#include "storage/state_dir.h"
#include "storage/version.h"

namespace replfs {
namespace {
namespace fs = std::filesystem;

const char* KindName(Kind kind) {
  switch (kind) {
    case KIND_FILE: return "file";
    case KIND_DIR: return "dir";
    case KIND_SYMLINK: return "symlink";
    case KIND_TOMBSTONE: return "tombstone";
    case KIND_FIFO: return "fifo";
    default: return "?";
  }
}

std::string ContentSummary(const Content& c) {
  switch (c.kind()) {
    case KIND_FILE:
      if (c.is_inline()) return absl::StrFormat("%d bytes inline", c.size());
      return absl::StrFormat("%d bytes, %d blocks, first %s", c.size(), c.block_hashes_size(),
                             c.block_hashes_size() > 0
                                 ? absl::BytesToHexString(c.block_hashes(0)).substr(0, 12)
                                 : "-");
    case KIND_SYMLINK: return absl::StrCat("-> ", c.symlink_target());
    default: return "";
  }
}

std::string VectorString(const Content& c) {
  std::string out;
  for (const auto& item : c.vector()) {
    absl::StrAppendFormat(&out, "%s%04x:%d", out.empty() ? "" : ",", item.node() & 0xffff,
                          item.counter());
  }
  return out;
}

// Where the store is: BACKING/.replfs/store, or STATE/store.
std::string StorePathFor(const std::string& location) {
  if (fs::exists(fs::path(location) / "store" / "CURRENT")) return location + "/store";
  return location + "/.replfs/store";
}

// Device and socket nodes in the backing tree: made through the mount (or
// beside it), kept on this replica only, never in the store.
void PrintLocalObjects(const std::string& backing, bool json, std::ostream& out) {
  if (!json) out << "\nlocal objects (devices and sockets: never recorded or replicated):\n";
  std::error_code ec;
  fs::recursive_directory_iterator it(backing, fs::directory_options::skip_permission_denied, ec);
  for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it.depth() == 0 && it->path().filename() == ".replfs") {
      it.disable_recursion_pending();
      continue;
    }
    struct stat st;
    if (::lstat(it->path().c_str(), &st) != 0 || !IsLocalOnly(st.st_mode)) continue;
    const char* kind = S_ISSOCK(st.st_mode) ? "socket" : S_ISCHR(st.st_mode) ? "chardev" : "blockdev";
    const std::string path = fs::relative(it->path(), backing, ec).string();
    if (json) {
      out << absl::StrFormat("{\"local_object\":\"%s\",\"kind\":\"%s\"}\n",
                             absl::CEscape(path), kind);
    } else {
      out << absl::StrFormat("          %-9s %s  (local)\n", kind, path);
    }
  }
}

}  // namespace

absl::Status DumpStore(const std::string& location, bool json, std::ostream& out) {
  const std::string store_path = StorePathFor(location);
  if (!fs::exists(fs::path(store_path) / "CURRENT")) {
    return absl::NotFoundError(absl::StrCat("no replfs store at ", store_path));
  }
  absl::StatusOr<std::unique_ptr<MetadataStore>> store = MetadataStore::Open(store_path);
  std::string snapshot;
  if (!store.ok()) {
    // A running replica holds LevelDB's lock: read a copy of its files.
    snapshot = (fs::temp_directory_path() / absl::StrFormat("replfs-dump-%d", ::getpid())).string();
    std::error_code ec;
    fs::remove_all(snapshot, ec);
    fs::copy(store_path, snapshot, fs::copy_options::recursive, ec);
    if (ec) return absl::InternalError(absl::StrCat("copy store: ", ec.message()));
    fs::remove(fs::path(snapshot) / "LOCK", ec);
    store = MetadataStore::Open(snapshot);
    if (!store.ok()) {
      fs::remove_all(snapshot, ec);
      return store.status();
    }
  }
  google::protobuf::util::JsonPrintOptions json_options;
  json_options.preserve_proto_field_names = true;
  auto print_entry = [&](const Entry& e) {
    if (json) {
      std::string line;
      (void)google::protobuf::util::MessageToJsonString(e, &line, json_options);
      out << line << "\n";
      return;
    }
    out << absl::StrFormat("%8d  %-9s %-40s %s  v=%s [%s] attrs=%s mode=%04o %d:%d\n", e.seq(),
                           KindName(e.content().kind()), e.path(), ContentSummary(e.content()),
                           VersionToString(e.content().version()), VectorString(e.content()),
                           VersionToString(e.attributes().version()), e.attributes().mode(),
                           e.attributes().uid(), e.attributes().gid());
  };
  if (!json) {
    out << absl::StrFormat("replica node %s, change log at seq %d\n",
                           [&] {
                             absl::StatusOr<uint64_t> id = ReadNodeId(fs::path(store_path).parent_path());
                             return id.ok() ? absl::StrFormat("%016x", *id) : std::string("?");
                           }(),
                           (*store)->LastSeq());
    out << "\nentries (E/, by path):\n";
  }
  absl::Status s = (*store)->ScanEntries("", [&](const Entry& e) {
    print_entry(e);
    return true;
  });
  if (s.ok() && !json) {
    out << "\nchange log (S/, by seq; each path once, at its latest change):\n";
    s = (*store)->ScanChanges(0, [&](const Entry& e) {
      out << absl::StrFormat("%8d  %s\n", e.seq(), e.path());
      return true;
    });
  }
  if (s.ok() && fs::exists(fs::path(location) / ".replfs" / "store")) {
    PrintLocalObjects(location, json, out);
  }
  store->reset();
  if (!snapshot.empty()) {
    std::error_code ec;
    fs::remove_all(snapshot, ec);
  }
  return s;
}

}  // namespace replfs
