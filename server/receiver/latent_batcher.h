// LatentBatcher: dynamic batching in front of a ReceiverPipeline.
//
// Requests from many RPCs are queued; one worker thread takes what waits, up
// to `max_batch_size`, and answers it with one ReceiverPipeline::Answer (or
// AnswerText) call. Batches form by themselves while the worker is busy. When
// the last batch had more than one message (concurrent load), the worker also
// waits up to `max_wait` after the oldest job's arrival for the batch to fill;
// a lone message on an idle receiver runs at once, without that wait. Past `queue_limit`
// waiting jobs, a job submitted with Admission::kRefuseWhenFull (unary calls)
// is refused with RESOURCE_EXHAUSTED (reason QUEUE_FULL) at once — the
// receiver never hangs or drops silently; one submitted with
// Admission::kWaitForRoom (stream messages, whose number in flight each stream
// bounds itself) waits in line and enters the queue as room frees. Jobs whose
// deadline has passed or whose caller cancelled are answered DEADLINE_EXCEEDED
// / CANCELLED without running: checked when the batch starts and again by the
// pipeline before each group of messages runs.
//
// Knows nothing of gRPC. Ownership: the pipeline is borrowed and must outlive
// the batcher. Thread-safety: Submit* may be called from any thread; each
// callback is called exactly once, on the worker thread (or on the caller's
// thread when Submit fails — then it is not called and the status is returned).
#ifndef LIP_SERVER_RECEIVER_LATENT_BATCHER_H_
#define LIP_SERVER_RECEIVER_LATENT_BATCHER_H_

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <variant>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "bridge/latent/receiver_pipeline.h"
#include "common/node/metrics.h"

namespace lip {

struct LatentBatcherOptions {
  int max_batch_size = 8;                           // messages per pipeline call
  absl::Duration max_wait = absl::Milliseconds(5);  // under load: how long the oldest job waits for company
  int queue_limit = 64;                             // waiting jobs before RESOURCE_EXHAUSTED
};

enum class Admission {
  kRefuseWhenFull,  // RESOURCE_EXHAUSTED when queue_limit jobs wait
  kWaitForRoom,     // wait in line behind the queue (the caller bounds how many it has waiting)
};

struct BatchedAnswer {
  absl::StatusOr<ReceiverAnswer> answer;
  double queue_ms = 0;   // from Submit to the start of its batch
  int batch_size = 0;    // jobs in the pipeline call it ran in
};

class LatentBatcher {
 public:
  using Callback = std::function<void(BatchedAnswer)>;

  LatentBatcher(const ReceiverPipeline* pipeline, LatentBatcherOptions options,
                metrics::Registry* metrics);
  // Answers every queued job UNAVAILABLE and joins the worker.
  ~LatentBatcher();

  // `cancelled` (may be null) is polled before the job runs.
  absl::Status Submit(LatentMessage message, absl::Time deadline,
                      std::shared_ptr<std::atomic<bool>> cancelled, Callback done,
                      Admission admission = Admission::kRefuseWhenFull);
  absl::Status SubmitText(TextMessage message, absl::Time deadline,
                          std::shared_ptr<std::atomic<bool>> cancelled, Callback done,
                          Admission admission = Admission::kRefuseWhenFull);

  const LatentBatcherOptions& options() const { return options_; }

 private:
  struct Job {
    std::variant<LatentMessage, TextMessage> message;
    absl::Time deadline;
    absl::Time enqueued;
    std::shared_ptr<std::atomic<bool>> cancelled;
    Callback done;
  };
  absl::Status Enqueue(Job job, Admission admission);
  // Moves waiting kWaitForRoom jobs into the queue while it has room. Holds mu_.
  void AdmitWaiting();
  void Loop();
  void RunBatch(std::vector<Job> jobs);
  // OK while the job's caller still wants it at `now`; else DEADLINE_EXCEEDED or CANCELLED.
  static absl::Status Abandoned(const Job& job, absl::Time now);

  const ReceiverPipeline* pipeline_;
  const LatentBatcherOptions options_;
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

#endif  // LIP_SERVER_RECEIVER_LATENT_BATCHER_H_
