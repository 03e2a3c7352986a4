#ifndef REPLFS_REPLICATION_ADMIN_SERVICE_H_
#define REPLFS_REPLICATION_ADMIN_SERVICE_H_

#include "replfs.grpc.pb.h"

namespace replfs {

class Replicator;

// The local admin endpoint (a unix socket in the state folder, mode 0600:
// only root and the replica's owner can reach it) that replfs-status reads.
class AdminService final : public Admin::Service {
 public:
  explicit AdminService(Replicator* replicator) : replicator_(replicator) {}
  grpc::Status Status(grpc::ServerContext* context, const StatusRequest* request,
                      ReplicaStatus* reply) override;
  grpc::Status Conflicts(grpc::ServerContext* context, const ConflictsRequest* request,
                         ConflictsReply* reply) override;
  grpc::Status ForgetPuller(grpc::ServerContext* context, const ForgetPullerRequest* request,
                            ForgetPullerReply* reply) override;

 private:
  Replicator* replicator_;
};

}  // namespace replfs

#endif  // REPLFS_REPLICATION_ADMIN_SERVICE_H_
