#include "replication/fallback_supervisor.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "storage/log.h"

namespace replfs {

FallbackSupervisor::FallbackSupervisor(absl::Duration patience, std::vector<Puller*> peers,
                                       std::vector<Puller*> fallbacks)
    : peers_(std::move(peers)),
      fallbacks_(std::move(fallbacks)),
      policy_(patience, fallbacks_.size(), absl::Now()) {}

FallbackSupervisor::~FallbackSupervisor() { Stop(); }

void FallbackSupervisor::Start() {
  {
    absl::MutexLock lock(&mu_);
    Tick(absl::Now());  // The status says "standby" and why from the start.
  }
  thread_ = std::thread([this] { Run(); });
}

void FallbackSupervisor::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void FallbackSupervisor::Run() {
  absl::MutexLock lock(&mu_);
  for (;;) {
    mu_.AwaitWithTimeout(absl::Condition(&stopping_), kTick);
    if (stopping_) return;
    Tick(absl::Now());
  }
}

void FallbackSupervisor::Tick(absl::Time now) {
  FallbackPolicy::Observation seen;
  for (Puller* peer : peers_) {
    seen.any_peer_live |= peer->state().live();
    seen.any_peer_connected |= peer->state().connected();
  }
  for (Puller* fallback : fallbacks_) seen.fallback_connected.push_back(fallback->state().connected());
  const size_t before = policy_.in_use();
  const size_t in_use = policy_.Update(now, seen);
  if (in_use != before) {
    LogWarning(in_use > before
                   ? absl::StrCat("no configured peer answers: pulling from ", in_use,
                                  " fallback peer(s) as well")
                   : "a configured peer is back: fallback peers are no longer pulled from");
  }
  for (size_t i = 0; i < fallbacks_.size(); ++i) {
    fallbacks_[i]->SetInUse(i < in_use);
    fallbacks_[i]->state().SetUse(/*fallback=*/true, i < in_use, policy_.Reason(i, now));
  }
}

}  // namespace replfs
