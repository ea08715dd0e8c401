// Trains a Perceiver bridge for generation: the sender reads the first part of a passage (its
// prefix), and the receiver, given [BOS, context prefix, soft tokens, anchor], is trained to
// continue it.
//
// One step (teacher forcing, both models frozen, gradients into the Perceiver and the adapter):
//   prefixes --(SenderPipeline::ReadSourceStates)--> states --(SenderEncoder)--> Z
//   Z --(ReceiverAdapter, EnergyMatcher, ContextPrimer)--> frame = [BOS, context, soft, anchor]
//   [frame, c_1 .. c_{K-1}] --(frozen receiver)--> logits predicting c_1 .. c_K
//   loss = mean over the batch and the K positions of -log p(c_k | frame, c_<k)
//          + scale_reg_weight * (s - 1)^2
// where c_1 .. c_K are the first K receiver tokens of each passage's continuation.
// AdamW with the shared warm-up + cosine schedule and gradient-norm clipping; batches are drawn
// from a seeded permutation of the passages, reshuffled every epoch.
//
// The saved bridge is an ordinary bridge checkpoint (task "continuation", no labels): the nodes
// load it like any other and answer Task.generate with it.
//
// Ownership: shares the frozen models and tokenizers; owns the bridge modules and optimizer.
// Not thread-safe. No resumable training checkpoints (unlike BridgeTrainer).
#ifndef LIP_BRIDGE_TRAIN_CONTINUATION_TRAINER_H_
#define LIP_BRIDGE_TRAIN_CONTINUATION_TRAINER_H_

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "bridge/latent/context_primer.h"
#include "bridge/latent/energy_matcher.h"
#include "bridge/latent/receiver_pipeline.h"
#include "bridge/latent/sender_pipeline.h"
#include "bridge/model/decoder_model.h"
#include "bridge/train/bridge_trainer.h"
#include "bridge/train/passage_corpus.h"
#include "bridge/train/progress_bar.h"
#include "bridge/train/train_config.h"
#include "bridge/train/trainable_bridge.h"

namespace lip {

inline constexpr char kContinuationTask[] = "continuation";

// A passage with its continuation cut to K receiver tokens.
struct ContinuationExample {
  std::string prefix;            // the sender's text
  std::string continuation;      // the passage's continuation text (all of it)
  std::vector<int64_t> targets;  // its first K receiver tokens
};

// Tokenizes each continuation with the receiver's tokenizer (no special tokens) and keeps its first
// `tokens` ids; passages whose continuation has fewer are dropped. INVALID_ARGUMENT when none is left.
absl::StatusOr<std::vector<ContinuationExample>> MakeContinuationExamples(const Tokenizer& receiver_tokenizer,
                                                                          const std::vector<Passage>& passages,
                                                                          int64_t tokens);

// Per-token negative log-likelihood (B, K), float32, of `targets` (B, K) int64 following `frame`
// (B, L, d) in `receiver`: one teacher-forced forward over [frame, targets[:, :K-1]]. `frame` is in
// the receiver's dtype and device; gradients flow into it. Throws c10::Error on bad shapes.
torch::Tensor ContinuationNll(const DecoderModel& receiver, const torch::Tensor& frame, const torch::Tensor& targets);

struct ContinuationStepResult {
  int64_t step = 0;
  double loss = 0;  // mean NLL per continuation token on this batch (the scale term excluded)
  double learning_rate = 0;
  double adapter_scale = 1;
};

class ContinuationTrainer {
 public:
  // `config` supplies the models' names, the priming, the bridge shape and the optimizer (its
  // label fields are unused; config.task is set to "continuation"). `continuation_tokens` is K;
  // `passages` (how the passages were cut) is recorded in bridge.json's training section, with K.
  // INVALID_ARGUMENT for empty data, K < 1 or a shape that does not fit the models.
  static absl::StatusOr<std::unique_ptr<ContinuationTrainer>> Create(const TrainConfig& config,
                                                                     BridgeEndpoints endpoints,
                                                                     std::vector<ContinuationExample> train,
                                                                     int64_t continuation_tokens,
                                                                     const PassageOptions& passages = {});

  // Fits the statistical normalizer on up to config.normalizer_texts training prefixes (the first
  // Step does it when not yet done).
  absl::Status FitNormalizer();

  absl::StatusOr<ContinuationStepResult> Step();
  // Mean NLL per continuation token of examples[indices] under the current bridge, no update.
  absl::StatusOr<double> Loss(const std::vector<int64_t>& indices);
  // Steps until `until_step` (<= config.steps). `progress` may be null.
  absl::StatusOr<ContinuationStepResult> Train(int64_t until_step, ProgressBar* progress);

  // Writes the bridge (bridge.json + both halves) with `evaluation` in its metadata.
  absl::Status SaveBridge(const std::string& dir, const nlohmann::json& evaluation);

  BridgeMetadata metadata() const;
  int64_t step() const { return step_; }
  const TrainConfig& config() const { return config_; }
  const SenderPipeline& sender_pipeline() const { return *bridge_.sender_pipeline; }
  const ReceiverPipeline& receiver_pipeline() const { return *bridge_.receiver_pipeline; }

 private:
  ContinuationTrainer() = default;
  std::vector<int64_t> NextBatch();
  // Frames [BOS, context, soft, anchor] of examples[indices] and their targets (B, K).
  absl::StatusOr<torch::Tensor> BatchNll(const std::vector<int64_t>& indices);

  TrainConfig config_;
  BridgeEndpoints endpoints_;
  std::vector<ContinuationExample> train_;
  int64_t continuation_tokens_ = 0;
  TrainableBridge bridge_;
  std::mt19937_64 rng_;
  std::vector<int64_t> order_;
  size_t position_ = 0;
  int64_t step_ = 0;
  bool normalizer_fitted_ = false;
};

}  // namespace lip

#endif  // LIP_BRIDGE_TRAIN_CONTINUATION_TRAINER_H_
