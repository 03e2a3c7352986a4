#include "tests/support/wait_until.h"

#include "absl/time/clock.h"

namespace replfs::testing {

bool WaitUntil(const std::function<bool()>& predicate, absl::Duration timeout,
               absl::Duration poll) {
  const absl::Time deadline = absl::Now() + timeout;
  for (;;) {
    if (predicate()) return true;
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(poll);
  }
}

}  // namespace replfs::testing
