#include "fuse/commit_queue.h"

#include <chrono>
#include <future>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"

namespace replfs {
namespace {

using std::chrono::seconds;

// What ran, in order, and on which thread.
class RunLog {
 public:
  std::function<void()> Job(int id) {
    return [this, id] {
      absl::MutexLock lock(&mu_);
      ids_.push_back(id);
      threads_.push_back(std::this_thread::get_id());
    };
  }
  std::vector<int> ids() {
    absl::MutexLock lock(&mu_);
    return ids_;
  }
  std::thread::id thread_of(size_t index) {
    absl::MutexLock lock(&mu_);
    return threads_.at(index);
  }

 private:
  absl::Mutex mu_;
  std::vector<int> ids_ ABSL_GUARDED_BY(mu_);
  std::vector<std::thread::id> threads_ ABSL_GUARDED_BY(mu_);
};

TEST(CommitQueueTest, AnotherThreadsJobRunsOnTheQueuesOwnThread) {
  RunLog log;
  CommitQueue queue;
  const CommitQueue::Ticket ticket = queue.Enqueue(log.Job(1));
  std::promise<void> ran;
  queue.Enqueue([&ran] { ran.set_value(); });
  // Nobody waits or runs jobs here: the queue's own thread must.
  ASSERT_EQ(ran.get_future().wait_for(seconds(10)), std::future_status::ready);
  queue.WaitFor(ticket);
  EXPECT_EQ(log.ids(), std::vector<int>({1}));
  EXPECT_NE(log.thread_of(0), std::this_thread::get_id());
}

TEST(CommitQueueTest, AServingThreadRunsItsOwnJobsAfterwardsWithoutWakingAnother) {
  RunLog log;
  CommitQueue queue;
  std::thread serving([&] {
    queue.RunQueued();  // From now on this thread runs what it queues.
    queue.Enqueue(log.Job(1));
    queue.Enqueue(log.Job(2));
    // Nobody else was woken for them: they wait for this thread.
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    EXPECT_EQ(queue.Pending(), 2u);
    EXPECT_TRUE(log.ids().empty());
    queue.RunQueued();
    EXPECT_EQ(queue.Pending(), 0u);
    EXPECT_EQ(log.ids(), std::vector<int>({1, 2}));
    EXPECT_EQ(log.thread_of(0), std::this_thread::get_id());
    EXPECT_EQ(log.thread_of(1), std::this_thread::get_id());
  });
  serving.join();
}

TEST(CommitQueueTest, AWaiterRunsTheJobsItWaitsForWhenNobodyElseDoes) {
  RunLog log;
  CommitQueue queue;
  CommitQueue::Ticket second = 0;
  std::thread serving([&] {
    queue.RunQueued();
    queue.Enqueue(log.Job(1));
    second = queue.Enqueue(log.Job(2));
    // Leaves without running them (a session that ends).
  });
  serving.join();
  queue.WaitFor(second);
  EXPECT_EQ(log.ids(), std::vector<int>({1, 2}));
  EXPECT_EQ(log.thread_of(0), std::this_thread::get_id());
}

TEST(CommitQueueTest, AWaiterLeavesTheJobsAfterItsTicketToTheQueuesOwnThread) {
  RunLog log;
  CommitQueue queue;
  CommitQueue::Ticket first = 0;
  std::promise<void> last_ran;
  std::thread serving([&] {
    queue.RunQueued();
    first = queue.Enqueue(log.Job(1));
    queue.Enqueue(log.Job(2));
    queue.Enqueue([&last_ran] { last_ran.set_value(); });
  });
  serving.join();
  queue.WaitFor(first);
  ASSERT_EQ(last_ran.get_future().wait_for(seconds(10)), std::future_status::ready);
  EXPECT_EQ(log.ids(), std::vector<int>({1, 2}));
  EXPECT_EQ(log.thread_of(0), std::this_thread::get_id());
  EXPECT_NE(log.thread_of(1), std::this_thread::get_id());
}

TEST(CommitQueueTest, JobsRunInTicketOrderWhoeverQueuesAndRunsThem) {
  RunLog log;
  CommitQueue queue(/*capacity=*/8);
  constexpr int kPerThread = 2000;
  std::vector<std::thread> threads;
  threads.reserve(4);
  absl::Mutex order_mu;
  std::vector<int> queued_order;  // Ids in ticket order.
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      const bool serving = t % 2 == 0;  // Half behave like FUSE threads.
      if (serving) queue.RunQueued();
      for (int i = 0; i < kPerThread; ++i) {
        const int id = t * kPerThread + i;
        {
          // Ticket order is queue order: record it in the same step.
          absl::MutexLock lock(&order_mu);
          queue.Enqueue(log.Job(id));
          queued_order.push_back(id);
        }
        if (serving && i % 3 == 0) queue.RunQueued();
        if (i % 500 == 0) queue.Drain();
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  queue.Drain();
  EXPECT_EQ(queue.Pending(), 0u);
  absl::MutexLock lock(&order_mu);
  EXPECT_EQ(log.ids(), queued_order);
}

TEST(CommitQueueTest, AFullQueueOfAServingThreadsJobsDoesNotBlockIt) {
  RunLog log;
  CommitQueue queue(/*capacity=*/2);
  std::thread serving([&] {
    queue.RunQueued();
    // Past the capacity, Enqueue wakes the queue's own thread to make room.
    for (int i = 0; i < 10; ++i) queue.Enqueue(log.Job(i));
  });
  serving.join();
  queue.Drain();
  EXPECT_EQ(log.ids(), std::vector<int>({0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
}

TEST(CommitQueueTest, DestructionRunsWhatAServingThreadLeftQueued) {
  RunLog log;
  {
    CommitQueue queue;
    std::thread serving([&] {
      queue.RunQueued();
      queue.Enqueue(log.Job(1));
    });
    serving.join();
  }
  EXPECT_EQ(log.ids(), std::vector<int>({1}));
}

}  // namespace
}  // namespace replfs
