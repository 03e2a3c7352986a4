#include "replication/admin_service.h"

#include "replication/replication_service.h"
#include "storage/conflict_records.h"

namespace replfs {

grpc::Status AdminService::Status(grpc::ServerContext*, const StatusRequest*,
                                  ReplicaStatus* reply) {
  *reply = status_();
  return grpc::Status::OK;
}

grpc::Status AdminService::Conflicts(grpc::ServerContext*, const ConflictsRequest*,
                                     ConflictsReply* reply) {
  absl::Status listed = ConflictRecords(*store_).Scan([&](const ConflictRecord& record) {
    ConflictCopy* copy = reply->add_conflicts();
    copy->set_path(record.path());
    copy->set_copy_path(record.copy_path());
    *copy->mutable_loser_version() = record.loser().version();
    *copy->mutable_winner_version() = record.winner_version();
    copy->set_origin(record.loser().version().node());
    copy->set_saved_unix_ms(record.saved_unix_ms());
    return true;
  });
  if (!listed.ok()) {
    reply->clear_conflicts();
    return grpc::Status(grpc::StatusCode::INTERNAL, std::string(listed.message()));
  }
  return grpc::Status::OK;
}

grpc::Status AdminService::ForgetPuller(grpc::ServerContext*, const ForgetPullerRequest* request,
                                        ForgetPullerReply* reply) {
  absl::StatusOr<bool> forgotten = ReplicationService::ForgetPuller(store_, request->node());
  if (!forgotten.ok()) {
    return grpc::Status(grpc::StatusCode::INTERNAL, std::string(forgotten.status().message()));
  }
  reply->set_forgotten(*forgotten);
  return grpc::Status::OK;
}

}  // namespace replfs
