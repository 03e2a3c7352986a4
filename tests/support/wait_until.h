#ifndef REPLFS_TESTS_SUPPORT_WAIT_UNTIL_H_
#define REPLFS_TESTS_SUPPORT_WAIT_UNTIL_H_

#include <functional>

#include "absl/time/time.h"

namespace replfs::testing {

// Polls `predicate` every `poll` until it holds or `timeout` passes;
// returns whether it held. Bounded in time whatever the predicate does (as
// long as one call returns).
bool WaitUntil(const std::function<bool()>& predicate, absl::Duration timeout,
               absl::Duration poll = absl::Milliseconds(50));

}  // namespace replfs::testing

#endif  // REPLFS_TESTS_SUPPORT_WAIT_UNTIL_H_
