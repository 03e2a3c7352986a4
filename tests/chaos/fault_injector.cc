#include "tests/chaos/fault_injector.h"

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "tests/chaos/chaos_common.h"
#include "tests/chaos/proxied_cluster.h"

namespace replfs::testing::chaos {

namespace {

// The slot of the link from replica `from` to replica `to` in a
// kReplicas x kReplicas table.
size_t LinkIndex(int from, int to) {
  return (static_cast<size_t>(from) * kReplicas) + static_cast<size_t>(to);
}

}  // namespace

void FaultInjector::Run(SteadyClock::time_point until) {
  std::vector<SteadyClock::time_point> heal_at(static_cast<size_t>(kReplicas) * kReplicas, SteadyClock::time_point::max());
  while (SteadyClock::now() < until && error_.empty()) {
    Sleep(Uniform(300, 2500), until);
    for (int from = 0; from < kReplicas; ++from) {
      for (int to = 0; to < kReplicas; ++to) {
        auto& at = heal_at[LinkIndex(from, to)];
        if (SteadyClock::now() >= at) {
          cluster_->link(from, to).Heal();
          Note(absl::StrCat("heal ", from, "->", to));
          at = SteadyClock::time_point::max();
        }
      }
    }
    if (SteadyClock::now() >= until) break;
    const int replica = Uniform(0, kReplicas - 1);
    const int roll = Uniform(0, 99);
    if (roll < 35) {
      cluster_->Kill(replica);
      Note(absl::StrCat("kill ", replica));
      ++counts_.kills;
      Sleep(Uniform(100, 2000), SteadyClock::time_point::max());
      Note(absl::StrCat("start ", replica));
      if (absl::Status s = cluster_->Start(replica); !s.ok()) {
        error_ = absl::StrCat("restart of replica ", replica, " failed: ", s.ToString());
      }
    } else if (roll < 65) {
      cluster_->Pause(replica);
      Note(absl::StrCat("pause ", replica));
      ++counts_.pauses;
      Sleep(Uniform(200, 3000), SteadyClock::time_point::max());
      cluster_->Resume(replica);
      Note(absl::StrCat("resume ", replica));
    } else {
      // Both directions of a pair, or one direction only.
      int other = Uniform(0, kReplicas - 2);
      if (other >= replica) ++other;
      const auto heal = SteadyClock::now() + std::chrono::milliseconds(Uniform(500, 8000));
      cluster_->link(replica, other).Cut();
      Note(absl::StrCat("cut ", replica, "->", other));
      heal_at[LinkIndex(replica, other)] = heal;
      if (Uniform(0, 1) == 0) {
        cluster_->link(other, replica).Cut();
        Note(absl::StrCat("cut ", other, "->", replica));
        heal_at[LinkIndex(other, replica)] = heal;
      }
      ++counts_.cuts;
    }
  }
  cluster_->HealAll();
}

void FaultInjector::Sleep(int ms, SteadyClock::time_point until) {
  const auto wake = std::min(until, SteadyClock::now() + std::chrono::milliseconds(ms));
  std::this_thread::sleep_until(wake);
}

void FaultInjector::Note(const std::string& what) {
  events_.push_back(absl::StrFormat("%9.3f %s", SecondsBetween(epoch_, SteadyClock::now()), what));
}

}  // namespace replfs::testing::chaos
