#include "fuse/request_latency.h"

#include <linux/fuse.h>

#include <string>
#include <utility>

namespace replfs {

RequestLatency::RequestLatency(LatencyHistograms* histograms)
    : other_(histograms->FuseRequest("other")) {
  by_opcode_.fill(other_);
  // The operations that are answered (FORGET and BATCH_FORGET are not) and
  // that replfs implements; the names are libfuse's, lower case.
  const std::pair<uint32_t, const char*> names[] = {
      {FUSE_LOOKUP, "lookup"},       {FUSE_GETATTR, "getattr"},
      {FUSE_SETATTR, "setattr"},     {FUSE_READLINK, "readlink"},
      {FUSE_SYMLINK, "symlink"},     {FUSE_MKNOD, "mknod"},
      {FUSE_MKDIR, "mkdir"},         {FUSE_UNLINK, "unlink"},
      {FUSE_RMDIR, "rmdir"},         {FUSE_RENAME, "rename"},
      {FUSE_LINK, "link"},           {FUSE_OPEN, "open"},
      {FUSE_READ, "read"},           {FUSE_WRITE, "write"},
      {FUSE_STATFS, "statfs"},       {FUSE_RELEASE, "release"},
      {FUSE_FSYNC, "fsync"},         {FUSE_SETXATTR, "setxattr"},
      {FUSE_GETXATTR, "getxattr"},   {FUSE_LISTXATTR, "listxattr"},
      {FUSE_REMOVEXATTR, "removexattr"}, {FUSE_FLUSH, "flush"},
      {FUSE_INIT, "init"},           {FUSE_OPENDIR, "opendir"},
      {FUSE_READDIR, "readdir"},     {FUSE_RELEASEDIR, "releasedir"},
      {FUSE_FSYNCDIR, "fsyncdir"},   {FUSE_ACCESS, "access"},
      {FUSE_CREATE, "create"},       {FUSE_FALLOCATE, "fallocate"},
      {FUSE_READDIRPLUS, "readdirplus"}, {FUSE_RENAME2, "rename2"},
      {FUSE_LSEEK, "lseek"},         {FUSE_COPY_FILE_RANGE, "copy_file_range"},
      {FUSE_TMPFILE, "tmpfile"},
  };
  for (const auto& [opcode, name] : names) {
    if (opcode < kOpcodes) by_opcode_[opcode] = histograms->FuseRequest(name);
  }
}

}  // namespace replfs
