#include "bridge/train/joint_receiver_trainer.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "absl/strings/str_cat.h"
#include "bridge/latent/joint_rescoring.h"
#include "bridge/train/class_balanced_step.h"
#include "bridge/train/losses.h"
#include "bridge/train/training_loop.h"
#include "common/wire/status_macros.h"

namespace lip {
namespace {

// A receiver's config with what may differ between the receivers of one joint training removed.
nlohmann::json SharedPart(const TrainConfig& config) {
  nlohmann::json j = TrainConfigToJson(config);
  for (const char* key : {"name", "receiver_model_dir", "receiver_model_name"}) j.erase(key);
  return j;
}

}  // namespace

absl::StatusOr<std::unique_ptr<JointReceiverTrainer>> JointReceiverTrainer::Create(
    std::vector<JointReceiver> receivers, TextDataset train, TextDataset validation) {
  if (receivers.size() < 2) {
    return absl::InvalidArgumentError(absl::StrCat("joint training needs at least two receivers, got ",
                                                   receivers.size()));
  }
  const JointReceiver& first = receivers[0];
  std::set<std::string> names;
  for (size_t r = 0; r < receivers.size(); ++r) {
    if (receivers[r].endpoints.sender_model != first.endpoints.sender_model) {
      return absl::InvalidArgumentError(absl::StrCat("receiver ", r, " is trained from another sender model"));
    }
    if (SharedPart(receivers[r].config) != SharedPart(first.config)) {
      return absl::InvalidArgumentError(absl::StrCat("receiver ", r, "'s config differs from receiver 0's in more "
                                                     "than name and receiver model"));
    }
    if (!names.insert(receivers[r].config.name).second) {
      return absl::InvalidArgumentError(absl::StrCat("two receivers' bridges are both named \"",
                                                     receivers[r].config.name, "\""));
    }
  }
  auto joint = std::unique_ptr<JointReceiverTrainer>(new JointReceiverTrainer());
  joint->config_ = first.config;
  // Receiver 0's bridge is built as a single bridge would be (seed, encoder, adapter); the others
  // train that same encoder.
  for (JointReceiver& receiver : receivers) {
    SenderEncoder shared = joint->trainers_.empty() ? SenderEncoder(nullptr)
                                                    : joint->trainers_[0]->trainable_bridge().encoder;
    LIP_ASSIGN_OR_RETURN(std::unique_ptr<BridgeTrainer> trainer,
                         BridgeTrainer::Create(receiver.config, std::move(receiver.endpoints), train, validation,
                                               shared));
    joint->trainers_.push_back(std::move(trainer));
  }
  joint->optimizer_ = std::make_unique<torch::optim::AdamW>(
      joint->TrainableParameters(),
      torch::optim::AdamWOptions(joint->config_.learning_rate).weight_decay(joint->config_.weight_decay));
  std::vector<int32_t> labels;
  for (const LabelledText& e : train.examples) labels.push_back(e.label);
  LIP_ASSIGN_OR_RETURN(ClassBalancedSampler sampler,
                       ClassBalancedSampler::Create(labels, int32_t(joint->config_.label_names.size()),
                                                    joint->config_.seed));
  joint->sampler_ = std::make_unique<ClassBalancedSampler>(std::move(sampler));
  joint->train_ = std::move(train);
  joint->validation_ = std::move(validation);
  return joint;
}

std::vector<torch::Tensor> JointReceiverTrainer::TrainableParameters() const {
  std::vector<torch::Tensor> parameters = trainers_[0]->trainable_bridge().encoder->parameters();
  for (const auto& trainer : trainers_) {
    for (const torch::Tensor& p : trainer->trainable_bridge().adapter->parameters()) parameters.push_back(p);
  }
  return parameters;
}

absl::Status JointReceiverTrainer::FitNormalizer() {
  LIP_RETURN_IF_ERROR(trainers_[0]->FitNormalizer());
  for (size_t r = 1; r < trainers_.size(); ++r) trainers_[r]->MarkNormalizerFitted();
  normalizer_fitted_ = true;
  return absl::OkStatus();
}

absl::StatusOr<JointStepResult> JointReceiverTrainer::Step() {
  if (!normalizer_fitted_) LIP_RETURN_IF_ERROR(FitNormalizer());
  const ClassBalancedStep next = BeginClassBalancedStep(config_, step_, *sampler_, train_, *optimizer_);
  const TextBatch& batch = next.batch;
  JointStepResult result;
  result.step = next.step;
  result.learning_rate = next.learning_rate;
  TrainableBridge& first = trainers_[0]->trainable_bridge();
  LIP_ASSIGN_OR_RETURN(SourceStates source, first.sender_pipeline->ReadSourceStates(batch.texts));
  try {
    std::vector<std::unique_ptr<TrainableBridge::TrainingScope>> training;
    for (auto& trainer : trainers_) {
      training.push_back(std::make_unique<TrainableBridge::TrainingScope>(trainer->trainable_bridge()));
    }
    torch::Tensor z = first.encoder->forward(source.states, source.mask);  // encoded once for every receiver
    torch::Tensor loss;
    const torch::Tensor gold = torch::tensor(batch.labels, torch::kInt64);
    for (auto& trainer : trainers_) {
      LIP_ASSIGN_OR_RETURN(ReceiverLossTerms terms, trainer->ReceiverTaskLoss(z, batch.labels));
      loss = loss.defined() ? loss + terms.Total() : terms.Total();
      torch::NoGradGuard no_grad;
      result.receiver_task_losses.push_back(terms.task.item<double>());
      result.receiver_accuracies.push_back(
          (terms.class_scores.argmax(1).cpu() == gold).to(torch::kFloat64).mean().item<double>());
    }
    if (config_.label_names.size() > 2 && config_.diversity_weight > 0) {
      loss = loss + config_.diversity_weight * DiversityLoss(z);
    }
    OptimizerUpdate(*optimizer_, TrainableParameters(), loss, config_.max_grad_norm);
    result.loss = loss.item<double>();
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("joint training step ", result.step, " failed: ",
                                            e.what_without_backtrace()));
  }
  if (!std::isfinite(result.loss)) {
    return absl::InternalError(absl::StrCat("joint training step ", result.step, " produced a non-finite loss"));
  }
  step_ = result.step;
  return result;
}

absl::StatusOr<JointStepResult> JointReceiverTrainer::Train(int64_t until_step, ProgressBar* progress) {
  JointStepResult last;
  last.step = step_;
  TrainingLoop loop;
  loop.steps_done = step_;
  loop.until_step = until_step;
  loop.final_step = until_step;
  loop.step = [&]() -> absl::StatusOr<LoopStep> {
    LIP_ASSIGN_OR_RETURN(last, Step());
    double mean_accuracy = 0;
    for (double a : last.receiver_accuracies) mean_accuracy += a / last.receiver_accuracies.size();
    return LoopStep{last.step, last.loss, mean_accuracy, last.learning_rate};
  };
  if (!validation_.examples.empty()) {
    // Early stopping watches the receivers' mean accuracy; each one's is kept in the history entry
    // (and on the restore entry, the kept weights').
    loop.validate = [this](int64_t) -> absl::StatusOr<LoopValidation> {
      std::vector<double> accuracies;
      double mean = 0;
      for (auto& trainer : trainers_) {
        LIP_ASSIGN_OR_RETURN(EvaluationResult eval, trainer->Evaluate(validation_));
        accuracies.push_back(eval.accuracy);
        mean += eval.accuracy / trainers_.size();
      }
      LoopValidation validation;
      validation.accuracy = mean;
      validation.examples = int64_t(validation_.examples.size());
      validation.details["receiver_accuracies"] = accuracies;
      return validation;
    };
  }
  loop.parameters = [this] { return TrainableParameters(); };
  loop.history = [this]() -> nlohmann::json& { return validation_history_; };
  LIP_RETURN_IF_ERROR(RunTrainingLoop(config_, progress, loop));
  return last;
}

absl::StatusOr<JointEvaluation> JointReceiverTrainer::Evaluate(const TextDataset& dataset, int64_t limit) {
  if (!normalizer_fitted_) LIP_RETURN_IF_ERROR(FitNormalizer());
  JointEvaluation result;
  std::vector<std::vector<std::vector<float>>> scores(trainers_.size());  // [receiver][example][label]
  for (size_t r = 0; r < trainers_.size(); ++r) {
    LIP_ASSIGN_OR_RETURN(EvaluationResult eval, trainers_[r]->Evaluate(dataset, limit, 32, &scores[r]));
    result.receiver_accuracies.push_back(eval.accuracy);
    result.examples = eval.examples;
  }
  int64_t correct = 0, agree = 0, any_right = 0, correct_on_disagreements = 0;
  for (int64_t i = 0; i < result.examples; ++i) {
    std::vector<std::vector<float>> per_receiver;
    for (const auto& receiver_scores : scores) per_receiver.push_back(receiver_scores[i]);
    LIP_ASSIGN_OR_RETURN(JointLabelScores joint, RescoreJointly(per_receiver));
    const int64_t gold = dataset.examples[i].label;
    const bool joint_right = joint.label_index == gold;
    correct += joint_right;
    std::set<int64_t> answers;
    bool someone_right = false;
    for (const std::vector<float>& row : per_receiver) {
      const int64_t answer = std::max_element(row.begin(), row.end()) - row.begin();
      answers.insert(answer);
      someone_right = someone_right || answer == gold;
    }
    any_right += someone_right;
    if (answers.size() == 1) {
      ++agree;
    } else {
      correct_on_disagreements += joint_right;
    }
  }
  const double n = result.examples > 0 ? double(result.examples) : 1.0;
  result.joint_accuracy = double(correct) / n;
  result.receivers_agree = double(agree) / n;
  result.any_receiver_right = double(any_right) / n;
  result.disagreements = result.examples - agree;
  result.joint_accuracy_on_disagreements =
      result.disagreements > 0 ? double(correct_on_disagreements) / double(result.disagreements) : 0;
  return result;
}

absl::Status JointReceiverTrainer::SaveBridges(const std::vector<std::string>& dirs,
                                               const std::vector<nlohmann::json>& evaluations) {
  if (dirs.size() != trainers_.size() || evaluations.size() != trainers_.size()) {
    return absl::InvalidArgumentError(absl::StrCat("saving ", trainers_.size(), " joint bridges needs as many "
                                                   "directories and evaluations, got ", dirs.size(), " and ",
                                                   evaluations.size()));
  }
  nlohmann::json bridge_names = nlohmann::json::array();
  std::string shared_name;  // "a+b": the sender half's file names every bridge it serves
  for (const auto& trainer : trainers_) {
    const std::string& name = trainer->trainable_bridge().metadata.name;
    bridge_names.push_back(name);
    shared_name += (shared_name.empty() ? "" : "+") + name;
  }
  for (size_t r = 0; r < trainers_.size(); ++r) {
    TrainableBridge& bridge = trainers_[r]->trainable_bridge();
    // This receiver's own line of the joint validation history, as a single bridge records it.
    nlohmann::json history = nlohmann::json::array();
    for (const nlohmann::json& entry : validation_history_) {
      if (!entry.contains("receiver_accuracies")) continue;
      nlohmann::json own = {{"step", entry["step"]}, {"accuracy", entry["receiver_accuracies"][r]}};
      if (entry.contains("restored_from_step")) own["restored_from_step"] = entry["restored_from_step"];
      history.push_back(own);
    }
    bridge.metadata.training["validation_history"] = history;
    bridge.sender_half_bridge = shared_name;
    bridge.metadata.training["joint_receivers"] = {{"bridges", bridge_names},
                                                   {"shared_sender_half", true},
                                                   {"validation_history", validation_history_}};
    LIP_RETURN_IF_ERROR(bridge.Save(dirs[r], step_, evaluations[r]));
  }
  return absl::OkStatus();
}

}  // namespace lip
