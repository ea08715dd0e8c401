#include "server/receiver/latent_batcher.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/node/grpc_status.h"

namespace lip {

LatentBatcher::LatentBatcher(const ReceiverPipeline* pipeline, LatentBatcherOptions options,
                             metrics::Registry* metrics)
    : pipeline_(pipeline),
      options_(options),
      batch_sizes_(metrics::BuildHistogram().Name("lip_receiver_batch_size")
                       .Help("Messages per pipeline call").Register(*metrics)
                       .Add({}, metrics::Histogram::BucketBoundaries{1, 2, 4, 8, 16, 32, 64})),
      queue_depth_(metrics::BuildGauge().Name("lip_receiver_queue_depth")
                       .Help("Jobs waiting for a batch").Register(*metrics).Add({})),
      rejected_(metrics::BuildCounter().Name("lip_receiver_rejected_total")
                    .Help("Jobs refused because the queue was full").Register(*metrics).Add({})) {
  worker_ = std::thread([this] { Loop(); });
}

LatentBatcher::~LatentBatcher() {
  std::deque<Job> left;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  worker_.join();
  left.swap(queue_);
  for (Job& job : waiting_) left.push_back(std::move(job));
  waiting_.clear();
  for (Job& job : left) {
    job.done({WithErrorReason(absl::UnavailableError("receiver is shutting down"), "SHUTTING_DOWN"), 0, 0});
  }
}

absl::Status LatentBatcher::Submit(LatentMessage message, absl::Time deadline,
                                   std::shared_ptr<std::atomic<bool>> cancelled, Callback done,
                                   Admission admission) {
  return Enqueue({std::move(message), deadline, absl::Now(), std::move(cancelled), std::move(done)},
                 admission);
}

absl::Status LatentBatcher::SubmitText(TextMessage message, absl::Time deadline,
                                       std::shared_ptr<std::atomic<bool>> cancelled, Callback done,
                                       Admission admission) {
  return Enqueue({std::move(message), deadline, absl::Now(), std::move(cancelled), std::move(done)},
                 admission);
}

absl::Status LatentBatcher::Enqueue(Job job, Admission admission) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_) return WithErrorReason(absl::UnavailableError("receiver is shutting down"), "SHUTTING_DOWN");
    if (static_cast<int>(queue_.size()) >= options_.queue_limit) {
      if (admission == Admission::kWaitForRoom) {
        waiting_.push_back(std::move(job));
        queue_depth_.Set(static_cast<double>(queue_.size() + waiting_.size()));
        return absl::OkStatus();
      }
      rejected_.Increment();
      return WithErrorReason(
          absl::ResourceExhaustedError(absl::StrCat("receiver queue is full (", queue_.size(),
                                                    " waiting, limit ", options_.queue_limit, ")")),
          "QUEUE_FULL");
    }
    queue_.push_back(std::move(job));
    queue_depth_.Set(static_cast<double>(queue_.size() + waiting_.size()));
  }
  wake_.notify_all();
  return absl::OkStatus();
}

void LatentBatcher::AdmitWaiting() {
  while (!waiting_.empty() && static_cast<int>(queue_.size()) < options_.queue_limit) {
    queue_.push_back(std::move(waiting_.front()));
    waiting_.pop_front();
  }
}

void LatentBatcher::Loop() {
  while (true) {
    std::vector<Job> batch;
    {
      std::unique_lock<std::mutex> lock(mu_);
      wake_.wait(lock, [this] { return stop_ || !queue_.empty(); });
      if (stop_) return;
      // Under concurrent load (the last batch had company) the oldest job waits at most max_wait
      // for the batch to fill; a lone message on an idle receiver runs at once.
      const absl::Time flush_at = queue_.front().enqueued + options_.max_wait;
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
    RunBatch(std::move(batch));
  }
}

absl::Status LatentBatcher::Abandoned(const Job& job, absl::Time now) {
  // The deadline first: gRPC also marks a call whose deadline passed as cancelled.
  if (now > job.deadline) {
    return absl::DeadlineExceededError(absl::StrCat(
        "deadline passed after ", absl::ToDoubleMilliseconds(now - job.enqueued), " ms in the receiver"));
  }
  if (job.cancelled != nullptr && job.cancelled->load()) {
    return absl::CancelledError("the caller cancelled before the message ran");
  }
  return absl::OkStatus();
}

void LatentBatcher::RunBatch(std::vector<Job> jobs) {
  const absl::Time start = absl::Now();
  std::vector<Job*> latent_jobs, text_jobs;
  std::vector<LatentMessage> latents;
  std::vector<TextMessage> texts;
  for (Job& job : jobs) {
    if (absl::Status gone = Abandoned(job, start); !gone.ok()) {
      job.done({std::move(gone), absl::ToDoubleMilliseconds(start - job.enqueued), 0});
      continue;
    }
    if (auto* latent = std::get_if<LatentMessage>(&job.message)) {
      latents.push_back(std::move(*latent));
      latent_jobs.push_back(&job);
    } else {
      texts.push_back(std::move(std::get<TextMessage>(job.message)));
      text_jobs.push_back(&job);
    }
  }
  auto run = [&](auto& messages, std::vector<Job*>& owners, auto answer_fn) {
    if (messages.empty()) return;
    const int size = static_cast<int>(messages.size());
    batch_sizes_.Observe(size);
    // Asked by the pipeline before each group runs: work whose caller has gone is dropped there too.
    MessageGate gate = [&owners](size_t i) { return Abandoned(*owners[i], absl::Now()); };
    auto answers = answer_fn(messages, gate);
    for (size_t i = 0; i < owners.size(); ++i) {
      const double queue_ms = absl::ToDoubleMilliseconds(start - owners[i]->enqueued);
      if (!answers.ok()) {
        owners[i]->done({answers.status(), queue_ms, size});
      } else {
        owners[i]->done({std::move((*answers)[i]), queue_ms, size});
      }
    }
  };
  run(latents, latent_jobs, [this](const std::vector<LatentMessage>& m, const MessageGate& gate) {
    return pipeline_->Answer(m, gate);
  });
  run(texts, text_jobs, [this](const std::vector<TextMessage>& m, const MessageGate& gate) {
    return pipeline_->AnswerText(m, gate);
  });
}

}  // namespace lip
