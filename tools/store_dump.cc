#include "tools/store_dump.h"

#include <sys/stat.h>

#include <filesystem>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "google/protobuf/util/json_util.h"
#include "proto/version_text.h"

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
    if (::lstat(it->path().c_str(), &st) != 0) continue;
    // The kinds the replica keeps out of its store (IsLocalOnly in
    // storage/object_observer.h).
    if (!S_ISSOCK(st.st_mode) && !S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode)) continue;
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

void PrintEntry(const Entry& e, bool json, std::ostream& out) {
  if (json) {
    google::protobuf::util::JsonPrintOptions json_options;
    json_options.preserve_proto_field_names = true;
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
}

}  // namespace

absl::Status DumpStore(const StatusClient& replica, bool json, std::ostream& out) {
  absl::StatusOr<ReplicaStatus> status = replica.Status();
  if (!status.ok()) return status.status();
  if (!json) {
    out << absl::StrFormat("replica node %016x, change log at seq %d\n", status->node(),
                           status->head_seq());
    out << "\nentries (E/, by path):\n";
  }
  absl::Status s = replica.ForEachEntry([&](const Entry& e) { PrintEntry(e, json, out); });
  if (s.ok() && !json) {
    out << "\nchange log (S/, by seq; each path once, at its latest change):\n";
    s = replica.ForEachChange([&](const ChangeLogRecord& record) {
      out << absl::StrFormat("%8d  %s\n", record.seq(), record.path());
    });
  }
  if (s.ok() && !status->backing().empty()) PrintLocalObjects(status->backing(), json, out);
  return s;
}

}  // namespace replfs
