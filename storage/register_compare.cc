#include "storage/register_compare.h"

#include <algorithm>

#include "storage/file_blocks.h"

namespace replfs {

// Field by field: every commit compares, and reflection (MessageDifferencer)
// cost more than the rest of a chmod's commit. A test sets each field in
// turn, so a field added to the messages and not here fails it. A file's
// data compares by its blocks, whichever form (inline or one block) each
// side holds it in.
bool SameContent(const Content& a, const Content& b) {
  return a.kind() == b.kind() && a.mtime_ns() == b.mtime_ns() &&
         a.symlink_target() == b.symlink_target() && SameFileData(a, b);
}

bool SameAttributes(const Attributes& a, const Attributes& b) {
  return a.kind() == b.kind() && a.mode() == b.mode() && a.uid() == b.uid() && a.gid() == b.gid() &&
         std::equal(a.xattrs().begin(), a.xattrs().end(), b.xattrs().begin(), b.xattrs().end(),
                    [](const Xattr& x, const Xattr& y) {
                      return x.name() == y.name() && x.value() == y.value();
                    });
}

}  // namespace replfs
