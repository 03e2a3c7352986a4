#include "replication/object_builder.h"

#include <sys/stat.h>
#include <sys/statvfs.h>

#include <algorithm>
#include <cerrno>
#include <deque>
#include <future>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "replication/apply_failure.h"
#include "replication/block_writer.h"
#include "replication/local_blocks.h"
#include "replication/object_attributes.h"
#include "storage/conflict_records.h"
#include "storage/content_hasher.h"
#include "storage/errno_status.h"

namespace replfs {
namespace {

// Blocks per FetchBlocks request (the server allows 16), and requests in
// flight at once: the peer serves one while it reads and hashes the next,
// and this side checks one while it writes another. At most 4 x 4 MiB of
// one file's blocks are held (the one being written and those in flight).
constexpr size_t kFetchGroup = 4;
constexpr size_t kGroupsInFlight = 3;

// Files from this size on are written with O_DIRECT (see BlockWriter).
constexpr uint64_t kDirectWriteBytes = 8 << 20;

// Reads block `index` of the file at `path` (absolute) if it has `hash`.
std::optional<std::string> ReadBlockOf(const std::string& path, uint64_t index,
                                       const std::string& hash) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  struct stat st;
  if (!fd.valid() || ::fstat(fd.get(), &st) != 0) return std::nullopt;
  return ReadVerifiedBlock(fd.get(), static_cast<uint64_t>(st.st_size), index, hash);
}

// Fetches the blocks of `c` with these indices in one request and checks
// each against its hash (on the fetching thread, so that hashing overlaps
// the writes of the blocks before).
absl::StatusOr<std::vector<std::string>> FetchVerified(BlockFetcher* fetcher, const Content& c,
                                                       const std::vector<uint64_t>& indices) {
  std::vector<std::string> hashes;
  hashes.reserve(indices.size());
  for (uint64_t index : indices) hashes.push_back(c.block_hashes(static_cast<int>(index)));
  absl::StatusOr<std::vector<std::string>> blocks = fetcher->Fetch(hashes);
  if (!blocks.ok()) return blocks;
  if (blocks->size() != hashes.size()) {
    return absl::DataLossError("peer returned the wrong number of blocks");
  }
  for (size_t j = 0; j < hashes.size(); ++j) {
    const uint64_t expected = std::min<uint64_t>(kBlockSize, c.size() - indices[j] * kBlockSize);
    if ((*blocks)[j].size() != expected || Sha256((*blocks)[j]) != hashes[j]) {
      return absl::DataLossError("block content does not match its hash");
    }
  }
  return blocks;
}

// Fetches the blocks of `c` with the indices `missing` and writes them.
// Requests of kFetchGroup blocks, kGroupsInFlight at once: the peer reads
// and the network carries while this side checks and writes. The requests
// in flight bound the bytes held for one file.
absl::Status FetchMissing(const Content& c, const std::vector<uint64_t>& missing,
                          BlockFetcher* fetcher, BlockWriter* writer, ApplyStats* stats) {
  if (missing.empty()) return absl::OkStatus();
  if (fetcher == nullptr) return absl::UnavailableError("no peer to fetch blocks from");
  std::deque<std::future<absl::StatusOr<std::vector<std::string>>>> in_flight;
  size_t requested = 0;
  auto request_more = [&] {
    while (in_flight.size() < kGroupsInFlight && requested < missing.size()) {
      const size_t end = std::min(missing.size(), requested + kFetchGroup);
      std::vector<uint64_t> indices(missing.begin() + static_cast<ptrdiff_t>(requested),
                                    missing.begin() + static_cast<ptrdiff_t>(end));
      in_flight.push_back(std::async(std::launch::async, [fetcher, &c, indices = std::move(indices)] {
        return FetchVerified(fetcher, c, indices);
      }));
      requested = end;
    }
  };
  request_more();
  for (size_t at = 0; at < missing.size(); at += kFetchGroup) {
    absl::StatusOr<std::vector<std::string>> blocks = in_flight.front().get();
    in_flight.pop_front();
    // A peer that no longer holds a block cannot serve this entry (its
    // file changed since): set it aside and retry, from any peer, later.
    if (absl::IsNotFound(blocks.status())) return EntryFault(blocks.status());
    if (absl::IsDataLoss(blocks.status())) return PeerFault(blocks.status());
    if (!blocks.ok()) return blocks.status();
    request_more();
    for (size_t j = 0; j < blocks->size(); ++j) {
      const std::string& data = (*blocks)[j];
      ++stats->blocks_fetched;
      stats->block_bytes_fetched += data.size();
      if (absl::Status s = writer->Write(data, missing[at + j] * kBlockSize); !s.ok()) return s;
    }
  }
  return absl::OkStatus();
}

// Writes the content of the file `entry` into `out` (sized already).
absl::Status FillFile(const Entry& entry, int out, int root_fd, const MetadataStore& store,
                      const ApplierOptions& options, BlockFetcher* fetcher, ApplyStats* stats) {
  const Content& c = entry.content();
  if (c.is_inline()) return WriteAllAt(out, c.inline_data(), 0);
  BlockWriter writer(out, c.size() >= kDirectWriteBytes);
  std::string conflict_copy;
  absl::StatusOr<std::optional<ConflictRecord>> record =
      ConflictRecords(store).Get(entry.path(), c.version());
  if (!record.ok()) return record.status();
  if (record->has_value()) {
    conflict_copy = absl::StrCat(options.conflicts_dir, "/../", (*record)->copy_path());
  }
  // Blocks held locally (the old version, a renamed or copied file, a
  // conflict copy) cost nothing; the rest come from the peer.
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
    if (absl::Status s = writer.Write(**data, index * kBlockSize); !s.ok()) return s;
  }
  return FetchMissing(c, missing, fetcher, &writer, stats);
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
