#include "replication/entry_validation.h"

#include <set>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "storage/content_hasher.h"

namespace replfs {

absl::Status ValidateRemotePath(absl::string_view path, absl::string_view hidden_name,
                                const EntryLimits& limits) {
  if (path.empty()) return absl::InvalidArgumentError("empty path");
  if (path.size() > limits.max_path_bytes) {
    return absl::InvalidArgumentError(absl::StrCat("path longer than ", limits.max_path_bytes));
  }
  if (path.find('\0') != absl::string_view::npos) {
    return absl::InvalidArgumentError("path contains NUL");
  }
  if (path.front() == '/') return absl::InvalidArgumentError("absolute path");
  const std::vector<absl::string_view> parts = absl::StrSplit(path, '/');
  for (absl::string_view part : parts) {
    if (part.empty()) return absl::InvalidArgumentError("empty path component");
    if (part == "." || part == "..") {
      return absl::InvalidArgumentError(absl::StrCat("path component '", part, "'"));
    }
    if (part.size() > limits.max_name_bytes) {
      return absl::InvalidArgumentError("path component longer than NAME_MAX");
    }
  }
  if (!hidden_name.empty() && parts.front() == hidden_name) {
    return absl::InvalidArgumentError("path inside the state folder");
  }
  return absl::OkStatus();
}

namespace {

absl::Status ValidateAttributes(const Attributes& a, const EntryLimits& limits) {
  if (a.version().node() == 0 || a.version().hlc() == 0) {
    return absl::InvalidArgumentError("entry without an attribute version");
  }
  if (a.mode() & ~07777u) return absl::InvalidArgumentError("bad mode bits");
  if (static_cast<size_t>(a.xattrs_size()) > limits.max_xattrs) {
    return absl::InvalidArgumentError("too many xattrs");
  }
  // A namespace replfs does not replicate (security.*, trusted.*) is no
  // reason to refuse the entry: the applier leaves that xattr out and
  // records it (a newer replica may replicate more than this one).
  for (const Xattr& x : a.xattrs()) {
    if (x.name().empty() || x.name().size() > 255 || x.name().find('\0') != std::string::npos ||
        x.name().find('.') == std::string::npos ||
        x.value().size() > limits.max_xattr_value_bytes) {
      return absl::InvalidArgumentError("bad xattr");
    }
  }
  return absl::OkStatus();
}

// A register kept for a kind of object: of a kind no other register of the
// entry describes (added to `kinds`).
absl::Status ValidateKeptAttributes(const Attributes& a, const EntryLimits& limits,
                                    std::set<int>* kinds) {
  const Kind kind = a.kind();
  if (kind != KIND_FILE && kind != KIND_DIR && kind != KIND_SYMLINK && kind != KIND_FIFO) {
    return absl::InvalidArgumentError(absl::StrCat("attributes kept for kind ", kind));
  }
  if (!kinds->insert(kind).second) {
    return absl::InvalidArgumentError(absl::StrCat("two attribute registers of kind ", a.kind()));
  }
  return ValidateAttributes(a, limits);
}

}  // namespace

absl::Status ValidateRemoteEntry(const Entry& entry, absl::string_view hidden_name,
                                 const EntryLimits& limits) {
  if (absl::Status s = ValidateRemotePath(entry.path(), hidden_name, limits); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("'", absl::CHexEscape(entry.path().substr(0, 200)),
                                                   "': ", s.message()));
  }
  const Content& c = entry.content();
  if (c.version().node() == 0 || c.version().hlc() == 0) {
    return absl::InvalidArgumentError("entry without a content version");
  }
  switch (c.kind()) {
    case KIND_FILE: {
      if (c.size() > limits.max_file_bytes) return absl::InvalidArgumentError("file too large");
      if (c.is_inline()) {
        if (c.inline_data().size() != c.size() || c.size() > kInlineLimit) {
          return absl::InvalidArgumentError("inline data does not match its size");
        }
        if (c.block_hashes_size() != 0) return absl::InvalidArgumentError("inline file with blocks");
      } else {
        if (c.block_size() != kBlockSize) return absl::InvalidArgumentError("unsupported block size");
        const uint64_t blocks = (c.size() + kBlockSize - 1) / kBlockSize;
        if (static_cast<uint64_t>(c.block_hashes_size()) != blocks) {
          return absl::InvalidArgumentError("block count does not match the size");
        }
        for (const std::string& hash : c.block_hashes()) {
          if (hash.size() != kSha256Size) return absl::InvalidArgumentError("bad hash length");
        }
        if (!c.inline_data().empty()) return absl::InvalidArgumentError("blocks with inline data");
      }
      break;
    }
    case KIND_SYMLINK:
      if (c.symlink_target().empty() || c.symlink_target().size() > limits.max_symlink_bytes ||
          c.symlink_target().find('\0') != std::string::npos) {
        return absl::InvalidArgumentError("bad symlink target");
      }
      break;
    case KIND_DIR:
    case KIND_FIFO:
    case KIND_TOMBSTONE:
      break;
    default:
      return absl::InvalidArgumentError(absl::StrCat("unknown kind ", c.kind()));
  }
  // Registers kept for other kinds (and a tombstone's, if it carries one)
  // are applied to what comes back at the path: checked as a live entry's,
  // one per kind.
  std::set<int> kinds;
  if (c.kind() != KIND_TOMBSTONE) {
    if (absl::Status s = ValidateAttributes(entry.attributes(), limits); !s.ok()) return s;
    kinds.insert(c.kind());
  } else if (entry.attributes().kind() != KIND_UNSPECIFIED) {
    if (absl::Status s = ValidateKeptAttributes(entry.attributes(), limits, &kinds); !s.ok()) {
      return s;
    }
  }
  for (const Attributes& kept : entry.other_kinds()) {
    if (absl::Status s = ValidateKeptAttributes(kept, limits, &kinds); !s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace replfs
