#ifndef REPLFS_STORAGE_PREAD_ENV_H_
#define REPLFS_STORAGE_PREAD_ENV_H_

#include "leveldb/env.h"

namespace replfs {

// LevelDB's default Env, except that table files are read with pread(2)
// instead of being mapped into memory, so the process's memory does not
// grow with the store (see pread_env.cc). Never destroyed.
leveldb::Env* PreadTableEnv();

}  // namespace replfs

#endif  // REPLFS_STORAGE_PREAD_ENV_H_
