#ifndef REPLFS_DAEMON_REPLICATION_OPTIONS_H_
#define REPLFS_DAEMON_REPLICATION_OPTIONS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace replfs {

// The replication half of the command line: whom to serve and pull from,
// how to authenticate them, what to keep of their files.
struct ReplicationOptions {
  std::string listen;               // HOST:PORT to serve peers on; "" = none.
  std::vector<std::string> peers;   // HOST:PORT of each peer to pull from.
  // Pulled from only while no peer answers, after fallback_after seconds.
  std::vector<std::string> fallback_peers;
  double fallback_after = 10;
  std::string cluster = "replfs";   // Peers of another cluster are refused.
  bool insecure = false;            // Allow plaintext on non-loopback addresses.
  bool allow_setuid = false;        // Keep set-id bits of files from peers.
  std::string tls_ca;               // Mutual TLS: cluster CA, own cert and key.
  std::string tls_cert;
  std::string tls_key;
  double tombstone_grace = 86400;   // Seconds before an acknowledged tombstone is purged.
  std::string metrics;              // HOST:PORT to serve /metrics on; "" = none.
  // Paths local to this replica, gitignore lines (-o ignore=, then the lines
  // of -o ignore_file=).
  std::vector<std::string> ignore_patterns;
  // Bytes a second taken from each peer at most (-o max_rate); 0: no limit.
  uint64_t max_rate = 0;
  // How peers are asked to send batches and blocks: "gzip" or "none"
  // (-o compression).
  std::string compression = "none";
  // Days the file versions that changes take out of the tree are kept
  // (-o keep_versions; 0: none), within a cap (-o versions_max): bytes, or
  // when 0 a percentage of the backing file system.
  uint32_t keep_versions_days = 7;
  uint64_t versions_max_bytes = 0;
  double versions_max_percent = 10;
};

// Appends the HOST:PORTs of a ';'- or ' '-separated list to `peers`.
void AppendPeerList(const std::string& list, std::vector<std::string>* peers);

// Whether HOST:PORT names a loopback address (127.0.0.0/8, ::1, localhost).
bool IsLoopbackAddress(const std::string& host_port);

// Checks the peers, fallback peers, TLS files given, listen and metrics addresses
// against each other; errors are one sentence naming the setting.
absl::Status CheckReplicationOptions(const ReplicationOptions& options);

// Makes the TLS file names absolute: the daemon runs from "/", and every
// file it reads later must be absolute.
absl::Status ResolveTlsFiles(ReplicationOptions* options);

}  // namespace replfs

#endif  // REPLFS_DAEMON_REPLICATION_OPTIONS_H_
