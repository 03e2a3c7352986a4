#ifndef REPLFS_TESTS_BACKING_TREE_H_
#define REPLFS_TESTS_BACKING_TREE_H_

// What a backing directory holds, read independently of replfs's own
// observer and hasher, and the checks that a store's entry describes it.
// Shared by the store-consistency and crash tests.

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "entry.pb.h"
#include "tests/support/replica_process.h"  // ReadWholeFile
#include "gtest/gtest.h"
#include "storage/metadata_store.h"

namespace replfs::testing {

inline constexpr uint64_t kReferenceBlockSize = 1u << 20;     // 1 MiB blocks.

inline std::string ReferenceSha256(const std::string& data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr);
  return std::string(reinterpret_cast<const char*>(digest), length);
}


struct BackingObject {
  Kind kind = KIND_UNSPECIFIED;
  struct stat st {};
  std::string bytes;           // Files.
  std::string symlink_target;  // Symlinks.
  std::map<std::string, std::string> user_xattrs;
};

inline std::map<std::string, std::string> UserXattrs(const std::string& path) {
  std::map<std::string, std::string> out;
  std::vector<char> names(65536);
  const ssize_t n = ::llistxattr(path.c_str(), names.data(), names.size());
  if (n <= 0) return out;
  for (ssize_t at = 0; at < n;) {
    const std::string name(names.data() + at);
    at += static_cast<ssize_t>(name.size()) + 1;
    if (name.rfind("user.", 0) != 0) continue;
    std::string value(65536, '\0');
    const ssize_t v = ::lgetxattr(path.c_str(), name.c_str(), value.data(), value.size());
    if (v < 0) continue;
    value.resize(static_cast<size_t>(v));
    out[name] = value;
  }
  return out;
}

// Every object below `backing` by relative path, skipping the state folder
// `hidden` at the root. Sockets and devices are left out (they do not
// replicate).
inline std::map<std::string, BackingObject> ReadBackingTree(const std::string& backing,
                                                            const std::string& hidden = ".replfs") {
  namespace fs = std::filesystem;
  std::map<std::string, BackingObject> tree;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(backing, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    // lexically: fs::relative() would resolve symlinks.
    const std::string rel = it->path().lexically_relative(backing).string();
    if (rel == hidden) {
      it.disable_recursion_pending();
      continue;
    }
    BackingObject object;
    const std::string full = it->path().string();
    if (::lstat(full.c_str(), &object.st) != 0) continue;
    if (S_ISREG(object.st.st_mode)) {
      object.kind = KIND_FILE;
      object.bytes = ReadWholeFile(full);
    } else if (S_ISDIR(object.st.st_mode)) {
      object.kind = KIND_DIR;
    } else if (S_ISLNK(object.st.st_mode)) {
      object.kind = KIND_SYMLINK;
      object.symlink_target = fs::read_symlink(full).string();
    } else if (S_ISFIFO(object.st.st_mode)) {
      object.kind = KIND_FIFO;
    } else {
      continue;
    }
    if (object.kind != KIND_SYMLINK) object.user_xattrs = UserXattrs(full);
    tree[rel] = std::move(object);
  }
  EXPECT_FALSE(ec) << "walking " << backing << ": " << ec.message();
  return tree;
}

// All E/ entries by path.
// Stops `replica` cleanly and opens its store (nullptr, with a test
// failure recorded, if either fails).
inline std::unique_ptr<MetadataStore> StopAndOpenStore(ReplicaProcess& replica) {
  const absl::Status s = replica.Stop();
  EXPECT_TRUE(s.ok()) << s;
  absl::StatusOr<std::unique_ptr<MetadataStore>> store =
      MetadataStore::Open(replica.StateDir() + "/store");
  EXPECT_TRUE(store.ok()) << store.status();
  return store.ok() ? std::move(*store) : nullptr;
}

inline std::map<std::string, Entry> ReadAllEntries(const MetadataStore& store) {
  std::map<std::string, Entry> entries;
  const absl::Status s = store.ScanEntries("", [&](const Entry& e) {
    entries[e.path()] = e;
    return true;
  });
  EXPECT_TRUE(s.ok()) << s;
  return entries;
}

// Checks that the content register of `entry` holds exactly `bytes`.
inline void ExpectContentIs(const Entry& entry, const std::string& bytes) {
  const Content& c = entry.content();
  EXPECT_EQ(c.size(), bytes.size()) << entry.path();
  // The store holds a small file as one block of its own size (it travels
  // inline); only an empty file is inline in the store.
  if (bytes.empty()) {
    EXPECT_TRUE(c.is_inline()) << entry.path();
    EXPECT_TRUE(c.inline_data().empty()) << entry.path();
    EXPECT_EQ(c.block_hashes_size(), 0) << entry.path();
    return;
  }
  EXPECT_FALSE(c.is_inline()) << entry.path();
  EXPECT_EQ(c.block_size(), kReferenceBlockSize) << entry.path();
  const uint64_t blocks = (bytes.size() + kReferenceBlockSize - 1) / kReferenceBlockSize;
  ASSERT_EQ(static_cast<uint64_t>(c.block_hashes_size()), blocks) << entry.path();
  for (uint64_t i = 0; i < blocks; ++i) {
    EXPECT_EQ(absl::BytesToHexString(c.block_hashes(static_cast<int>(i))),
              absl::BytesToHexString(
                  ReferenceSha256(bytes.substr(i * kReferenceBlockSize, kReferenceBlockSize))))
        << entry.path() << " block " << i << " (recorded hash vs hash of the bytes on disk)";
  }
}

// Checks that a live entry describes `object` (as read from the backing dir).
inline void ExpectEntryDescribes(const Entry& entry, const BackingObject& object) {
  SCOPED_TRACE(entry.path());
  ASSERT_EQ(entry.content().kind(), object.kind);
  EXPECT_EQ(entry.attributes().mode(), object.st.st_mode & 07777);
  EXPECT_EQ(entry.attributes().uid(), object.st.st_uid);
  EXPECT_EQ(entry.attributes().gid(), object.st.st_gid);
  std::map<std::string, std::string> recorded;
  for (const Xattr& x : entry.attributes().xattrs()) {
    if (x.name().rfind("user.", 0) == 0) recorded[x.name()] = x.value();
  }
  EXPECT_EQ(recorded, object.user_xattrs);
  if (object.kind == KIND_FILE) {
    ExpectContentIs(entry, object.bytes);
  } else if (object.kind == KIND_SYMLINK) {
    EXPECT_EQ(entry.content().symlink_target(), object.symlink_target);
    EXPECT_EQ(entry.content().size(), object.symlink_target.size());
  }
  // The local stat is what the start-up scan compares; it must be current.
  EXPECT_EQ(entry.local_stat().ino(), object.st.st_ino);
  if (object.kind != KIND_DIR) {
    EXPECT_EQ(entry.local_stat().size(), static_cast<uint64_t>(object.st.st_size));
    const int64_t mtime_ns = static_cast<int64_t>(object.st.st_mtim.tv_sec) * 1000000000 +
                             object.st.st_mtim.tv_nsec;
    EXPECT_EQ(entry.local_stat().mtime_ns(), mtime_ns);
    EXPECT_EQ(entry.content().mtime_ns(), mtime_ns);
  }
}

// The live entries of `entries` describe exactly `tree`.
inline void ExpectStoreDescribesTree(const std::map<std::string, Entry>& entries,
                                     const std::map<std::string, BackingObject>& tree) {
  for (const auto& [path, entry] : entries) {
    if (entry.content().kind() == KIND_TOMBSTONE) {
      EXPECT_FALSE(tree.contains(path)) << path << " exists but its entry is a tombstone";
      continue;
    }
    EXPECT_TRUE(tree.contains(path)) << path << " has a live entry but is not in the backing dir";
  }
  for (const auto& [path, object] : tree) {
    auto it = entries.find(path);
    if (it == entries.end() || it->second.content().kind() == KIND_TOMBSTONE) {
      ADD_FAILURE() << path << " is in the backing dir but has no live entry";
      continue;
    }
    ExpectEntryDescribes(it->second, object);
  }
}

}  // namespace replfs::testing

#endif  // REPLFS_TESTS_BACKING_TREE_H_
