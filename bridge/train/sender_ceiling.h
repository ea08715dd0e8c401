// The sender ceiling: a reference with the bridge's own capacity that says how much of a task the
// sender's states hold, with no receiver in the way. The bridge's sender half — statistical
// normalizer, the same Perceiver resampler (config.perceiver: M queries, widths, depth) reading the
// same source layer of the same frozen sender — then a linear head over the mean of its M output
// vectors, trained on the labels directly with the bridge's data, class-balanced sampler, steps,
// AdamW, warm-up + cosine schedule, gradient clipping, seed and early stopping on validation
// (config.label_ce_weight and the other loss weights do not apply: the loss is the cross-entropy
// over the classes).
//
// A bridge at the ceiling hands over everything its sender side can carry; a bridge far below it
// loses information in the receiver half. (The receiver self-bridge — the same Perceiver reading
// the receiver's own states — is an ordinary bridge run with the receiver as its source:
// ReceiverSelfBridgeConfig in bridge/train/train_config.h.)
//
// Ownership: shares the sender model and tokenizer; owns the encoder, head and optimizer. Not
// thread-safe.
#ifndef LIP_BRIDGE_TRAIN_SENDER_CEILING_H_
#define LIP_BRIDGE_TRAIN_SENDER_CEILING_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "bridge/latent/sender_encoder.h"
#include "bridge/latent/sender_pipeline.h"
#include "bridge/model/decoder_model.h"
#include "bridge/tokenizer/tokenizer.h"
#include "bridge/train/bridge_trainer.h"
#include "bridge/train/class_balanced_sampler.h"
#include "bridge/train/progress_bar.h"
#include "bridge/train/text_dataset.h"
#include "bridge/train/train_config.h"
#include "nlohmann/json.hpp"

namespace lip {

class SenderCeiling {
 public:
  // INVALID_ARGUMENT when the data's labels differ from the config's, the source layer is beyond
  // the sender's depth, or a model or tokenizer is missing.
  static absl::StatusOr<std::unique_ptr<SenderCeiling>> Create(const TrainConfig& config,
                                                               std::shared_ptr<const DecoderModel> sender,
                                                               std::shared_ptr<const Tokenizer> tokenizer,
                                                               TextDataset train, TextDataset validation);

  // One optimization step (the normalizer is fitted on the first, as the bridge's is).
  absl::StatusOr<StepResult> Step();
  // Steps until `until_step`, evaluating on the validation set every eval_every steps and at the
  // end (recorded in validation_history()). `progress` may be null.
  absl::StatusOr<StepResult> Train(int64_t until_step, ProgressBar* progress);
  // Accuracy on `dataset` (at most `limit` examples when > 0).
  absl::StatusOr<EvaluationResult> Evaluate(const TextDataset& dataset, int64_t limit = 0,
                                            int64_t batch_size = 32);

  // The trained tensors (the Perceiver's, then the head's), shared with the modules.
  std::vector<torch::Tensor> TrainableParameters() const;
  const nlohmann::json& validation_history() const { return validation_history_; }
  int64_t step() const { return step_; }

 private:
  SenderCeiling() = default;
  absl::Status FitNormalizer();
  // Class logits (B, classes) for `texts`; training mode when `train`.
  absl::StatusOr<torch::Tensor> Logits(const std::vector<std::string>& texts, bool train);

  TrainConfig config_;
  TextDataset train_, validation_;
  SenderEncoder encoder_{nullptr};
  torch::nn::Linear head_{nullptr};
  std::unique_ptr<SenderPipeline> pipeline_;  // reads source states; shares encoder_
  std::unique_ptr<torch::optim::AdamW> optimizer_;
  std::unique_ptr<ClassBalancedSampler> sampler_;
  nlohmann::json validation_history_ = nlohmann::json::array();
  int64_t step_ = 0;
  bool normalizer_fitted_ = false;
};

}  // namespace lip

#endif  // LIP_BRIDGE_TRAIN_SENDER_CEILING_H_
