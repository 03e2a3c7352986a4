#ifndef REPLFS_REPLICATION_FALLBACK_SUPERVISOR_H_
#define REPLFS_REPLICATION_FALLBACK_SUPERVISOR_H_

#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "replication/fallback_policy.h"
#include "replication/puller.h"

namespace replfs {

// Watches the configured peers' pullers a few times a second and puts the
// fallback pullers in use or in standby as FallbackPolicy decides; records
// the decision and its reason in each fallback's status.
class FallbackSupervisor {
 public:
  // The pullers outlive the supervisor.
  FallbackSupervisor(absl::Duration patience, std::vector<Puller*> peers,
                     std::vector<Puller*> fallbacks);
  ~FallbackSupervisor();  // Stop().
  FallbackSupervisor(const FallbackSupervisor&) = delete;
  FallbackSupervisor& operator=(const FallbackSupervisor&) = delete;

  void Start();
  void Stop();

 private:
  static constexpr absl::Duration kTick = absl::Milliseconds(200);

  void Run();
  void Tick(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::vector<Puller*> peers_;
  const std::vector<Puller*> fallbacks_;
  absl::Mutex mu_;
  FallbackPolicy policy_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace replfs

#endif  // REPLFS_REPLICATION_FALLBACK_SUPERVISOR_H_
