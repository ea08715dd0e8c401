// DynamicBatcher (server/dynamic_batcher.h), the batching policy the receiver and the sender share:
// a lone job on an idle node runs at once whatever the window; jobs that arrive while a batch runs
// form the next batch (up to max_batch_size); under load the window lets a batch fill; a full
// queue refuses; Stop answers what still waits; JobAbandoned says deadline before cancel.
#include "server/dynamic_batcher.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

namespace lip {
namespace {

struct TestJob {
  int id = 0;
  BatchTicket ticket;
  std::shared_ptr<std::promise<int>> done;  // the size of the batch it ran in; -1 when dropped
};

// A RunBatch that records batch sizes and can hold the worker inside a batch until released.
class Recorder {
 public:
  void Run(std::vector<TestJob> batch) {
    std::unique_lock<std::mutex> lock(mu_);
    sizes_.push_back(static_cast<int>(batch.size()));
    running_ = true;
    changed_.notify_all();
    changed_.wait(lock, [this] { return !hold_; });
    running_ = false;
    for (TestJob& job : batch) job.done->set_value(static_cast<int>(batch.size()));
  }
  void Hold() {
    std::lock_guard<std::mutex> lock(mu_);
    hold_ = true;
  }
  void Release() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      hold_ = false;
    }
    changed_.notify_all();
  }
  void WaitUntilRunning() {
    std::unique_lock<std::mutex> lock(mu_);
    changed_.wait(lock, [this] { return running_; });
  }
  std::vector<int> sizes() {
    std::lock_guard<std::mutex> lock(mu_);
    return sizes_;
  }

 private:
  std::mutex mu_;
  std::condition_variable changed_;
  bool hold_ = false;
  bool running_ = false;
  std::vector<int> sizes_;
};

class DynamicBatcherTest : public ::testing::Test {
 protected:
  std::unique_ptr<DynamicBatcher<TestJob>> Make(int max_batch_size, absl::Duration max_wait, int queue_limit) {
    DynamicBatcherOptions options;
    options.max_batch_size = max_batch_size;
    options.max_wait = max_wait;
    options.queue_limit = queue_limit;
    return std::make_unique<DynamicBatcher<TestJob>>(
        options, BatcherMetricNames{"test node", "lip_test", {{"work", "unit"}}}, &metrics_,
        [this](std::vector<TestJob> batch) { recorder_.Run(std::move(batch)); },
        [](TestJob job, const absl::Status& why) {
          EXPECT_EQ(why.code(), absl::StatusCode::kUnavailable) << why;
          job.done->set_value(-1);
        });
  }
  static TestJob Job(int id, std::future<int>* done) {
    TestJob job{id, {}, std::make_shared<std::promise<int>>()};
    *done = job.done->get_future();
    return job;
  }

  metrics::Registry metrics_;
  Recorder recorder_;
};

TEST_F(DynamicBatcherTest, LoneJobOnAnIdleNodeRunsAtOnceWhateverTheWindow) {
  // A window of an hour: if a lone job waited for company, get() would not return.
  auto batcher = Make(8, absl::Hours(1), 64);
  for (int i = 0; i < 3; ++i) {
    std::future<int> done;
    ASSERT_TRUE(batcher->Submit(Job(i, &done)).ok());
    EXPECT_EQ(done.get(), 1);
  }
  EXPECT_EQ(recorder_.sizes(), (std::vector<int>{1, 1, 1}));
}

TEST_F(DynamicBatcherTest, JobsArrivingWhileABatchRunsFormTheNextBatchUpToTheMaximum) {
  auto batcher = Make(4, absl::ZeroDuration(), 64);
  recorder_.Hold();
  std::vector<std::future<int>> done(7);
  ASSERT_TRUE(batcher->Submit(Job(0, &done[0])).ok());
  recorder_.WaitUntilRunning();  // the first job runs alone; six more arrive meanwhile
  for (int i = 1; i < 7; ++i) ASSERT_TRUE(batcher->Submit(Job(i, &done[i])).ok());
  recorder_.Release();
  std::vector<int> sizes;
  for (auto& d : done) sizes.push_back(d.get());
  EXPECT_EQ(sizes, (std::vector<int>{1, 4, 4, 4, 4, 2, 2}));
  EXPECT_EQ(recorder_.sizes(), (std::vector<int>{1, 4, 2}));
}

TEST_F(DynamicBatcherTest, UnderLoadTheWindowLetsABatchFill) {
  // After a batch of two (load), the next lone arrival waits (up to an hour) for the batch to fill:
  // it runs together with the jobs submitted after it.
  auto batcher = Make(3, absl::Hours(1), 64);
  recorder_.Hold();
  std::vector<std::future<int>> first(3);
  ASSERT_TRUE(batcher->Submit(Job(0, &first[0])).ok());
  recorder_.WaitUntilRunning();
  ASSERT_TRUE(batcher->Submit(Job(1, &first[1])).ok());
  ASSERT_TRUE(batcher->Submit(Job(2, &first[2])).ok());
  recorder_.Release();
  for (auto& d : first) d.get();  // batches of 1, then 2
  std::vector<std::future<int>> next(3);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(batcher->Submit(Job(10 + i, &next[i])).ok());
  }
  for (auto& d : next) EXPECT_EQ(d.get(), 3);
  EXPECT_EQ(recorder_.sizes(), (std::vector<int>{1, 2, 3}));
}

TEST_F(DynamicBatcherTest, FullQueueRefusesOrLetsWaitAndStopAnswersTheRest) {
  auto batcher = Make(1, absl::ZeroDuration(), 1);
  recorder_.Hold();
  std::future<int> running, queued, waiting, refused;
  ASSERT_TRUE(batcher->Submit(Job(0, &running)).ok());
  recorder_.WaitUntilRunning();
  ASSERT_TRUE(batcher->Submit(Job(1, &queued)).ok());
  absl::Status full = batcher->Submit(Job(2, &refused));
  EXPECT_EQ(full.code(), absl::StatusCode::kResourceExhausted) << full;
  EXPECT_EQ(ErrorReasonOf(full), "QUEUE_FULL");
  EXPECT_NE(full.message().find("test node queue is full"), std::string::npos) << full;
  ASSERT_TRUE(batcher->Submit(Job(3, &waiting), Admission::kWaitForRoom).ok());
  std::thread stopper([&] { batcher->Stop(); });
  // Release the running batch only once Stop has begun (a probe is refused UNAVAILABLE, no longer
  // QUEUE_FULL), so the queued jobs are answered by Stop rather than run.
  std::future<int> probe;
  while (batcher->Submit(Job(5, &probe)).code() != absl::StatusCode::kUnavailable) std::this_thread::yield();
  recorder_.Release();
  stopper.join();
  EXPECT_EQ(running.get(), 1);  // the running batch finishes
  EXPECT_EQ(queued.get(), -1);  // what waits is answered UNAVAILABLE
  EXPECT_EQ(waiting.get(), -1);
  absl::Status after = batcher->Submit(Job(4, &refused));
  EXPECT_EQ(after.code(), absl::StatusCode::kUnavailable) << after;
  EXPECT_EQ(ErrorReasonOf(after), "SHUTTING_DOWN");
}

TEST(JobAbandonedTest, DeadlineFirstThenCancel) {
  const absl::Time now = absl::Now();
  BatchTicket ticket{now + absl::Seconds(1), std::make_shared<std::atomic<bool>>(false), now};
  EXPECT_TRUE(JobAbandoned(ticket, now, "sender").ok());
  ticket.cancelled->store(true);
  EXPECT_EQ(JobAbandoned(ticket, now, "sender").code(), absl::StatusCode::kCancelled);
  absl::Status late = JobAbandoned(ticket, now + absl::Seconds(2), "sender");
  EXPECT_EQ(late.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_NE(late.message().find("in the sender"), std::string::npos) << late;
}

TEST(JobAbandonedTest, AsksTheCallerOnlyWhenTheDeadlineHolds) {
  const absl::Time now = absl::Now();
  int asked = 0;
  bool gone = false;
  BatchTicket ticket{now + absl::Seconds(1), nullptr, now, [&] {
                       ++asked;
                       return gone;
                     }};
  EXPECT_TRUE(JobAbandoned(ticket, now, "sender").ok());
  gone = true;
  EXPECT_EQ(JobAbandoned(ticket, now, "sender").code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(asked, 2);
  EXPECT_EQ(JobAbandoned(ticket, now + absl::Seconds(2), "sender").code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(asked, 2);
}

}  // namespace
}  // namespace lip
