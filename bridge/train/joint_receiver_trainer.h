// One encoder, many receivers (LatentWire's interlingua): trains ONE sender half (normalizer +
// Perceiver) jointly with the receiver halves (adapter, energy matching, priming) of bridges to
// several frozen receivers, on the same task and the same batches, so one packet of soft tokens
// can be fanned out to all of them and their answers rescored jointly (bridge/latent/
// joint_rescoring.h).
//
// One step (the batch comes from one ClassBalancedSampler, seeded by config.seed):
//   texts --(sender, no grad)--> states --(the shared SenderEncoder)--> Z       (encoded once)
//   for each receiver r: Z --(BridgeTrainer r's ReceiverTaskLoss)--> task_r (+ its scale penalty)
//   loss = sum_r (task_r + scale_r) + w_div * diversity(Z)
//   one AdamW (linear warm-up + cosine decay, gradient-norm clipping over every trained tensor)
//   updates the shared encoder and every adapter; the receiver models stay frozen.
// Early stopping on validation (config.early_stopping_patience) watches the mean of the
// receivers' validation accuracies and keeps the best weights of all the modules together.
//
// Each receiver is a BridgeTrainer (the same bridge.json, checks and evaluation as a single
// bridge) built with the shared encoder, so SaveBridges writes one ordinary bridge checkpoint per
// receiver whose sender half is the same tensors (byte-identical sender.safetensors).
//
// Ownership: shares the models and tokenizers, owns the receiver trainers, the shared encoder and
// the joint optimizer. Not thread-safe. No training checkpoints (a joint run starts from step 0).
#ifndef LIP_BRIDGE_TRAIN_JOINT_RECEIVER_TRAINER_H_
#define LIP_BRIDGE_TRAIN_JOINT_RECEIVER_TRAINER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "bridge/train/bridge_trainer.h"
#include "bridge/train/class_balanced_sampler.h"
#include "bridge/train/progress_bar.h"
#include "bridge/train/text_dataset.h"
#include "bridge/train/train_config.h"
#include "nlohmann/json.hpp"

namespace lip {

// One receiver of a joint training: its bridge's config (name, receiver model dir and name; every
// training field equal to the others') and the endpoints (the same sender model for all).
struct JointReceiver {
  TrainConfig config;
  BridgeEndpoints endpoints;
};

struct JointStepResult {
  int64_t step = 0;
  double loss = 0;                            // the joint loss
  double learning_rate = 0;
  std::vector<double> receiver_task_losses;   // per receiver: task_r
  std::vector<double> receiver_accuracies;    // per receiver: argmax over the labels, this batch
};

struct JointEvaluation {
  int64_t examples = 0;
  std::vector<double> receiver_accuracies;  // each receiver alone
  double joint_accuracy = 0;                // the jointly rescored answer (RescoreJointly)
  double receivers_agree = 0;               // fraction of examples where every receiver answers alike
  double any_receiver_right = 0;            // fraction where at least one receiver is right (rescoring's ceiling)
  int64_t disagreements = 0;                // examples where the receivers' answers differ
  double joint_accuracy_on_disagreements = 0;  // the joint answer's accuracy on those (0 when none)
};

class JointReceiverTrainer {
 public:
  // Builds the shared encoder (seeded by the first receiver's config.seed), one BridgeTrainer per
  // receiver around it, and the joint optimizer. INVALID_ARGUMENT for fewer than two receivers,
  // receivers whose sender models differ, configs that differ in anything but name and the
  // receiver model, or anything BridgeTrainer::Create rejects.
  static absl::StatusOr<std::unique_ptr<JointReceiverTrainer>> Create(std::vector<JointReceiver> receivers,
                                                                      TextDataset train, TextDataset validation);

  // One joint optimization step (fits the shared normalizer on the first call).
  absl::StatusOr<JointStepResult> Step();

  // Steps until `until_step` (<= config.steps), evaluating every receiver on validation every
  // eval_every steps and at the last step, stopping early on the mean validation accuracy and
  // restoring the best weights. `progress` may be null. Returns the last step's result.
  absl::StatusOr<JointStepResult> Train(int64_t until_step, ProgressBar* progress);

  // Each receiver's accuracy and the joint answer's accuracy on `dataset` (at most `limit`
  // examples when > 0), through the deployed pipelines.
  absl::StatusOr<JointEvaluation> Evaluate(const TextDataset& dataset, int64_t limit = 0);

  // Writes receiver r's bridge checkpoint to dirs[r] with evaluations[r] in its metadata.
  // INVALID_ARGUMENT when the counts differ from the receivers'.
  absl::Status SaveBridges(const std::vector<std::string>& dirs, const std::vector<nlohmann::json>& evaluations);

  // Every trained tensor once: the shared encoder's, then each receiver's adapter's.
  std::vector<torch::Tensor> TrainableParameters() const;

  int64_t receivers() const { return int64_t(trainers_.size()); }
  BridgeTrainer& receiver(int64_t r) { return *trainers_[r]; }
  const TrainConfig& config() const { return config_; }
  int64_t step() const { return step_; }
  // {"step", "accuracy" (the mean), "receiver_accuracies"} per validation, plus the early-stopping
  // restore entry (early_stopping.h).
  const nlohmann::json& validation_history() const { return validation_history_; }

 private:
  JointReceiverTrainer() = default;
  absl::Status FitNormalizer();

  TrainConfig config_;
  TextDataset train_, validation_;
  std::vector<std::unique_ptr<BridgeTrainer>> trainers_;
  std::unique_ptr<torch::optim::AdamW> optimizer_;
  std::unique_ptr<ClassBalancedSampler> sampler_;
  nlohmann::json validation_history_ = nlohmann::json::array();
  int64_t step_ = 0;
  bool normalizer_fitted_ = false;
};

}  // namespace lip

#endif  // LIP_BRIDGE_TRAIN_JOINT_RECEIVER_TRAINER_H_
