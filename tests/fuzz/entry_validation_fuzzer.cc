// libFuzzer target: whatever bytes a peer sends, ValidateRemoteEntry and
// ValidateRemotePath never crash, and whatever they accept passes checks
// written here independently of them (DESIGN.md, Replication: relative,
// normalized, no "..", no NUL, length limits, not inside the state folder).
// Input: a serialized ChangeBatch (or Entry); its first byte also selects
// a raw-path round.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "replfs.pb.h"
#include "replication/entry_validation.h"
#include "storage/content_hasher.h"

namespace {

constexpr absl::string_view kHidden = ".replfs";

[[noreturn]] void Violation(const char* what, const std::string& path) {
  std::fprintf(stderr, "accepted an entry that breaks the rule: %s (path of %zu bytes)\n", what,
               path.size());
  std::abort();
}

// The path rules, checked without the validator's code.
void CheckAcceptedPath(const std::string& path) {
  if (path.empty()) Violation("empty path", path);
  if (path.size() > 4095) Violation("path longer than PATH_MAX - 1", path);
  if (path.find('\0') != std::string::npos) Violation("NUL in path", path);
  if (path.front() == '/') Violation("absolute path", path);
  if (path.back() == '/') Violation("trailing slash", path);
  if (path.find("//") != std::string::npos) Violation("doubled slash", path);
  for (absl::string_view part : absl::StrSplit(path, '/')) {
    if (part == "..") Violation("'..' component", path);
    if (part == ".") Violation("'.' component", path);
    if (part.size() > 255) Violation("component longer than NAME_MAX", path);
  }
  if (path == kHidden || absl::string_view(path).substr(0, kHidden.size() + 1) == ".replfs/") {
    Violation("inside the state folder", path);
  }
}

void CheckAcceptedEntry(const replfs::Entry& e) {
  CheckAcceptedPath(e.path());
  const replfs::Content& c = e.content();
  if (c.version().hlc() == 0 || c.version().node() == 0) Violation("no content version", e.path());
  switch (c.kind()) {
    case replfs::KIND_FILE:
      if (c.is_inline()) {
        if (c.inline_data().size() != c.size() || c.size() > replfs::kInlineLimit) {
          Violation("inline data and size disagree", e.path());
        }
      } else {
        if (c.size() > (uint64_t{1} << 37)) Violation("file above 128 GiB", e.path());
        const uint64_t blocks = c.size() / replfs::kBlockSize + (c.size() % replfs::kBlockSize != 0);
        if (static_cast<uint64_t>(c.block_hashes_size()) != blocks) {
          Violation("block count and size disagree", e.path());
        }
        for (const std::string& h : c.block_hashes()) {
          if (h.size() != 32) Violation("hash is not 32 bytes", e.path());
        }
      }
      break;
    case replfs::KIND_SYMLINK:
      if (c.symlink_target().empty() || c.symlink_target().find('\0') != std::string::npos) {
        Violation("bad symlink target", e.path());
      }
      break;
    case replfs::KIND_DIR:
    case replfs::KIND_FIFO:
    case replfs::KIND_TOMBSTONE:
      break;
    default:
      Violation("unknown kind", e.path());
  }
  if (c.kind() != replfs::KIND_TOMBSTONE) {
    if ((e.attributes().mode() & ~07777u) != 0) Violation("file type bits in mode", e.path());
    // Any namespace is accepted (the applier leaves out those it does not
    // replicate), but a name is namespaced, bounded and NUL-free.
    for (const replfs::Xattr& x : e.attributes().xattrs()) {
      const absl::string_view name = x.name();
      if (name.find('.') == absl::string_view::npos || name.size() > 255 ||
          name.find('\0') != absl::string_view::npos) {
        Violation("xattr name without a namespace", e.path());
      }
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  // The bytes themselves as a path.
  if (replfs::ValidateRemotePath(bytes, kHidden).ok()) CheckAcceptedPath(bytes);
  replfs::ChangeBatch batch;
  if (!batch.ParseFromString(bytes)) {
    replfs::Entry entry;
    if (!entry.ParseFromString(bytes)) return 0;
    *batch.add_entries() = entry;
  }
  for (const replfs::Entry& e : batch.entries()) {
    if (replfs::ValidateRemoteEntry(e, kHidden).ok()) CheckAcceptedEntry(e);
  }
  return 0;
}
