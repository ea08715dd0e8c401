// The sender linear probe baseline: how much label information is linearly readable from the
// sender's own hidden states at the bridge's source layer. Logistic regression on the mean-pooled
// (over real tokens) states, standardized with the training set's statistics, trained full-batch
// with AdamW on the training split and scored on the test split.
#ifndef LIP_BRIDGE_EVAL_LINEAR_PROBE_H_
#define LIP_BRIDGE_EVAL_LINEAR_PROBE_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "bridge/latent/sender_pipeline.h"
#include "bridge/train/text_dataset.h"

namespace lip {

struct LinearProbeOptions {
  int64_t epochs = 300;         // full-batch optimization steps
  double learning_rate = 1e-2;
  double weight_decay = 1e-3;
  uint64_t seed = 1;
  int64_t batch_size = 32;      // for reading sender states only
};

struct LinearProbeResult {
  double train_accuracy = 0;
  double test_accuracy = 0;
  int64_t train_examples = 0;
  int64_t test_examples = 0;
};

// Errors from the sender pass through; INVALID_ARGUMENT when a dataset is empty or the two
// datasets have different label lists.
absl::StatusOr<LinearProbeResult> RunSenderLinearProbe(const SenderPipeline& sender, const TextDataset& train,
                                                       const TextDataset& test,
                                                       const LinearProbeOptions& options = {});

}  // namespace lip

#endif  // LIP_BRIDGE_EVAL_LINEAR_PROBE_H_
