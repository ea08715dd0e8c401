#include "server/receiver/latent_batcher.h"

#include "absl/time/clock.h"

namespace lip {

LatentBatcher::LatentBatcher(const ReceiverPipeline* pipeline, LatentBatcherOptions options,
                             metrics::Registry* metrics)
    : pipeline_(pipeline),
      batcher_(options, {"receiver", "lip_receiver", {}}, metrics,
               [this](std::vector<Job> jobs) { RunBatch(std::move(jobs)); },
               [](Job job, const absl::Status& why) { job.done({why, 0, 0}); }) {}

LatentBatcher::~LatentBatcher() { batcher_.Stop(); }

absl::Status LatentBatcher::Submit(LatentMessage message, absl::Time deadline,
                                   std::shared_ptr<std::atomic<bool>> cancelled, Callback done,
                                   Admission admission) {
  return batcher_.Submit({std::move(message), {deadline, std::move(cancelled), {}}, std::move(done)},
                         admission);
}

absl::Status LatentBatcher::SubmitText(TextMessage message, absl::Time deadline,
                                       std::shared_ptr<std::atomic<bool>> cancelled, Callback done,
                                       Admission admission) {
  return batcher_.Submit({std::move(message), {deadline, std::move(cancelled), {}}, std::move(done)},
                         admission);
}

void LatentBatcher::RunBatch(std::vector<Job> jobs) {
  const absl::Time start = absl::Now();
  std::vector<Job*> latent_jobs, text_jobs;
  std::vector<LatentMessage> latents;
  std::vector<TextMessage> texts;
  for (Job& job : jobs) {
    if (absl::Status gone = JobAbandoned(job.ticket, start, "receiver"); !gone.ok()) {
      job.done({std::move(gone), absl::ToDoubleMilliseconds(start - job.ticket.enqueued), 0});
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
    batcher_.batch_sizes().Observe(size);
    // Asked by the pipeline before each group runs: work whose caller has gone is dropped there too.
    MessageGate gate = [&owners](size_t i) { return JobAbandoned(owners[i]->ticket, absl::Now(), "receiver"); };
    auto answers = answer_fn(messages, gate);
    for (size_t i = 0; i < owners.size(); ++i) {
      const double queue_ms = absl::ToDoubleMilliseconds(start - owners[i]->ticket.enqueued);
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
