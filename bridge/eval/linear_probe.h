// The sender linear probe baseline: how much label information is linearly readable from the
// sender's own hidden states at the bridge's source layer. Logistic regression on the mean-pooled
// (over real tokens) states, standardized with the training part's statistics, trained full-batch
// with Adam on cross-entropy + l2 * ||W||^2 (bias unpenalized).
//
// Regularisation is chosen on validation, never on the test split: a stratified, seeded
// validation set (LinearProbeOptions::validation_size, at most a fifth of the training split) is
// held out of the training split; for every L2 penalty of the grid the probe trains on the rest,
// with early stopping on validation accuracy (the weights of its best evaluation are kept); the
// penalty with the best validation accuracy (ties: the larger penalty) is the probe, and only it
// is scored on the test split.
#ifndef LIP_BRIDGE_EVAL_LINEAR_PROBE_H_
#define LIP_BRIDGE_EVAL_LINEAR_PROBE_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "bridge/latent/sender_pipeline.h"
#include "bridge/torch_compat.h"
#include "bridge/train/text_dataset.h"

namespace lip {

struct LinearProbeOptions {
  // L2 penalties tried (1e-5 to 1 in half-decades by default: on the demo sender, SST-2 chose 0.1,
  // the top of a grid that ended there).
  std::vector<double> l2_grid = {1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1, 1.0};
  int64_t max_epochs = 1000;    // full-batch optimization steps per penalty, at most
  int64_t eval_every = 10;      // epochs between validation evaluations
  int64_t patience = 10;        // evaluations without a better validation accuracy before stopping
  double learning_rate = 1e-2;
  int64_t validation_size = 500;
  uint64_t seed = 1;
  int64_t batch_size = 32;      // for reading sender states only
};

struct ProbeTrial {
  double l2 = 0;
  double validation_accuracy = 0;  // of its best evaluation
  int64_t best_epoch = 0;
};

struct LinearProbeResult {
  double l2 = 0;                   // the chosen penalty
  std::vector<ProbeTrial> trials;  // one per grid penalty, grid order
  double train_accuracy = 0;       // of the chosen probe, on the part it trained on
  double validation_accuracy = 0;
  double test_accuracy = 0;
  double test_macro_f1 = 0;
  int64_t train_examples = 0;      // the part it trained on (validation excluded)
  int64_t validation_examples = 0;
  int64_t test_examples = 0;
};

// The probe on features: x (N, d) float, y (N) int64 labels in [0, classes). Standardizes with
// train_x's statistics, chooses the penalty on (validation_x, validation_y), scores test.
// INVALID_ARGUMENT for empty sets, mismatched shapes or an empty grid.
absl::StatusOr<LinearProbeResult> FitTunedLinearProbe(torch::Tensor train_x, const torch::Tensor& train_y,
                                                      torch::Tensor validation_x, const torch::Tensor& validation_y,
                                                      torch::Tensor test_x, const torch::Tensor& test_y,
                                                      int64_t classes, const LinearProbeOptions& options = {});

// The probe on the sender's states: `train` is the whole training split (the validation set is
// carved from it), `test` the test split. Errors from the sender pass through; INVALID_ARGUMENT
// when a dataset is empty or the two datasets have different label lists.
absl::StatusOr<LinearProbeResult> RunSenderLinearProbe(const SenderPipeline& sender, const TextDataset& train,
                                                       const TextDataset& test,
                                                       const LinearProbeOptions& options = {});

}  // namespace lip

#endif  // LIP_BRIDGE_EVAL_LINEAR_PROBE_H_
