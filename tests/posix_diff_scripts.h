#ifndef REPLFS_TESTS_POSIX_DIFF_SCRIPTS_H_
#define REPLFS_TESTS_POSIX_DIFF_SCRIPTS_H_

#include <vector>

#include "tests/posix_script.h"

namespace replfs::testing {

// Every operation sequence the differential POSIX test runs, natively and
// on a mount. Each script works only below its recorder's root, which the
// test makes world-writable (0777, like a shared document root) so that
// non-root steps can create there.
const std::vector<Script>& PosixDiffScripts();

}  // namespace replfs::testing

#endif  // REPLFS_TESTS_POSIX_DIFF_SCRIPTS_H_
