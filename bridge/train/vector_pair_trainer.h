// Trains the single-vector bridge kinds on paired vectors of the same texts (text_vector.h):
//
//   bottleneck:       adapter(sender_vector) ~ receiver_vector, loss MSE + lambda (1 - cos)
//   dual translator:  A -> B and B -> A together, translation + 0.5 cycle + 0.3 InfoNCE
//                     + 0.2 distribution (dual_translator.h)
//
// Both use AdamW on shuffled mini-batches (a fresh permutation per epoch) from a CPU generator
// seeded with `seed`, so a run on the CPU is deterministic. The frozen models are not involved:
// the pairs are computed once beforehand.
//
// Thread-safety: single-threaded; the module being trained must not be used concurrently.
#ifndef LIP_BRIDGE_TRAIN_VECTOR_PAIR_TRAINER_H_
#define LIP_BRIDGE_TRAIN_VECTOR_PAIR_TRAINER_H_

#include <cstdint>
#include <functional>
#include <vector>

#include "absl/status/statusor.h"
#include "bridge/vector_bridge/bottleneck_adapter.h"
#include "bridge/vector_bridge/dual_translator.h"
#include "bridge/torch_compat.h"

namespace lip {

struct VectorPairTrainingOptions {
  int64_t steps = 300;          // optimizer steps
  int64_t batch_size = 32;      // pairs per step (clamped to the number of pairs)
  double learning_rate = 1e-3;  // AdamW
  double weight_decay = 0.01;   // AdamW
  double max_grad_norm = 1.0;   // gradient clipping; 0 disables
  uint64_t seed = 0;            // module initialization is the caller's; this seeds the batches
  double hybrid_lambda = 2.0;   // bottleneck: weight of (1 - cos)
  DualLossWeights dual;         // dual translator: loss weights
  // Called every `report_every` steps (0 = never) with the step (1-based) and the batch loss.
  int64_t report_every = 0;
  std::function<void(int64_t step, double loss)> on_report;
};

struct VectorPairTrainingReport {
  double initial_loss = 0;  // loss over all pairs before the first step
  double final_loss = 0;    // loss over all pairs after the last step
  std::vector<double> step_losses;  // batch loss of every step
};

// sender_vectors [N, d_s], receiver_vectors [N, d_r] (same N >= 1, widths equal to the adapter's).
// Leaves the adapter in eval mode. INVALID_ARGUMENT for mismatched shapes or bad options (naming
// them); INTERNAL when LibTorch fails (including a non-finite loss).
absl::StatusOr<VectorPairTrainingReport> TrainBottleneckAdapter(BottleneckAdapter& adapter,
                                                                const torch::Tensor& sender_vectors,
                                                                const torch::Tensor& receiver_vectors,
                                                                const VectorPairTrainingOptions& options);

// a [N, width_a], b [N, width_b] (N >= 2: InfoNCE needs negatives). Reports the total loss.
// Errors as TrainBottleneckAdapter.
absl::StatusOr<VectorPairTrainingReport> TrainDualTranslator(DualTranslator& translator, const torch::Tensor& a,
                                                             const torch::Tensor& b,
                                                             const VectorPairTrainingOptions& options);

}  // namespace lip

#endif  // LIP_BRIDGE_TRAIN_VECTOR_PAIR_TRAINER_H_
