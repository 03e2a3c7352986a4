#include "tools/status_client.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <memory>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "grpcpp/grpcpp.h"
#include "replfs.grpc.pb.h"

namespace replfs {
namespace {

constexpr uint32_t kHashedVersionsPerPage = 8;
constexpr absl::Duration kHashedPageTimeout = absl::Seconds(60);

std::unique_ptr<Admin::Stub> Connect(const std::string& socket) {
  // The replica caps a page near 1 MiB but always sends at least one item,
  // and one entry of a huge file (a hash per block) may pass gRPC's default
  // 4 MiB limit.
  grpc::ChannelArguments arguments;
  arguments.SetMaxReceiveMessageSize(-1);
  return Admin::NewStub(grpc::CreateCustomChannel(absl::StrCat("unix:", socket),
                                                  grpc::InsecureChannelCredentials(), arguments));
}

void SetDeadline(grpc::ClientContext* context, absl::Duration timeout) {
  context->set_deadline(std::chrono::system_clock::now() +
                        std::chrono::milliseconds(absl::ToInt64Milliseconds(timeout)));
}

absl::Status FromGrpc(const grpc::Status& status, const std::string& socket) {
  if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    return absl::UnavailableError(
        absl::StrCat("replica did not answer on ", socket, " in time (hung or stopped?)"));
  }
  if (status.error_code() == grpc::StatusCode::UNIMPLEMENTED) {
    return absl::UnimplementedError(
        absl::StrCat("the replica on ", socket,
                     " does not know this request (it runs an older replfs than this tool)"));
  }
  if (status.error_code() != grpc::StatusCode::UNAVAILABLE) {
    // The replica answered, and refused: its reason, not "cannot reach".
    return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                        absl::StrCat("the replica on ", socket, " says: ", status.error_message()));
  }
  return absl::UnavailableError(
      absl::StrCat("cannot reach the replica on ", socket, ": ", status.error_message()));
}

}  // namespace

absl::Status StatusClient::CheckSocket() const {
  struct stat st;
  if (::stat(admin_socket_.c_str(), &st) != 0) {
    if (errno == EACCES) {
      return absl::PermissionDeniedError(
          absl::StrCat("no permission to reach ", admin_socket_, " (run as root)"));
    }
    return absl::UnavailableError(
        absl::StrCat("no admin socket at ", admin_socket_, " (replica not running?)"));
  }
  if (!S_ISSOCK(st.st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat(admin_socket_, " is not a socket"));
  }
  if (::access(admin_socket_.c_str(), R_OK | W_OK) != 0) {
    return absl::PermissionDeniedError(
        absl::StrCat("no permission to use ", admin_socket_,
                     " (mode 0600: run as root or the replica's owner)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<ReplicaStatus> StatusClient::Status() const {
  if (absl::Status s = CheckSocket(); !s.ok()) return s;
  std::unique_ptr<Admin::Stub> stub = Connect(admin_socket_);
  grpc::ClientContext context;
  SetDeadline(&context, timeout_);
  ReplicaStatus reply;
  grpc::Status status = stub->Status(&context, StatusRequest(), &reply);
  if (!status.ok()) return FromGrpc(status, admin_socket_);
  return reply;
}

absl::StatusOr<std::vector<ConflictCopy>> StatusClient::Conflicts() const {
  std::vector<ConflictCopy> conflicts;
  absl::Status read = ReadPages<ConflictsRequest, ConflictsReply>(
      &Admin::Stub::Conflicts, ConflictsRequest(), timeout_,
      [&](const ConflictsReply& page, ConflictsRequest* next) {
        conflicts.insert(conflicts.end(), page.conflicts().begin(), page.conflicts().end());
        *next->mutable_after() = page.next_after();
        return page.has_next_after();
      });
  if (!read.ok()) return read;
  return conflicts;
}

absl::Status StatusClient::ForEachEntry(const std::function<void(const Entry&)>& visit) const {
  return ForEachEntry("", visit);
}

absl::Status StatusClient::ForEachEntry(const std::string& prefix,
                                        const std::function<void(const Entry&)>& visit) const {
  return VisitAll(EntryCursor(prefix), visit);
}

PagedCursor<Entry> StatusClient::EntryCursor(const std::string& prefix) const {
  EntriesRequest request;
  request.set_prefix(prefix);
  return PagedCursor<Entry>([this, stub = std::shared_ptr<Admin::Stub>(), request, prefix](
                                std::vector<Entry>* items, bool* more) mutable {
    EntriesPage page;
    if (absl::Status s = ReadPage(&stub, &Admin::Stub::Entries, request, timeout_, &page);
        !s.ok()) {
      return s;
    }
    for (Entry& entry : *page.mutable_entries()) {
      // A replica older than `prefix` sends every path: what a restore
      // removes must never come from outside the subtree it names.
      if (absl::StartsWith(entry.path(), prefix)) items->push_back(std::move(entry));
    }
    request.set_after_path(page.next_after_path());
    *more = !page.next_after_path().empty();
    return absl::OkStatus();
  });
}

absl::Status StatusClient::ForEachVersion(
    const std::string& path, bool subtree, bool with_hashes,
    const std::function<void(const KeptVersion&)>& visit) const {
  return VisitAll(VersionCursor(path, subtree, with_hashes), visit);
}

PagedCursor<KeptVersion> StatusClient::VersionCursor(const std::string& path, bool subtree,
                                                     bool with_hashes) const {
  VersionsRequest request;
  request.set_path(path);
  request.set_subtree(subtree);
  request.set_with_hashes(with_hashes);
  // Hashing reads each kept file (up to 256 MiB): small pages, each with
  // time enough for its reads.
  absl::Duration page_timeout = timeout_;
  if (with_hashes) {
    request.set_page_size(kHashedVersionsPerPage);
    page_timeout = std::max(timeout_, kHashedPageTimeout);
  }
  const std::string beneath = path.empty() ? "" : path + "/";
  return PagedCursor<KeptVersion>(
      [this, stub = std::shared_ptr<Admin::Stub>(), request, page_timeout, path, subtree,
       beneath](std::vector<KeptVersion>* items, bool* more) mutable {
        VersionsReply page;
        if (absl::Status s = ReadPage(&stub, &Admin::Stub::Versions, request, page_timeout, &page);
            !s.ok()) {
          return s;
        }
        for (KeptVersion& version : *page.mutable_versions()) {
          const std::string& of = version.record().path();
          if (of == path || (subtree && absl::StartsWith(of, beneath))) {
            items->push_back(std::move(version));
          }
        }
        *request.mutable_after() = page.next_after();
        *more = !page.next_after().empty();
        return absl::OkStatus();
      });
}

template <typename Item>
absl::Status StatusClient::VisitAll(PagedCursor<Item> cursor,
                                    const std::function<void(const Item&)>& visit) {
  for (;;) {
    absl::StatusOr<const Item*> item = cursor.Peek();
    if (!item.ok()) return item.status();
    if (*item == nullptr) return absl::OkStatus();
    visit(**item);
    cursor.Pop();
  }
}

absl::Status StatusClient::ForEachChange(
    const std::function<void(const ChangeLogRecord&)>& visit) const {
  return ReadPages<ChangeLogRequest, ChangeLogPage>(
      &Admin::Stub::ChangeLog, ChangeLogRequest(), timeout_,
      [&](const ChangeLogPage& page, ChangeLogRequest* next) {
        for (const ChangeLogRecord& record : page.records()) visit(record);
        next->set_after_seq(page.next_after_seq());
        return page.next_after_seq() != 0;
      });
}

template <typename Request, typename Page>
absl::Status StatusClient::ReadPages(
    grpc::Status (Admin::Stub::*rpc)(grpc::ClientContext*, const Request&, Page*),
    Request request, absl::Duration page_timeout,
    const std::function<bool(const Page&, Request*)>& take) const {
  std::shared_ptr<Admin::Stub> stub;
  for (bool more = true; more;) {
    Page page;
    if (absl::Status s = ReadPage(&stub, rpc, request, page_timeout, &page); !s.ok()) return s;
    more = take(page, &request);
  }
  return absl::OkStatus();
}

template <typename Request, typename Page>
absl::Status StatusClient::ReadPage(
    std::shared_ptr<Admin::Stub>* stub,
    grpc::Status (Admin::Stub::*rpc)(grpc::ClientContext*, const Request&, Page*),
    const Request& request, absl::Duration page_timeout, Page* page) const {
  if (*stub == nullptr) {
    if (absl::Status s = CheckSocket(); !s.ok()) return s;
    *stub = Connect(admin_socket_);
  }
  grpc::ClientContext context;
  SetDeadline(&context, page_timeout);
  grpc::Status status = ((*stub).get()->*rpc)(&context, request, page);
  if (!status.ok()) return FromGrpc(status, admin_socket_);
  return absl::OkStatus();
}

absl::StatusOr<bool> StatusClient::ForgetPuller(uint64_t node) const {
  if (absl::Status s = CheckSocket(); !s.ok()) return s;
  std::unique_ptr<Admin::Stub> stub = Connect(admin_socket_);
  grpc::ClientContext context;
  SetDeadline(&context, timeout_);
  ForgetPullerRequest request;
  request.set_node(node);
  ForgetPullerReply reply;
  grpc::Status status = stub->ForgetPuller(&context, request, &reply);
  if (!status.ok()) return FromGrpc(status, admin_socket_);
  return reply.forgotten();
}

}  // namespace replfs
