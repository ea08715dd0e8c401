// Capturing the CUDA graphs of a model node before it serves. On CUDA the model runtime captures
// one graph per (batch bucket, token bucket, exit layer, padded or not) on the first forward of
// that bucket (DecoderModel::uses_cuda_graphs); a capture takes tens to hundreds of milliseconds and
// holds the model's graph lock, so a capture on a served message stalls every message behind it.
// These functions run the node's own paths on placeholder messages for every batch bucket 1, 2, 4,
// ... up to `max_batch` and every text length a message of the bridge can have, so those buckets
// are captured at start-up: longer messages still capture theirs on first use.
//
// Batches of one are unpadded; larger ones are padded (one row a word shorter), as messages of
// different lengths batch under load. Placeholder text is a repeated word, one or two tokens per
// word in the tokenizers LIP runs, so steps of 4 words up to 32 words, 8 up to 64 and 16 beyond never
// skip a token bucket (GraphTokenBucket: 8 tokens wide up to 64 tokens, 16 up to 128, 32 beyond).
//
// They do nothing (and return 0 runs) when the model does not use CUDA graphs or max_batch < 1.
// Thread-safety: call before serving.
#ifndef LIP_SERVER_GRAPH_WARMUP_H_
#define LIP_SERVER_GRAPH_WARMUP_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "bridge/latent/receiver_pipeline.h"
#include "bridge/latent/sender_pipeline.h"

namespace lip {

struct GraphWarmupReport {
  int batches = 0;        // placeholder batches run (each a forward, or a generation)
  int text_lengths = 0;   // placeholder text lengths run, each at every batch bucket
  double elapsed_ms = 0;  // wall time of the whole warm-up
  // CUDA graphs held after it: the pipeline's own (the sender's encode graphs, the receiver's latent
  // classify graphs: GraphedFunction) and the model's forward graphs (the text paths' prefills).
  int pipeline_graphs = 0;
  int model_graphs = 0;
};

// The receiver's classify path on zero soft tokens of the bridge's shape (M x d_z) with the
// bridge's trained priming and labels; then its text path (direct text, text relay) on texts of 8,
// 16, ... words up to DecoderModel::kMaxGraphTokens words (or the receiver's max_text_tokens, if
// smaller): texts arrive whole, of any length the graphs serve (~112 graphs, about half a minute
// for a 7B model on an H100). Errors are the pipeline's.
absl::StatusOr<GraphWarmupReport> WarmUpReceiverGraphs(const ReceiverPipeline& pipeline, int max_batch);

// The sender's encode path on texts of 8, 16, ... words up to max_text_tokens words (longer texts are
// truncated to max_text_tokens tokens, the full-length bucket), then one 32-token text-relay
// generation (its static-cache decode step). Errors are the pipeline's.
absl::StatusOr<GraphWarmupReport> WarmUpSenderGraphs(const SenderPipeline& pipeline, int max_batch);

// The placeholder texts' word counts, longest first: max_words, then counts in steps of 4 words up
// to 32 words, of 8 up to 64, of 16 beyond (so that they reach every token bucket, as above).
std::vector<int> WarmupWordCounts(int max_words);
// A placeholder text: `words` repetitions of "word".
std::string PlaceholderWords(int words);

}  // namespace lip

#endif  // LIP_SERVER_GRAPH_WARMUP_H_
