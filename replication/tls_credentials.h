#ifndef REPLFS_REPLICATION_TLS_CREDENTIALS_H_
#define REPLFS_REPLICATION_TLS_CREDENTIALS_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "grpcpp/grpcpp.h"

namespace replfs {

struct TlsFiles {
  std::string ca;    // The cluster CA certificate (PEM).
  std::string cert;  // This replica's certificate, signed by the CA (PEM).
  std::string key;   // Its private key (PEM).
  bool enabled() const { return !ca.empty(); }
};

struct ReplicationCredentials {
  std::shared_ptr<grpc::ServerCredentials> server;
  std::shared_ptr<grpc::ChannelCredentials> channel;
};

// Mutual TLS when `files` are given: the server demands and verifies a client
// certificate signed by the cluster CA, and the client verifies the server's.
// Plaintext (loopback or -o insecure only; options enforce that) otherwise.
absl::StatusOr<ReplicationCredentials> MakeReplicationCredentials(const TlsFiles& files);

}  // namespace replfs

#endif  // REPLFS_REPLICATION_TLS_CREDENTIALS_H_
