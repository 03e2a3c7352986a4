#ifndef REPLFS_REPLICATION_ADMIN_SERVICE_H_
#define REPLFS_REPLICATION_ADMIN_SERVICE_H_

#include <functional>
#include <utility>

#include "replfs.grpc.pb.h"
#include "storage/metadata_store.h"

namespace replfs {

// The local admin endpoint (a unix socket in the state folder, mode 0600:
// only root and the replica's owner can reach it) that replfs-status reads.
// Knows the store and how to make a status, not the replicator that owns it.
class AdminService final : public Admin::Service {
 public:
  AdminService(MetadataStore* store, std::function<ReplicaStatus()> status)
      : store_(store), status_(std::move(status)) {}
  grpc::Status Status(grpc::ServerContext* context, const StatusRequest* request,
                      ReplicaStatus* reply) override;
  grpc::Status Conflicts(grpc::ServerContext* context, const ConflictsRequest* request,
                         ConflictsReply* reply) override;
  grpc::Status ForgetPuller(grpc::ServerContext* context, const ForgetPullerRequest* request,
                            ForgetPullerReply* reply) override;

 private:
  MetadataStore* store_;
  std::function<ReplicaStatus()> status_;
};

}  // namespace replfs

#endif  // REPLFS_REPLICATION_ADMIN_SERVICE_H_
