#ifndef REPLFS_PROTO_VERSION_TEXT_H_
#define REPLFS_PROTO_VERSION_TEXT_H_

#include <string>

#include "entry.pb.h"

namespace replfs {

// A version as people read it and as conflict records name it:
// WALL_MS.COUNTER@NODE (node in 16 hex digits). Beside the record format
// (entry.proto) rather than in storage/, so that the tools that only speak
// the wire protocol print versions the same way.
std::string VersionToString(const Version& v);

}  // namespace replfs

#endif  // REPLFS_PROTO_VERSION_TEXT_H_
