#include "storage/tombstone.h"

#include "storage/attribute_registers.h"
#include "storage/version.h"

namespace replfs {

Entry TombstoneOf(const Entry& live, const Version& version) {
  Entry dead;
  dead.set_path(live.path());
  Content* content = dead.mutable_content();
  content->set_kind(KIND_TOMBSTONE);
  *content->mutable_version() = version;
  *content->mutable_vector() = live.content().vector();
  BumpVector(content->mutable_vector(), version.node(), version.hlc());
  AttributeRegisters::Of(live).StoreIn(&dead);
  return dead;
}

}  // namespace replfs
