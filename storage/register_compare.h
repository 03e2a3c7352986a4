#ifndef REPLFS_STORAGE_REGISTER_COMPARE_H_
#define REPLFS_STORAGE_REGISTER_COMPARE_H_

#include "entry.pb.h"

namespace replfs {

// Whether two content registers describe the same content (ignores versions).
bool SameContent(const Content& a, const Content& b);
// Whether two attribute registers hold the same attributes (ignores versions).
bool SameAttributes(const Attributes& a, const Attributes& b);

}  // namespace replfs

#endif  // REPLFS_STORAGE_REGISTER_COMPARE_H_
