#include "replication/admin_service.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "base/unique_fd.h"
#include "replication/replication_service.h"
#include "storage/conflict_records.h"
#include "storage/version_records.h"

namespace replfs {
namespace {

// The most items and about the most bytes one page holds, whatever the
// client asks: a store of any size is listed in bounded memory. Bytes
// matter beside items: an entry of a huge file carries a hash per block.
constexpr uint32_t kMaxPageItems = 1000;
constexpr size_t kMaxPageBytes = size_t{1} << 20;

// Counts what a page holds. A page takes at least one item, so that an
// item larger than the byte budget is still listed (alone).
class PageBudget {
 public:
  explicit PageBudget(uint32_t asked_items)
      : items_left_(asked_items == 0 ? kMaxPageItems : std::min(asked_items, kMaxPageItems)) {}

  // Whether one more item fits; when not, the listing stops and more()
  // says a next page follows.
  bool Admit() {
    if (items_left_ == 0 || bytes_left_ == 0) more_ = true;
    return !more_;
  }
  // Counts an admitted item of `bytes`.
  void Take(size_t bytes) {
    --items_left_;
    bytes_left_ -= std::min(bytes, bytes_left_);
  }
  bool more() const { return more_; }

 private:
  uint32_t items_left_;
  size_t bytes_left_ = kMaxPageBytes;
  bool more_ = false;
};

// absl and gRPC share their status codes (both follow google.rpc.Code).
grpc::Status ToGrpc(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

ConflictCopy ToConflictCopy(const ConflictRecord& record) {
  ConflictCopy copy;
  copy.set_path(record.path());
  copy.set_copy_path(record.copy_path());
  *copy.mutable_loser_version() = record.loser().version();
  *copy.mutable_winner_version() = record.winner_version();
  copy.set_origin(record.loser().version().node());
  copy.set_saved_unix_ms(record.saved_unix_ms());
  return copy;
}

absl::Status ListConflicts(const MetadataStore& store, const ConflictsRequest& request,
                           ConflictsReply* reply) {
  PageBudget budget(request.page_size());
  auto visit = [&](const ConflictRecord& record) {
    if (!budget.Admit()) return false;
    ConflictCopy* copy = reply->add_conflicts();
    *copy = ToConflictCopy(record);
    budget.Take(copy->ByteSizeLong());
    return true;
  };
  const ConflictRecords records(store);
  absl::Status listed = request.has_after()
                            ? records.ScanAfter(request.after().path(),
                                                request.after().loser_version(), visit)
                            : records.Scan(visit);
  if (!listed.ok()) return listed;
  if (budget.more()) {
    const ConflictCopy& last = *reply->conflicts().rbegin();
    reply->mutable_next_after()->set_path(last.path());
    *reply->mutable_next_after()->mutable_loser_version() = last.loser_version();
  }
  return absl::OkStatus();
}

absl::Status ListEntries(const MetadataStore& store, const EntriesRequest& request,
                         EntriesPage* page) {
  PageBudget budget(request.page_size());
  absl::Status listed = store.ScanEntries(
      request.prefix(),
      [&](const Entry& entry) {
        if (!budget.Admit()) return false;
        *page->add_entries() = entry;
        budget.Take(entry.ByteSizeLong());
        return true;
      },
      request.after_path());
  if (!listed.ok()) return listed;
  if (budget.more()) page->set_next_after_path(page->entries().rbegin()->path());
  return absl::OkStatus();
}

absl::Status ListChangeLog(const MetadataStore& store, const ChangeLogRequest& request,
                           ChangeLogPage* page) {
  PageBudget budget(request.page_size());
  absl::Status listed = store.ScanChanges(request.after_seq(), [&](const Entry& entry) {
    if (!budget.Admit()) return false;
    ChangeLogRecord* record = page->add_records();
    record->set_seq(entry.seq());
    record->set_path(entry.path());
    budget.Take(record->ByteSizeLong());
    return true;
  });
  if (!listed.ok()) return listed;
  if (budget.more()) page->set_next_after_seq(page->records().rbegin()->seq());
  return absl::OkStatus();
}

// The SHA-256 of a kept file in hex, or "" when it is too large to hash
// on request or cannot be read.
std::string KeptFileSha256(const std::string& path) {
  constexpr off_t kMaxHashedBytes = off_t{256} << 20;
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  struct stat st;
  if (!fd.valid() || ::fstat(fd.get(), &st) != 0 || st.st_size > kMaxHashedBytes) return "";
  std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (ctx == nullptr || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) return "";
  std::vector<char> buffer(1 << 16);
  for (;;) {
    const ssize_t n = ::read(fd.get(), buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return "";
    if (n == 0) break;
    EVP_DigestUpdate(ctx.get(), buffer.data(), static_cast<size_t>(n));
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_DigestFinal_ex(ctx.get(), digest, &length) != 1) return "";
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest), length));
}

absl::Status ListVersions(const MetadataStore& store, const VersionKeeper& versions,
                          const VersionsRequest& request, VersionsReply* reply) {
  PageBudget budget(request.page_size());
  std::string last_position;
  absl::Status listed = VersionRecords(store).Scan(
      request.path(), request.subtree(), request.after(),
      [&](const VersionRecord& record, absl::string_view position) {
        if (!budget.Admit()) return false;
        KeptVersion* kept = reply->add_versions();
        *kept->mutable_record() = record;
        if (!record.kept_name().empty()) {
          kept->set_kept_path(versions.KeptPath(record.kept_name()));
          if (request.with_hashes()) kept->set_sha256(KeptFileSha256(kept->kept_path()));
        }
        budget.Take(kept->ByteSizeLong());
        last_position = std::string(position);
        return true;
      });
  if (!listed.ok()) return listed;
  if (budget.more()) reply->set_next_after(last_position);
  return absl::OkStatus();
}

}  // namespace

grpc::Status AdminService::Versions(grpc::ServerContext*, const VersionsRequest* request,
                                    VersionsReply* reply) {
  if (versions_ == nullptr) return ToGrpc(absl::OkStatus());
  absl::Status listed = ListVersions(*store_, *versions_, *request, reply);
  if (!listed.ok()) reply->Clear();
  return ToGrpc(listed);
}

grpc::Status AdminService::Status(grpc::ServerContext*, const StatusRequest*,
                                  ReplicaStatus* reply) {
  *reply = status_();
  return grpc::Status::OK;
}

grpc::Status AdminService::Conflicts(grpc::ServerContext*, const ConflictsRequest* request,
                                     ConflictsReply* reply) {
  absl::Status listed = ListConflicts(*store_, *request, reply);
  if (!listed.ok()) reply->Clear();
  return ToGrpc(listed);
}

grpc::Status AdminService::Entries(grpc::ServerContext*, const EntriesRequest* request,
                                   EntriesPage* reply) {
  absl::Status listed = ListEntries(*store_, *request, reply);
  if (!listed.ok()) reply->Clear();
  return ToGrpc(listed);
}

grpc::Status AdminService::ChangeLog(grpc::ServerContext*, const ChangeLogRequest* request,
                                     ChangeLogPage* reply) {
  absl::Status listed = ListChangeLog(*store_, *request, reply);
  if (!listed.ok()) reply->Clear();
  return ToGrpc(listed);
}

grpc::Status AdminService::ForgetPuller(grpc::ServerContext*, const ForgetPullerRequest* request,
                                        ForgetPullerReply* reply) {
  absl::StatusOr<bool> forgotten = ReplicationService::ForgetPuller(store_, request->node());
  if (!forgotten.ok()) return ToGrpc(forgotten.status());
  reply->set_forgotten(*forgotten);
  return grpc::Status::OK;
}

}  // namespace replfs
