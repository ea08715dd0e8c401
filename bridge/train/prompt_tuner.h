// Receiver-only prompt tuning: the reference the bridge is measured against. The receiver reads
// the text itself, behind M learned soft tokens in its embedding space, in the bridge's priming
// frame:
//
//   [BOS, context-prefix tokens, P (M learned vectors), text tokens, anchor tokens]
//
// (left-padded per batch; the text truncated to config.max_text_tokens, as the sender's input
// is). Only P is trained, with the bridge's losses (first-token CE over the vocabulary + CE over
// the labels' first tokens), sampler, AdamW, warm-up and cosine schedule, clipping and early
// stopping on validation (bridge/train/training_loop.h); M is
// config.perceiver.num_queries. P starts as M embedding rows of the receiver's vocabulary drawn
// with config.seed. The receiver stays frozen; gradients flow through it into P.
//
// Classification scores each label by its verbalizer's first receiver token (the verbalizers of
// the shipped configs are single tokens, so this equals full label scoring there).
//
// Ownership: shares the model and tokenizer; owns P and the optimizer. Not thread-safe.
#ifndef LIP_BRIDGE_TRAIN_PROMPT_TUNER_H_
#define LIP_BRIDGE_TRAIN_PROMPT_TUNER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "bridge/latent/context_primer.h"
#include "bridge/model/decoder_model.h"
#include "bridge/tokenizer/tokenizer.h"
#include "bridge/train/bridge_trainer.h"
#include "bridge/train/class_balanced_sampler.h"
#include "bridge/train/progress_bar.h"
#include "bridge/train/text_dataset.h"
#include "bridge/train/train_config.h"
#include "nlohmann/json.hpp"

namespace lip {

class PromptTuner {
 public:
  // INVALID_ARGUMENT when labels differ from the config's or two verbalizers share their first
  // receiver token.
  static absl::StatusOr<std::unique_ptr<PromptTuner>> Create(const TrainConfig& config,
                                                             std::shared_ptr<const DecoderModel> receiver,
                                                             std::shared_ptr<const Tokenizer> tokenizer,
                                                             TextDataset train, TextDataset validation);

  absl::StatusOr<StepResult> Step();
  // Steps until `until_step`, evaluating on the validation set every eval_every steps and at the
  // end (recorded in validation_history()). `progress` may be null.
  absl::StatusOr<StepResult> Train(int64_t until_step, ProgressBar* progress);
  // Accuracy on `dataset` (at most `limit` examples when > 0).
  absl::StatusOr<EvaluationResult> Evaluate(const TextDataset& dataset, int64_t limit = 0,
                                            int64_t batch_size = 32) const;

  // The trained tensors: {prompt()}.
  std::vector<torch::Tensor> TrainableParameters() const { return {prompt_}; }
  // The learned prompt (M, receiver width), fp32.
  const torch::Tensor& prompt() const { return prompt_; }
  const nlohmann::json& validation_history() const { return validation_history_; }
  int64_t step() const { return step_; }

 private:
  PromptTuner() = default;
  // Next-token logits (B, V) at the last position of each framed text.
  absl::StatusOr<torch::Tensor> Logits(const std::vector<std::string>& texts) const;

  TrainConfig config_;
  std::shared_ptr<const DecoderModel> receiver_;
  std::shared_ptr<const Tokenizer> tokenizer_;
  TextDataset train_, validation_;
  PrimingTokens priming_;
  std::vector<int64_t> answer_first_tokens_;
  torch::Tensor prompt_;
  std::unique_ptr<torch::optim::AdamW> optimizer_;
  std::unique_ptr<ClassBalancedSampler> sampler_;
  nlohmann::json validation_history_ = nlohmann::json::array();
  int64_t step_ = 0;
};

}  // namespace lip

#endif  // LIP_BRIDGE_TRAIN_PROMPT_TUNER_H_
