#include "server/sender/text_batcher.h"

#include <utility>

#include "absl/time/clock.h"

namespace lip {
namespace {

constexpr char kNode[] = "sender";

// Queues `job` and blocks until its batch answered it. The batch asks `gone` before the job runs,
// so a caller that left before its batch starts costs no model time (and nobody polls meanwhile).
template <typename T, typename Job>
Batched<T> SubmitAndWait(DynamicBatcher<Job>& batcher, Job job, const TextBatcher::CallerGone& gone) {
  job.ticket.caller_gone = gone;
  std::future<Batched<T>> answer = job.done->get_future();
  if (absl::Status queued = batcher.Submit(std::move(job)); !queued.ok()) return {queued, 0, 0};
  return answer.get();
}

// Runs one batch: the jobs still wanted go to `call` (payloads in, per-payload answers out) in one
// pipeline call; every job is answered exactly once.
template <typename T, typename Job, typename Call>
void AnswerJobs(std::vector<Job>& jobs, metrics::Histogram& batch_sizes, const Call& call) {
  const absl::Time start = absl::Now();
  std::vector<Job*> live;
  std::vector<decltype(Job::payload)> payloads;
  for (Job& job : jobs) {
    const double queue_ms = absl::ToDoubleMilliseconds(start - job.ticket.enqueued);
    if (absl::Status gone = JobAbandoned(job.ticket, start, kNode); !gone.ok()) {
      job.done->set_value({std::move(gone), queue_ms, 0});
      continue;
    }
    live.push_back(&job);
    payloads.push_back(std::move(job.payload));
  }
  if (live.empty()) return;
  const int size = static_cast<int>(live.size());
  batch_sizes.Observe(size);
  absl::StatusOr<std::vector<absl::StatusOr<T>>> answers = call(payloads);
  for (int i = 0; i < size; ++i) {
    const double queue_ms = absl::ToDoubleMilliseconds(start - live[i]->ticket.enqueued);
    live[i]->done->set_value({answers.ok() ? std::move((*answers)[i]) : absl::StatusOr<T>(answers.status()),
                              queue_ms, size});
  }
}

template <typename Job>
void DropJob(Job job, const absl::Status& why) {
  job.done->set_value({why, 0, 0});
}

}  // namespace

TextBatcher::TextBatcher(const SenderPipeline* pipeline, DynamicBatcherOptions options,
                         metrics::Registry* metrics)
    : pipeline_(pipeline),
      encode_(options, {kNode, "lip_sender", {{"work", "encode"}}}, metrics,
              [this](std::vector<EncodeJob> jobs) { RunEncodes(std::move(jobs)); }, DropJob<EncodeJob>),
      relay_(options, {kNode, "lip_sender", {{"work", "relay"}}}, metrics,
             [this](std::vector<RelayJob> jobs) { RunRelays(std::move(jobs)); }, DropJob<RelayJob>) {}

TextBatcher::~TextBatcher() {
  encode_.Stop();
  relay_.Stop();
}

Batched<EncodedText> TextBatcher::Encode(std::string text, absl::Time deadline, const CallerGone& gone) {
  EncodeJob job{std::move(text), {deadline, nullptr, {}}, std::make_shared<std::promise<Batched<EncodedText>>>()};
  return SubmitAndWait<EncodedText>(encode_, std::move(job), gone);
}

Batched<GeneratedText> TextBatcher::Relay(std::string text, int max_new_tokens, absl::Time deadline,
                                          const CallerGone& gone) {
  RelayJob job{{std::move(text), max_new_tokens}, {deadline, nullptr, {}},
               std::make_shared<std::promise<Batched<GeneratedText>>>()};
  return SubmitAndWait<GeneratedText>(relay_, std::move(job), gone);
}

void TextBatcher::RunEncodes(std::vector<EncodeJob> jobs) {
  AnswerJobs<EncodedText>(jobs, encode_.batch_sizes(), [this](const std::vector<std::string>& texts) {
    return pipeline_->EncodeEach(texts);
  });
}

void TextBatcher::RunRelays(std::vector<RelayJob> jobs) {
  AnswerJobs<GeneratedText>(jobs, relay_.batch_sizes(), [this](const std::vector<RelayRequest>& requests) {
    return WriteRelayMessages(*pipeline_, requests);
  });
}

}  // namespace lip
