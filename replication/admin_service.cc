#include "replication/admin_service.h"

#include "absl/strings/str_cat.h"
#include "replication/replicator.h"

namespace replfs {

grpc::Status AdminService::Status(grpc::ServerContext*, const StatusRequest*,
                                  ReplicaStatus* reply) {
  *reply = replicator_->Status();
  return grpc::Status::OK;
}

grpc::Status AdminService::Conflicts(grpc::ServerContext*, const ConflictsRequest*,
                                     ConflictsReply* reply) {
  absl::StatusOr<std::vector<ConflictRecord>> records = replicator_->applier().conflicts().List();
  if (!records.ok()) {
    return grpc::Status(grpc::StatusCode::INTERNAL, std::string(records.status().message()));
  }
  for (const ConflictRecord& record : *records) {
    ConflictCopy* copy = reply->add_conflicts();
    copy->set_path(record.path());
    copy->set_copy_path(record.copy_path());
    *copy->mutable_loser_version() = record.loser().version();
    *copy->mutable_winner_version() = record.winner_version();
    copy->set_origin(record.loser().version().node());
    copy->set_saved_unix_ms(record.saved_unix_ms());
  }
  return grpc::Status::OK;
}

grpc::Status AdminService::ForgetPuller(grpc::ServerContext*, const ForgetPullerRequest* request,
                                        ForgetPullerReply* reply) {
  absl::StatusOr<bool> forgotten = replicator_->ForgetPuller(request->node());
  if (!forgotten.ok()) {
    return grpc::Status(grpc::StatusCode::INTERNAL, std::string(forgotten.status().message()));
  }
  reply->set_forgotten(*forgotten);
  return grpc::Status::OK;
}

}  // namespace replfs
