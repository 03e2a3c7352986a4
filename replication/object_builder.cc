#include "replication/object_builder.h"

#include <sys/stat.h>
#include <sys/statvfs.h>

#include <algorithm>
#include <cerrno>
#include <future>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "replication/apply_failure.h"
#include "replication/local_blocks.h"
#include "replication/object_attributes.h"
#include "storage/conflict_records.h"
#include "storage/content_hasher.h"
#include "storage/errno_status.h"

namespace replfs {
namespace {

// Blocks per FetchBlocks request (the server allows 16): with the next
// request in flight, at most 2 x 8 MiB of one file's blocks are held.
constexpr size_t kFetchGroup = 8;

absl::Status WriteAll(int fd, const std::string& data, uint64_t offset) {
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::pwrite(fd, data.data() + done, data.size() - done,
                               static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, "write");
    }
    done += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

// Reads block `index` of the file at `path` (absolute) if it has `hash`.
std::optional<std::string> ReadBlockOf(const std::string& path, uint64_t index,
                                       const std::string& hash) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  struct stat st;
  if (!fd.valid() || ::fstat(fd.get(), &st) != 0) return std::nullopt;
  return ReadVerifiedBlock(fd.get(), static_cast<uint64_t>(st.st_size), index, hash);
}

// Writes the content of the file `entry` into `out` (sized already).
absl::Status FillFile(const Entry& entry, int out, int root_fd, const MetadataStore& store,
                      const ApplierOptions& options, BlockFetcher* fetcher, ApplyStats* stats) {
  const Content& c = entry.content();
  if (c.is_inline()) return WriteAll(out, c.inline_data(), 0);
  std::string conflict_copy;
  absl::StatusOr<std::optional<ConflictRecord>> record =
      ConflictRecords(store).Get(entry.path(), c.version());
  if (!record.ok()) return record.status();
  if (record->has_value()) {
    conflict_copy = absl::StrCat(options.conflicts_dir, "/../", (*record)->copy_path());
  }
  // Blocks held locally (the old version, a renamed or copied file, a
  // conflict copy) cost nothing; the rest come from the peer in small groups.
  // Only their indices are kept: the hashes are in the entry already.
  std::vector<uint64_t> missing;
  for (int i = 0; i < c.block_hashes_size(); ++i) {
    const std::string& hash = c.block_hashes(i);
    const uint64_t index = static_cast<uint64_t>(i);
    absl::StatusOr<std::optional<std::string>> data = ReadLocalBlock(store, root_fd, hash);
    if (!data.ok()) return data.status();
    if (!data->has_value() && !conflict_copy.empty()) *data = ReadBlockOf(conflict_copy, index, hash);
    if (!data->has_value()) {
      missing.push_back(index);
      continue;
    }
    ++stats->blocks_reused;
    if (absl::Status s = WriteAll(out, **data, index * kBlockSize); !s.ok()) return s;
  }
  // Fetched in requests of kFetchGroup blocks, the next request in flight
  // while this one's blocks are verified and written: the peer reads and
  // the network carries while this side hashes and writes (a 1 GiB file:
  // 190 MiB/s before, 235-340 after; see tools/bench-replication). At most
  // two groups of blocks are held at once: that bounds the bytes in flight
  // from one peer for one file.
  // Fetches never overlap each other, only this thread's work.
  if (!missing.empty() && fetcher == nullptr) {
    return absl::UnavailableError("no peer to fetch blocks from");
  }
  auto fetch_group = [&](size_t at) {
    std::vector<std::string> hashes;
    for (size_t j = at; j < std::min(missing.size(), at + kFetchGroup); ++j) {
      hashes.push_back(c.block_hashes(static_cast<int>(missing[j])));
    }
    return std::async(std::launch::async, [fetcher, hashes = std::move(hashes)] {
      return fetcher->Fetch(hashes);
    });
  };
  std::future<absl::StatusOr<std::vector<std::string>>> next;
  if (!missing.empty()) next = fetch_group(0);
  for (size_t at = 0; at < missing.size(); at += kFetchGroup) {
    absl::StatusOr<std::vector<std::string>> blocks = next.get();
    // A peer that no longer holds a block cannot serve this entry (its
    // file changed since): set it aside and retry, from any peer, later.
    if (absl::IsNotFound(blocks.status())) return EntryFault(blocks.status());
    if (absl::IsDataLoss(blocks.status())) return PeerFault(blocks.status());
    if (!blocks.ok()) return blocks.status();
    const size_t count = std::min(kFetchGroup, missing.size() - at);
    if (blocks->size() != count) {
      return PeerFault(absl::DataLossError("peer returned the wrong number of blocks"));
    }
    if (at + kFetchGroup < missing.size()) next = fetch_group(at + kFetchGroup);
    for (size_t j = 0; j < count; ++j) {
      const uint64_t index = missing[at + j];
      const uint64_t expected = std::min<uint64_t>(kBlockSize, c.size() - index * kBlockSize);
      const std::string& data = (*blocks)[j];
      if (data.size() != expected ||
          Sha256(data) != c.block_hashes(static_cast<int>(index))) {
        return PeerFault(absl::DataLossError("block content does not match its hash"));
      }
      ++stats->blocks_fetched;
      stats->block_bytes_fetched += data.size();
      if (absl::Status s = WriteAll(out, data, index * kBlockSize); !s.ok()) return s;
    }
  }
  return absl::OkStatus();
}

// Builds the live non-directory `entry` in the temp folder as `temp_name`.
absl::Status BuildObject(const Entry& entry, int root_fd, const MetadataStore& store,
                         const ApplierOptions& options, int temp_dir_fd,
                         const std::string& temp_name, BlockFetcher* fetcher, ApplyStats* stats,
                         bool durable) {
  const Content& c = entry.content();
  if (c.kind() == KIND_SYMLINK) {
    if (::symlinkat(c.symlink_target().c_str(), temp_dir_fd, temp_name.c_str()) != 0) {
      return ErrnoStatus(errno, "create temp symlink");
    }
    return absl::OkStatus();
  }
  if (c.kind() == KIND_FIFO) {
    if (::mkfifoat(temp_dir_fd, temp_name.c_str(), 0600) != 0) {
      return ErrnoStatus(errno, "create temp fifo");
    }
    return absl::OkStatus();
  }
  if (!c.is_inline()) {
    // A file that cannot fit is not fetched at all (a 1 TiB file used to be
    // fetched onto 75 GiB): set aside, reported, and tried again later,
    // when space may have been freed. The store's reserve stays free.
    struct statvfs vfs;
    if (::fstatvfs(temp_dir_fd, &vfs) == 0) {
      const uint64_t free_bytes = static_cast<uint64_t>(vfs.f_bavail) * vfs.f_frsize;
      const uint64_t kept = store.ReservedSpaceBytes();
      if (c.size() > free_bytes || free_bytes - c.size() < kept) {
        return EntryFault(absl::ResourceExhaustedError(absl::StrFormat(
            "a file of %d bytes does not fit: %d bytes free, %d of them kept for the metadata "
            "store",
            c.size(), free_bytes, std::min(kept, free_bytes))));
      }
    }
  }
  UniqueFd out(::openat(temp_dir_fd, temp_name.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!out.valid()) return ErrnoStatus(errno, "create temp file");
  if (!c.is_inline() && ::ftruncate(out.get(), static_cast<off_t>(c.size())) != 0) {
    return ErrnoStatus(errno, "size temp file");
  }
  if (absl::Status s = FillFile(entry, out.get(), root_fd, store, options, fetcher, stats); !s.ok()) {
    return s;
  }
  if (durable && ::fsync(out.get()) != 0) return ErrnoStatus(errno, "fsync temp file");
  return absl::OkStatus();
}

}  // namespace

absl::Status PrepareObject(const Entry& entry, const Attributes& attributes, int root_fd,
                           const MetadataStore& store, const ApplierOptions& options,
                           std::atomic<uint64_t>* temp_counter, BlockFetcher* fetcher, ApplyStats* stats,
                           bool durable, PreparedObject* prepared) {
  prepared->temp_dir.Reset(::open(options.temp_dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!prepared->temp_dir.valid()) return ErrnoStatus(errno, "open temp folder");
  prepared->temp_name = absl::StrFormat("apply-%d-%d", ::getpid(), temp_counter->fetch_add(1) + 1);
  // A leftover of a crashed apply by an earlier process with the same pid
  // would make the exclusive create fail forever: the temp folder is ours
  // alone (the state folder is locked), so clear it.
  ::unlinkat(prepared->temp_dir_fd(), prepared->temp_name.c_str(), 0);
  if (absl::Status s = BuildObject(entry, root_fd, store, options, prepared->temp_dir_fd(),
                                   prepared->temp_name, fetcher, stats, durable);
      !s.ok()) {
    return s;
  }
  // Only file data needs syncing: symlinks and fifos have none.
  prepared->durable = durable || entry.content().kind() != KIND_FILE;
  UniqueFd object(::openat(prepared->temp_dir_fd(), prepared->temp_name.c_str(),
                           O_PATH | O_NOFOLLOW | O_CLOEXEC));
  if (!object.valid()) return ErrnoStatus(errno, "open temp object");
  struct stat st;
  if (::fstat(object.get(), &st) != 0) return ErrnoStatus(errno, "stat temp object");
  prepared->placed_ino = st.st_ino;
  return SetObjectAttributes(object.get(), entry.content().kind(), attributes,
                             entry.content().mtime_ns(), options.allow_setuid, &prepared->dropped);
}

absl::Status MakeDurable(const std::vector<PreparedObject*>& prepared) {
  std::vector<PreparedObject*> pending;
  for (PreparedObject* object : prepared) {
    if (!object->durable && !object->temp_name.empty()) pending.push_back(object);
  }
  if (pending.empty()) return absl::OkStatus();
  if (pending.size() == 1) {
    PreparedObject* object = pending.front();
    UniqueFd fd(::openat(object->temp_dir_fd(), object->temp_name.c_str(),
                         O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd.valid()) return ErrnoStatus(errno, "open temp file to sync");
    if (::fsync(fd.get()) != 0) return ErrnoStatus(errno, "fsync temp file");
  } else {
    // syncfs refuses O_PATH fds.
    UniqueFd dir(::openat(pending.front()->temp_dir_fd(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dir.valid()) return ErrnoStatus(errno, "open temp folder to sync");
    if (::syncfs(dir.get()) != 0) return ErrnoStatus(errno, "syncfs temp folder");
  }
  for (PreparedObject* object : pending) object->durable = true;
  return absl::OkStatus();
}

}  // namespace replfs
