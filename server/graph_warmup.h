// Capturing the CUDA graphs of a model node before it serves. On CUDA the model runtime captures
// one graph per (batch bucket, token bucket, exit layer) on the first forward of that bucket
// (DecoderModel::uses_cuda_graphs); a capture takes tens to hundreds of milliseconds, which would
// land on the first messages of each batch size under load. These functions run the node's own
// path on placeholder inputs for every batch bucket 1, 2, 4, ... up to `max_batch`, so the
// buckets of full-length messages are captured at start-up. Messages of other lengths still
// capture their bucket on first use.
//
// They do nothing (and return 0 batches) when the model does not use CUDA graphs or max_batch < 1.
// Thread-safety: call before serving.
#ifndef LIP_SERVER_GRAPH_WARMUP_H_
#define LIP_SERVER_GRAPH_WARMUP_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "bridge/latent/receiver_pipeline.h"
#include "bridge/latent/sender_pipeline.h"

namespace lip {

struct GraphWarmupReport {
  int batches = 0;        // batch buckets run
  double elapsed_ms = 0;  // wall time of the whole warm-up
};

// The receiver's classify path on zero soft tokens of the bridge's shape (M x d_z) with the
// bridge's trained priming and labels. Errors are the pipeline's.
absl::StatusOr<GraphWarmupReport> WarmUpReceiverGraphs(const ReceiverPipeline& pipeline, int max_batch);

// The sender's encode path on a placeholder text long enough to fill max_text_tokens (the length
// of a full message), then one 32-token text-relay generation (its static-cache decode step).
// Errors are the pipeline's.
absl::StatusOr<GraphWarmupReport> WarmUpSenderGraphs(const SenderPipeline& pipeline, int max_batch);

}  // namespace lip

#endif  // LIP_SERVER_GRAPH_WARMUP_H_
