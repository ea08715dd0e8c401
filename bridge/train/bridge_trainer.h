// Trains the Perceiver bridge between a frozen sender and a frozen receiver on a classification
// task, and saves/restores everything needed to resume exactly.
//
// One step:
//   texts --(sender, no grad, to the source layer)--> states --(SenderEncoder)--> Z
//   Z --(ReceiverAdapter, EnergyMatcher, ContextPrimer)--> [BOS, prefix, soft, anchor]
//     --(frozen receiver, gradients flow through it)--> logits of the answer's first token
//   loss = w_ft * CE_vocab(first token) + w_label * CE_labels + w_div * diversity (> 2 classes)
//          + w_scale * (s - 1)^2
// When two verbalizers begin with the same receiver token (labels of several words, e.g.
// " very good" / " very bad"), the first token cannot tell the classes apart: the step scores each
// label's whole verbalizer instead (ScoreLabels: the sum of its tokens' log-probabilities, as the
// receiver answers at serving time), CE_labels is taken over those scores and the first-token term
// becomes the whole gold verbalizer's negative log-likelihood.
//   AdamW with linear warm-up + cosine decay, gradient-norm clipping.
// Batches come from a ClassBalancedSampler (reshuffled every epoch).
//
// Training checkpoint (a directory): bridge/ (a bridge checkpoint, docs/checkpoint.md),
// trainer_state.json (step, sampler state, config, last losses), optimizer.pt (AdamW moments),
// rng.pt (LibTorch's CPU generator state). A run resumed from step N/2 reaches bit-identical
// weights and loss at step N on CPU with one thread.
//
// Ownership: the trainer shares the models and tokenizers (shared_ptr) and owns the bridge
// modules and optimizer. Not thread-safe.
#ifndef LIP_BRIDGE_TRAIN_BRIDGE_TRAINER_H_
#define LIP_BRIDGE_TRAIN_BRIDGE_TRAINER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "bridge/latent/bridge_config.h"
#include "bridge/latent/context_primer.h"
#include "bridge/latent/energy_matcher.h"
#include "bridge/latent/receiver_adapter.h"
#include "bridge/latent/receiver_pipeline.h"
#include "bridge/latent/sender_encoder.h"
#include "bridge/latent/sender_pipeline.h"
#include "bridge/model/decoder_model.h"
#include "bridge/tokenizer/tokenizer.h"
#include "bridge/train/bridge_metadata_for_training.h"
#include "bridge/train/class_balanced_sampler.h"
#include "bridge/train/progress_bar.h"
#include "bridge/train/text_dataset.h"
#include "bridge/train/train_config.h"
#include "bridge/train/trainable_bridge.h"

namespace lip {

struct StepResult {
  int64_t step = 0;           // the step just completed (1-based)
  double loss = 0;            // total loss
  double first_token_loss = 0;
  double label_loss = 0;
  double diversity_loss = 0;
  double accuracy = 0;        // argmax over the labels' first tokens, on this batch
  double learning_rate = 0;
  double adapter_scale = 1;
};

struct EvaluationResult {
  int64_t examples = 0;
  double accuracy = 0;  // full label scoring through the two pipelines
};

// The receiver side of one step's loss for soft tokens z (B, M, d_z), with gradients into z and
// the adapter: task = w_ft * first-token (or gold-verbalizer) NLL + w_label * CE_labels, and the
// adapter's scale penalty w_scale * (s - 1)^2. The diversity term belongs to z alone and is not
// included.
struct ReceiverLossTerms {
  torch::Tensor task;           // scalar, the weighted task terms above
  torch::Tensor scale_penalty;  // scalar; undefined when w_scale is 0
  torch::Tensor first_token;   // scalar
  torch::Tensor label_loss;    // scalar
  torch::Tensor class_scores;  // (B, classes): the receiver's score of each label

  // task + scale_penalty.
  torch::Tensor Total() const { return scale_penalty.defined() ? task + scale_penalty : task; }
};

// Fits `encoder`'s statistical normalizer on the source states, read by `pipeline` (whose sender
// half is `encoder`), of the first `count` texts of `data` (at most all of them).
absl::Status FitSenderNormalizer(const SenderPipeline& pipeline, SenderEncoder& encoder, const TextDataset& data,
                                 int64_t count);

class BridgeTrainer {
 public:
  // Builds the bridge modules (random init from config.seed), the optimizer and the sampler.
  // With `shared_encoder`, the bridge's sender half is that module (TrainableBridge::Create), shared
  // with the other receivers of a JointReceiverTrainer.
  // INVALID_ARGUMENT for a config that does not fit the models (e.g. labels whose verbalizers
  // share their first receiver token, a source layer beyond the sender's depth).
  static absl::StatusOr<std::unique_ptr<BridgeTrainer>> Create(const TrainConfig& config,
                                                               BridgeEndpoints endpoints,
                                                               TextDataset train, TextDataset validation,
                                                               SenderEncoder shared_encoder = SenderEncoder(nullptr));

  // Fits the statistical normalizer on up to config.normalizer_texts training texts. Train()
  // calls it at step 0; a restored trainer keeps the fitted statistics.
  absl::Status FitNormalizer();

  // Records that the bridge's sender half, shared with another trainer that fitted it
  // (JointReceiverTrainer), already holds its normalizer statistics.
  void MarkNormalizerFitted() { normalizer_fitted_ = true; }

  // One optimization step.
  absl::StatusOr<StepResult> Step();

  // The receiver side of a step's loss for soft tokens `z` (B, M, d_z) of texts whose classes are
  // `labels`: adapter, energy matching, priming, the frozen receiver and the label losses, with
  // gradients into z and the adapter (the modules' training mode is the caller's). INVALID_ARGUMENT
  // when the priming rejects z; throws c10::Error as LibTorch does.
  absl::StatusOr<ReceiverLossTerms> ReceiverTaskLoss(const torch::Tensor& z, const std::vector<int64_t>& labels);

  // Runs steps until `until_step` (<= config.steps), evaluating every eval_every steps and saving a
  // training checkpoint to `checkpoint_dir` every checkpoint_every steps (when non-empty).
  // Stops early on validation (config.early_stopping_patience) and, when it stops or reaches
  // config.steps, keeps the weights of the best validation accuracy (bridge/train/early_stopping.h;
  // early stopping counts only evaluations of this call). `progress` may be null. Returns the last
  // step's result.
  absl::StatusOr<StepResult> Train(int64_t until_step, ProgressBar* progress,
                                   const std::string& checkpoint_dir);

  // Accuracy on `dataset` (at most `limit` examples when > 0) by label scoring through
  // SenderPipeline::Encode and ReceiverPipeline::Answer, exactly as deployed. With
  // `label_log_probs`, each example's label log-probabilities (label order) are appended to it.
  absl::StatusOr<EvaluationResult> Evaluate(const TextDataset& dataset, int64_t limit = 0,
                                            int64_t batch_size = 32,
                                            std::vector<std::vector<float>>* label_log_probs = nullptr);

  absl::Status SaveTrainingCheckpoint(const std::string& dir);
  // Restores a checkpoint written by SaveTrainingCheckpoint with the same config and models.
  // FAILED_PRECONDITION when the checkpoint's config or model digests differ.
  absl::Status RestoreTrainingCheckpoint(const std::string& dir);

  // Writes the trained bridge (bridge.json + both halves), with `evaluation` in its metadata.
  absl::Status SaveBridge(const std::string& dir, const nlohmann::json& evaluation);

  // The trained tensors (the Perceiver's, then the adapter's), shared with the modules.
  std::vector<torch::Tensor> TrainableParameters() const;
  // The bridge's modules and pipelines (a JointReceiverTrainer steps several through one encoder).
  TrainableBridge& trainable_bridge() { return bridge_; }

  // The bridge as it would be saved now (digests empty until saved).
  BridgeMetadata metadata() const;
  int64_t step() const { return step_; }
  const TrainConfig& config() const { return config_; }
  const TextDataset& validation() const { return validation_; }
  const SenderPipeline& sender_pipeline() const { return *bridge_.sender_pipeline; }
  const ReceiverPipeline& receiver_pipeline() const { return *bridge_.receiver_pipeline; }
  // Whether steps score whole verbalizers (some share their first receiver token).
  bool scores_whole_verbalizers() const { return whole_verbalizer_; }

 private:
  BridgeTrainer() = default;

  TrainConfig config_;
  BridgeEndpoints endpoints_;
  TextDataset train_, validation_;
  TrainableBridge bridge_;
  std::vector<int64_t> answer_first_tokens_;            // per class: first receiver token of its verbalizer
  std::vector<std::vector<int64_t>> verbalizer_tokens_; // per class: all receiver tokens of its verbalizer
  bool whole_verbalizer_ = false;                       // first tokens collide: score whole verbalizers
  std::unique_ptr<ClassBalancedSampler> sampler_;
  int64_t step_ = 0;
  bool normalizer_fitted_ = false;
};

}  // namespace lip

#endif  // LIP_BRIDGE_TRAIN_BRIDGE_TRAINER_H_
