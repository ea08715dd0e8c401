#include "server/graph_warmup.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "common/wire/status_macros.h"

namespace lip {
namespace {

// max_batch, then the powers of two below it, largest first: graphs share one memory pool, and a
// capture reuses the blocks an earlier, larger one freed, where smallest-first would have every
// capture ask the device for larger blocks than the pool holds (measured: 60.7 GiB for the receiver
// smallest-first, the 8B sender then out of memory on the same H100).
std::vector<int> BatchBuckets(int max_batch) {
  std::vector<int> sizes;
  if (max_batch >= 1) sizes.push_back(max_batch);
  int b = 1;
  while (b * 2 < max_batch) b *= 2;
  for (; b >= 1 && b < max_batch; b /= 2) sizes.push_back(b);
  return sizes;
}

// `batch` copies of a text of `words` words, the first one word shorter when batch > 1 (padded).
std::vector<std::string> PlaceholderTexts(int words, int batch) {
  std::vector<std::string> texts(static_cast<size_t>(batch), PlaceholderWords(words));
  if (batch > 1) texts[0] = PlaceholderWords(words - 1);
  return texts;
}

double MillisSince(absl::Time start) { return absl::ToDoubleMilliseconds(absl::Now() - start); }

}  // namespace

std::vector<int> WarmupWordCounts(int max_words) {
  std::vector<int> counts;
  for (int words = 4; words < max_words; words += words < 32 ? 4 : words < 64 ? 8 : 16) counts.push_back(words);
  if (max_words >= 1) counts.push_back(max_words);
  std::reverse(counts.begin(), counts.end());
  return counts;
}

std::string PlaceholderWords(int words) {
  std::string text;
  for (int i = 0; i < words; ++i) text += i == 0 ? "word" : " word";
  return text;
}

absl::StatusOr<GraphWarmupReport> WarmUpReceiverGraphs(const ReceiverPipeline& pipeline, int max_batch) {
  GraphWarmupReport report;
  // A bridge without labels has no classify path to capture (generation runs with a KV cache).
  if (!pipeline.model().uses_cuda_graphs() || max_batch < 1 || pipeline.bridge().labels.empty()) return report;
  const absl::Time start = absl::Now();
  LatentMessage message;
  message.num_soft_tokens = pipeline.bridge().sender.perceiver.num_queries;
  message.width = pipeline.bridge().sender.perceiver.output_width;
  message.z.assign(static_cast<size_t>(message.num_soft_tokens * message.width), 0.0f);
  for (int batch : BatchBuckets(max_batch)) {
    const std::vector<LatentMessage> messages(static_cast<size_t>(batch), message);
    LIP_ASSIGN_OR_RETURN(auto answers, pipeline.Answer(messages));
    for (const auto& answer : answers) LIP_RETURN_IF_ERROR(answer.status());
    ++report.batches;
  }
  // Texts reach the receiver whole (direct text) or as the sender wrote them (text relay): every
  // length the graphs serve, up to the receiver's own text limit.
  const int max_words =
      static_cast<int>(std::min<int64_t>(DecoderModel::kMaxGraphTokens, pipeline.limits().max_text_tokens));
  for (int words : WarmupWordCounts(max_words)) {
    for (int batch : BatchBuckets(max_batch)) {  // longest texts and largest batches first (as above)
      std::vector<TextMessage> messages;
      for (std::string& text : PlaceholderTexts(words, batch)) messages.push_back(TextMessage{std::move(text), {}, {}});
      LIP_ASSIGN_OR_RETURN(auto answers, pipeline.AnswerText(messages));
      for (const auto& answer : answers) LIP_RETURN_IF_ERROR(answer.status());
      ++report.batches;
    }
    ++report.text_lengths;
  }
  report.pipeline_graphs = pipeline.num_classify_graphs();
  report.model_graphs = pipeline.model().num_forward_graphs();
  pipeline.model().ReleaseCachedDeviceMemory();
  report.elapsed_ms = MillisSince(start);
  return report;
}

absl::StatusOr<GraphWarmupReport> WarmUpSenderGraphs(const SenderPipeline& pipeline, int max_batch) {
  GraphWarmupReport report;
  if (!pipeline.model().uses_cuda_graphs() || max_batch < 1) return report;
  const absl::Time start = absl::Now();
  const int max_words = static_cast<int>(pipeline.bridge().sender.max_text_tokens);
  for (int words : WarmupWordCounts(max_words)) {
    for (int batch : BatchBuckets(max_batch)) {  // longest texts and largest batches first (as above)
      LIP_ASSIGN_OR_RETURN(auto encoded, pipeline.Encode(PlaceholderTexts(words, batch)));
      (void)encoded;
      ++report.batches;
    }
    ++report.text_lengths;
  }
  // Text relay: one generation captures the decode step of its bucket (one row, up to 128 positions).
  LIP_ASSIGN_OR_RETURN(auto relay, pipeline.GenerateText(PlaceholderWords(max_words), 32));
  (void)relay;
  ++report.batches;
  report.pipeline_graphs = pipeline.num_encode_graphs();
  report.model_graphs = pipeline.model().num_forward_graphs();
  pipeline.model().ReleaseCachedDeviceMemory();
  report.elapsed_ms = MillisSince(start);
  return report;
}

}  // namespace lip
