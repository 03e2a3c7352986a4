#ifndef REPLFS_REPLICATION_SET_ASIDE_SCHEDULE_H_
#define REPLFS_REPLICATION_SET_ASIDE_SCHEDULE_H_

#include <cstdint>

#include "entry.pb.h"
#include "replication/object_attributes.h"

namespace replfs {

int64_t NowUnixMs();

// When a set-aside entry is tried again after `attempts` failures: 1 s,
// 2 s, 4 s... up to 10 minutes, so a file system that is fixed (remounted,
// given space) gets its entries soon, and one that never will costs little.
int64_t NextAttemptUnixMs(int64_t now_unix_ms, uint32_t attempts);

// A partly applied entry's record: what it lacks, retried like a set-aside
// entry when trying again may help.
SetAsideRecord PartialRecord(const Entry& applied, uint64_t peer,
                             const DroppedAttributes& dropped, int64_t now_unix_ms);

}  // namespace replfs

#endif  // REPLFS_REPLICATION_SET_ASIDE_SCHEDULE_H_
