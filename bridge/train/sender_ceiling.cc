#include "bridge/train/sender_ceiling.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "bridge/latent/bridge_checkpoint.h"
#include "bridge/train/bridge_metadata_for_training.h"
#include "bridge/train/class_balanced_step.h"
#include "bridge/train/training_loop.h"
#include "common/wire/status_macros.h"

namespace lip {

absl::StatusOr<std::unique_ptr<SenderCeiling>> SenderCeiling::Create(const TrainConfig& config,
                                                                     std::shared_ptr<const DecoderModel> sender,
                                                                     std::shared_ptr<const Tokenizer> tokenizer,
                                                                     TextDataset train, TextDataset validation) {
  if (sender == nullptr || tokenizer == nullptr) {
    return absl::InvalidArgumentError("the sender ceiling needs the sender model and tokenizer");
  }
  if (train.label_names != config.label_names) {
    return absl::InvalidArgumentError("training data labels differ from the config's label_names");
  }
  auto ceiling = std::unique_ptr<SenderCeiling>(new SenderCeiling());
  ceiling->config_ = config;
  // The bridge's sender half, exactly as BridgeTrainer builds it.
  SenderHalf half;
  BridgeMetadata& m = half.metadata;
  m.name = config.name + "-sender-ceiling";
  m.kind = "perceiver";
  LIP_ASSIGN_OR_RETURN(m.sender, SenderHalfForTraining(config, *sender));
  torch::manual_seed(config.seed);
  ceiling->encoder_ = SenderEncoder(m.sender);
  ceiling->head_ = torch::nn::Linear(m.sender.perceiver.output_width,
                                     static_cast<int64_t>(config.label_names.size()));
  ceiling->head_->to(sender->device());
  half.encoder = ceiling->encoder_;
  LIP_ASSIGN_OR_RETURN(ceiling->pipeline_, SenderPipeline::Create(std::move(sender), std::move(tokenizer), half));

  std::vector<torch::Tensor> parameters = ceiling->encoder_->parameters();
  for (const torch::Tensor& p : ceiling->head_->parameters()) parameters.push_back(p);
  ceiling->optimizer_ = std::make_unique<torch::optim::AdamW>(
      parameters, torch::optim::AdamWOptions(config.learning_rate).weight_decay(config.weight_decay));
  std::vector<int32_t> labels;
  for (const LabelledText& e : train.examples) labels.push_back(e.label);
  LIP_ASSIGN_OR_RETURN(ClassBalancedSampler sampler,
                       ClassBalancedSampler::Create(labels, int32_t(config.label_names.size()), config.seed));
  ceiling->sampler_ = std::make_unique<ClassBalancedSampler>(std::move(sampler));
  ceiling->train_ = std::move(train);
  ceiling->validation_ = std::move(validation);
  return ceiling;
}

absl::Status SenderCeiling::FitNormalizer() {
  LIP_RETURN_IF_ERROR(FitSenderNormalizer(*pipeline_, encoder_, train_, config_.normalizer_texts));
  normalizer_fitted_ = true;
  return absl::OkStatus();
}

absl::StatusOr<torch::Tensor> SenderCeiling::Logits(const std::vector<std::string>& texts, bool train) {
  LIP_ASSIGN_OR_RETURN(SourceStates source, pipeline_->ReadSourceStates(texts));
  encoder_->train(train);
  head_->train(train);
  torch::Tensor z = encoder_->forward(source.states, source.mask);  // (B, M, d_z)
  return head_->forward(z.mean(1));
}

absl::StatusOr<StepResult> SenderCeiling::Step() {
  if (!normalizer_fitted_) LIP_RETURN_IF_ERROR(FitNormalizer());
  const ClassBalancedStep next = BeginClassBalancedStep(config_, step_, *sampler_, train_, *optimizer_);
  StepResult result;
  result.step = next.step;
  result.learning_rate = next.learning_rate;
  try {
    LIP_ASSIGN_OR_RETURN(torch::Tensor logits, Logits(next.batch.texts, /*train=*/true));
    torch::Tensor labels = torch::tensor(next.batch.labels, torch::kInt64).to(logits.device());
    torch::Tensor loss = torch::nn::functional::cross_entropy(logits, labels);
    optimizer_->zero_grad();
    loss.backward();
    if (config_.max_grad_norm > 0) {
      std::vector<torch::Tensor> parameters = encoder_->parameters();
      for (const torch::Tensor& p : head_->parameters()) parameters.push_back(p);
      torch::nn::utils::clip_grad_norm_(parameters, config_.max_grad_norm);
    }
    optimizer_->step();
    torch::NoGradGuard no_grad;
    result.accuracy = (logits.argmax(1) == labels).to(torch::kFloat64).mean().item<double>();
    result.loss = loss.item<double>();
    result.label_loss = result.loss;
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("sender-ceiling step ", result.step, " failed: ", e.what_without_backtrace()));
  }
  encoder_->eval();
  head_->eval();
  if (!std::isfinite(result.loss)) {
    return absl::InternalError(absl::StrCat("sender-ceiling step ", result.step, " produced a non-finite loss"));
  }
  step_ = result.step;
  return result;
}

std::vector<torch::Tensor> SenderCeiling::TrainableParameters() const {
  std::vector<torch::Tensor> parameters = encoder_->parameters();
  for (const torch::Tensor& p : head_->parameters()) parameters.push_back(p);
  return parameters;
}

absl::StatusOr<StepResult> SenderCeiling::Train(int64_t until_step, ProgressBar* progress) {
  return TrainUntilWithValidation(*this, config_, validation_, &validation_history_, until_step, progress);
}

absl::StatusOr<EvaluationResult> SenderCeiling::Evaluate(const TextDataset& dataset, int64_t limit,
                                                         int64_t batch_size) {
  if (!normalizer_fitted_) LIP_RETURN_IF_ERROR(FitNormalizer());
  EvaluationResult result;
  const int64_t count = limit > 0 ? std::min<int64_t>(limit, dataset.examples.size()) : dataset.examples.size();
  int64_t correct = 0;
  try {
    torch::NoGradGuard no_grad;
    for (int64_t begin = 0; begin < count; begin += batch_size) {
      const int64_t end = std::min(begin + batch_size, count);
      std::vector<std::string> texts;
      for (int64_t i = begin; i < end; ++i) texts.push_back(dataset.examples[i].text);
      LIP_ASSIGN_OR_RETURN(torch::Tensor logits, Logits(texts, /*train=*/false));
      torch::Tensor predicted = logits.argmax(1).to(torch::kCPU);
      for (int64_t i = begin; i < end; ++i) correct += predicted[i - begin].item<int64_t>() == dataset.examples[i].label;
    }
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("sender-ceiling evaluation failed: ", e.what_without_backtrace()));
  }
  result.examples = count;
  result.accuracy = count > 0 ? double(correct) / count : 0;
  return result;
}

}  // namespace lip
