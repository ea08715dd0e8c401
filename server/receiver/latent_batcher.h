// LatentBatcher: dynamic batching in front of a ReceiverPipeline.
//
// Requests from many RPCs are queued in a DynamicBatcher (server/dynamic_batcher.h: one worker,
// up to `max_batch_size` per batch, a `max_wait` window only under concurrent load — a lone
// message on an idle receiver runs at once — and `queue_limit` with Admission::kRefuseWhenFull
// for unary calls, RESOURCE_EXHAUSTED reason QUEUE_FULL, or Admission::kWaitForRoom for stream
// messages, whose number in flight each stream bounds itself). Each batch is answered with one
// ReceiverPipeline::Answer (latent messages) and one AnswerText (text messages) call. Jobs whose
// deadline has passed or whose caller cancelled are answered DEADLINE_EXCEEDED / CANCELLED
// without running: checked when the batch starts and again by the pipeline before each group of
// messages runs. The receiver never hangs or drops silently.
//
// Metrics: lip_receiver_batch_size, lip_receiver_queue_depth, lip_receiver_rejected_total.
//
// Knows nothing of gRPC. Ownership: the pipeline is borrowed and must outlive
// the batcher. Thread-safety: Submit* may be called from any thread; each
// callback is called exactly once, on the worker thread (or on the caller's
// thread when Submit fails — then it is not called and the status is returned).
#ifndef LIP_SERVER_RECEIVER_LATENT_BATCHER_H_
#define LIP_SERVER_RECEIVER_LATENT_BATCHER_H_

#include <atomic>
#include <functional>
#include <memory>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "bridge/latent/receiver_pipeline.h"
#include "common/node/metrics.h"
#include "server/dynamic_batcher.h"

namespace lip {

using LatentBatcherOptions = DynamicBatcherOptions;

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

  const LatentBatcherOptions& options() const { return batcher_.options(); }

 private:
  struct Job {
    std::variant<LatentMessage, TextMessage> message;
    BatchTicket ticket;
    Callback done;
  };
  void RunBatch(std::vector<Job> jobs);

  const ReceiverPipeline* pipeline_;
  DynamicBatcher<Job> batcher_;
};

}  // namespace lip

#endif  // LIP_SERVER_RECEIVER_LATENT_BATCHER_H_
