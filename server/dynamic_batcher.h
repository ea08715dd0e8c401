// DynamicBatcher: the queue, the batching window and the worker thread that the receiver's
// LatentBatcher (server/receiver/latent_batcher.h) and the sender's TextBatcher
// (server/sender/text_batcher.h) share. What a batch does is the owner's: a RunBatch function
// gets the jobs taken from the queue and answers every one of them.
//
// Policy: one worker thread takes what waits, up to `max_batch_size` jobs, and hands them to
// RunBatch. Batches form by themselves while the worker is busy. When the last batch had more
// than one job (concurrent load), the worker also waits up to `max_wait` after the oldest job's
// arrival for the batch to fill; a lone job on an idle node runs at once, without that wait.
// Past `queue_limit` waiting jobs, a job submitted with Admission::kRefuseWhenFull is refused
// with RESOURCE_EXHAUSTED (reason QUEUE_FULL) at once; one submitted with
// Admission::kWaitForRoom waits in line and enters the queue as room frees.
//
// A Job is any movable type with a `BatchTicket ticket` member: Submit stamps its arrival
// there; RunBatch may ask JobAbandoned(job.ticket, ...) whether its caller still wants it.
//
// Metrics (names from BatcherMetricNames): <prefix>_batch_size (observed by the owner, through
// batch_sizes(), per model call), <prefix>_queue_depth, <prefix>_rejected_total.
//
// Ownership: RunBatch and Drop are called on the worker thread (Drop also from Stop's caller);
// whatever they use must outlive Stop. An owner whose functions use its own members calls
// Stop() first in its destructor. Thread-safety: Submit may be called from any thread.
#ifndef LIP_SERVER_DYNAMIC_BATCHER_H_
#define LIP_SERVER_DYNAMIC_BATCHER_H_

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/node/grpc_status.h"
#include "common/node/metrics.h"

namespace lip {

struct DynamicBatcherOptions {
  int max_batch_size = 8;                           // jobs per batch
  absl::Duration max_wait = absl::Milliseconds(5);  // under load: how long the oldest job waits for company
  int queue_limit = 64;                             // waiting jobs before RESOURCE_EXHAUSTED
};

enum class Admission {
  kRefuseWhenFull,  // RESOURCE_EXHAUSTED when queue_limit jobs wait
  kWaitForRoom,     // wait in line behind the queue (the caller bounds how many it has waiting)
};

// What the batcher knows of every job besides its payload.
struct BatchTicket {
  absl::Time deadline = absl::InfiniteFuture();
  std::shared_ptr<std::atomic<bool>> cancelled;  // may be null; read before the job runs
  absl::Time enqueued;                           // set by Submit
  // May be empty; asked once, on the batcher's thread, before the job runs: true when the caller has
  // gone (e.g. a thread-safe grpc::ServerContext::IsCancelled of a caller blocked on the answer).
  std::function<bool()> caller_gone;
};

// OK while the job's caller still wants it at `now`; else DEADLINE_EXCEEDED or CANCELLED
// (the message names `node`, e.g. "receiver").
absl::Status JobAbandoned(const BatchTicket& ticket, absl::Time now, absl::string_view node);

struct BatcherMetricNames {
  std::string node;        // "receiver" / "sender": in error messages
  std::string prefix;      // metric name prefix, e.g. "lip_receiver"
  metrics::Labels labels;  // on every metric of this batcher (e.g. {{"work", "encode"}})
};

template <typename Job>
class DynamicBatcher {
 public:
  using RunBatch = std::function<void(std::vector<Job> batch)>;
  // Answers a job that will never run (the batcher stopped) with `why`.
  using Drop = std::function<void(Job job, const absl::Status& why)>;

  DynamicBatcher(DynamicBatcherOptions options, const BatcherMetricNames& names, metrics::Registry* metrics,
                 RunBatch run, Drop drop)
      : options_(options),
        node_(names.node),
        run_(std::move(run)),
        drop_(std::move(drop)),
        batch_sizes_(metrics::BuildHistogram().Name(names.prefix + "_batch_size")
                         .Help("Messages per pipeline call").Register(*metrics)
                         .Add(names.labels, metrics::Histogram::BucketBoundaries{1, 2, 4, 8, 16, 32, 64})),
        queue_depth_(metrics::BuildGauge().Name(names.prefix + "_queue_depth")
                         .Help("Jobs waiting for a batch").Register(*metrics).Add(names.labels)),
        rejected_(metrics::BuildCounter().Name(names.prefix + "_rejected_total")
                      .Help("Jobs refused because the queue was full").Register(*metrics)
                      .Add(names.labels)) {
    worker_ = std::thread([this] { Loop(); });
  }
  ~DynamicBatcher() { Stop(); }
  DynamicBatcher(const DynamicBatcher&) = delete;
  DynamicBatcher& operator=(const DynamicBatcher&) = delete;

  // Refuses new jobs, lets a running batch finish, answers every queued job UNAVAILABLE
  // (reason SHUTTING_DOWN) through Drop and joins the worker. Idempotent.
  void Stop() {
    std::deque<Job> left;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_ && !worker_.joinable()) return;
      stop_ = true;
    }
    wake_.notify_all();
    if (worker_.joinable()) worker_.join();
    {
      std::lock_guard<std::mutex> lock(mu_);
      left.swap(queue_);
      for (Job& job : waiting_) left.push_back(std::move(job));
      waiting_.clear();
    }
    for (Job& job : left) drop_(std::move(job), ShuttingDown());
  }

  // Queues `job` (stamping job.ticket.enqueued). Errors (RESOURCE_EXHAUSTED when full,
  // UNAVAILABLE after Stop) are returned and the job is not run.
  absl::Status Submit(Job job, Admission admission = Admission::kRefuseWhenFull) {
    job.ticket.enqueued = absl::Now();
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_) return ShuttingDown();
      if (static_cast<int>(queue_.size()) >= options_.queue_limit) {
        if (admission == Admission::kWaitForRoom) {
          waiting_.push_back(std::move(job));
          queue_depth_.Set(static_cast<double>(queue_.size() + waiting_.size()));
          return absl::OkStatus();
        }
        rejected_.Increment();
        return WithErrorReason(
            absl::ResourceExhaustedError(absl::StrCat(node_, " queue is full (", queue_.size(),
                                                      " waiting, limit ", options_.queue_limit, ")")),
            "QUEUE_FULL");
      }
      queue_.push_back(std::move(job));
      queue_depth_.Set(static_cast<double>(queue_.size() + waiting_.size()));
    }
    wake_.notify_all();
    return absl::OkStatus();
  }

  const DynamicBatcherOptions& options() const { return options_; }
  const std::string& node() const { return node_; }
  metrics::Histogram& batch_sizes() { return batch_sizes_; }

 private:
  absl::Status ShuttingDown() const {
    return WithErrorReason(absl::UnavailableError(absl::StrCat(node_, " is shutting down")), "SHUTTING_DOWN");
  }

  // Moves waiting kWaitForRoom jobs into the queue while it has room. Holds mu_.
  void AdmitWaiting() {
    while (!waiting_.empty() && static_cast<int>(queue_.size()) < options_.queue_limit) {
      queue_.push_back(std::move(waiting_.front()));
      waiting_.pop_front();
    }
  }

  void Loop() {
    while (true) {
      std::vector<Job> batch;
      {
        std::unique_lock<std::mutex> lock(mu_);
        wake_.wait(lock, [this] { return stop_ || !queue_.empty(); });
        if (stop_) return;
        // Under concurrent load (the last batch had company) the oldest job waits at most max_wait
        // for the batch to fill; a lone job on an idle node runs at once.
        const absl::Time flush_at = queue_.front().ticket.enqueued + options_.max_wait;
        while (!stop_ && last_batch_size_ > 1 && static_cast<int>(queue_.size()) < options_.max_batch_size) {
          const absl::Duration left = flush_at - absl::Now();
          if (left <= absl::ZeroDuration()) break;
          wake_.wait_for(lock, absl::ToChronoNanoseconds(left));
        }
        if (stop_) return;
        while (!queue_.empty() && static_cast<int>(batch.size()) < options_.max_batch_size) {
          batch.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
        last_batch_size_ = static_cast<int>(batch.size());
        AdmitWaiting();
        queue_depth_.Set(static_cast<double>(queue_.size() + waiting_.size()));
      }
      run_(std::move(batch));
    }
  }

  const DynamicBatcherOptions options_;
  const std::string node_;
  const RunBatch run_;
  const Drop drop_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<Job> queue_;
  std::deque<Job> waiting_;  // kWaitForRoom jobs behind a full queue
  bool stop_ = false;
  int last_batch_size_ = 0;  // jobs taken by the last batch; > 1 turns the max_wait window on
  std::thread worker_;

  metrics::Histogram& batch_sizes_;
  metrics::Gauge& queue_depth_;
  metrics::Counter& rejected_;
};

}  // namespace lip

#endif  // LIP_SERVER_DYNAMIC_BATCHER_H_
