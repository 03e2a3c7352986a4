#ifndef REPLFS_DAEMON_USAGE_H_
#define REPLFS_DAEMON_USAGE_H_

namespace replfs {

// `replfs --help`: every option of the binary, FUSE and replication alike.
void PrintUsage(const char* program);

}  // namespace replfs

#endif  // REPLFS_DAEMON_USAGE_H_
