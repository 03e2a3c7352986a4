#ifndef REPLFS_REPLICATION_ADMIN_SERVICE_H_
#define REPLFS_REPLICATION_ADMIN_SERVICE_H_

#include <functional>
#include <utility>

#include "replfs.grpc.pb.h"
#include "storage/metadata_store.h"
#include "storage/version_keeper.h"

namespace replfs {

// The local admin endpoint (a unix socket in the state folder, mode 0600:
// only root and the replica's owner can reach it) that replfs-status reads.
// Knows the store and how to make a status, not the replicator that owns it.
// The store is read page by page (Conflicts, Entries, ChangeLog): each call
// holds at most one page, capped server-side whatever the client asks.
class AdminService final : public Admin::Service {
 public:
  // `versions` (null: none kept) lists the kept file versions.
  AdminService(MetadataStore* store, const VersionKeeper* versions,
               std::function<ReplicaStatus()> status)
      : store_(store), versions_(versions), status_(std::move(status)) {}
  grpc::Status Status(grpc::ServerContext* context, const StatusRequest* request,
                      ReplicaStatus* reply) override;
  grpc::Status Conflicts(grpc::ServerContext* context, const ConflictsRequest* request,
                         ConflictsReply* reply) override;
  grpc::Status Entries(grpc::ServerContext* context, const EntriesRequest* request,
                       EntriesPage* reply) override;
  grpc::Status ChangeLog(grpc::ServerContext* context, const ChangeLogRequest* request,
                         ChangeLogPage* reply) override;
  grpc::Status ForgetPuller(grpc::ServerContext* context, const ForgetPullerRequest* request,
                            ForgetPullerReply* reply) override;
  grpc::Status Versions(grpc::ServerContext* context, const VersionsRequest* request,
                        VersionsReply* reply) override;

 private:
  MetadataStore* store_;
  const VersionKeeper* versions_;
  std::function<ReplicaStatus()> status_;
};

}  // namespace replfs

#endif  // REPLFS_REPLICATION_ADMIN_SERVICE_H_
