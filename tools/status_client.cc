#include "tools/status_client.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <memory>

#include "absl/strings/str_cat.h"
#include "grpcpp/grpcpp.h"
#include "replfs.grpc.pb.h"

namespace replfs {
namespace {

std::unique_ptr<Admin::Stub> Connect(const std::string& socket) {
  return Admin::NewStub(
      grpc::CreateChannel(absl::StrCat("unix:", socket), grpc::InsecureChannelCredentials()));
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
  if (absl::Status s = CheckSocket(); !s.ok()) return s;
  std::unique_ptr<Admin::Stub> stub = Connect(admin_socket_);
  grpc::ClientContext context;
  SetDeadline(&context, timeout_);
  ConflictsReply reply;
  grpc::Status status = stub->Conflicts(&context, ConflictsRequest(), &reply);
  if (!status.ok()) return FromGrpc(status, admin_socket_);
  return std::vector<ConflictCopy>(reply.conflicts().begin(), reply.conflicts().end());
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
