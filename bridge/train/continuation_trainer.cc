#include "bridge/train/continuation_trainer.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "bridge/latent/bridge_checkpoint.h"
#include "bridge/train/learning_rate_schedule.h"
#include "bridge/train/training_loop.h"
#include "common/wire/status_macros.h"

namespace lip {

absl::StatusOr<std::vector<ContinuationExample>> MakeContinuationExamples(const Tokenizer& receiver_tokenizer,
                                                                          const std::vector<Passage>& passages,
                                                                          int64_t tokens) {
  if (tokens < 1) return absl::InvalidArgumentError(absl::StrCat("continuation tokens must be >= 1, got ", tokens));
  std::vector<ContinuationExample> examples;
  for (const Passage& passage : passages) {
    LIP_ASSIGN_OR_RETURN(std::vector<int32_t> ids,
                         receiver_tokenizer.Encode(passage.continuation, /*add_special_tokens=*/false));
    if (int64_t(ids.size()) < tokens) continue;
    examples.push_back({passage.prefix, passage.continuation, std::vector<int64_t>(ids.begin(), ids.begin() + tokens)});
  }
  if (examples.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("no passage has a continuation of ", tokens, " receiver tokens"));
  }
  return examples;
}

torch::Tensor ContinuationNll(const DecoderModel& receiver, const torch::Tensor& frame, const torch::Tensor& targets) {
  const int64_t batch = targets.size(0), k = targets.size(1), length = frame.size(1);
  TORCH_CHECK(frame.dim() == 3 && frame.size(0) == batch && length >= 1, "frame must be (B, L >= 1, d)");
  torch::Tensor ids = targets.to(frame.device());
  torch::Tensor inputs = frame;
  if (k > 1) {
    torch::Tensor embedded = receiver.embedding_weight()
                                 .index_select(0, ids.slice(1, 0, k - 1).reshape({-1}))
                                 .reshape({batch, k - 1, -1})
                                 .to(frame.dtype());
    inputs = torch::cat({frame, embedded}, 1);
  }
  ForwardInput input;
  input.inputs_embeds = inputs;
  torch::Tensor logits = receiver.Forward(input).logits.slice(1, length - 1, length - 1 + k);  // (B, K, V)
  torch::Tensor log_probs = torch::log_softmax(logits.to(torch::kFloat32), -1);
  return -log_probs.gather(2, ids.unsqueeze(2)).squeeze(2);
}

absl::StatusOr<std::unique_ptr<ContinuationTrainer>> ContinuationTrainer::Create(
    const TrainConfig& config, BridgeEndpoints endpoints, std::vector<ContinuationExample> train,
    int64_t continuation_tokens, const PassageOptions& passages) {
  if (!endpoints.sender_model || !endpoints.receiver_model || !endpoints.sender_tokenizer ||
      !endpoints.receiver_tokenizer) {
    return absl::InvalidArgumentError("trainer needs both models and both tokenizers");
  }
  if (train.empty()) return absl::InvalidArgumentError("no training passages");
  if (continuation_tokens < 1) return absl::InvalidArgumentError("continuation tokens must be >= 1");
  for (const ContinuationExample& e : train) {
    if (int64_t(e.targets.size()) != continuation_tokens) {
      return absl::InvalidArgumentError("every training example needs exactly K continuation tokens");
    }
  }
  auto trainer = std::unique_ptr<ContinuationTrainer>(new ContinuationTrainer());
  trainer->config_ = config;
  trainer->config_.task = kContinuationTask;
  trainer->continuation_tokens_ = continuation_tokens;
  // The bridge's metadata as BridgeTrainer builds it, without labels.
  LIP_ASSIGN_OR_RETURN(BridgeMetadata m, BridgeMetadataForTraining(trainer->config_, endpoints));
  m.training["continuation_tokens"] = continuation_tokens;
  m.training["prefix_words"] = passages.prefix_words;
  m.training["min_continuation_words"] = passages.min_continuation_words;
  m.training["train_passages"] = int64_t(train.size());

  LIP_ASSIGN_OR_RETURN(trainer->bridge_, TrainableBridge::Create(trainer->config_, endpoints, std::move(m)));
  if (!trainer->bridge_.priming.bos && trainer->bridge_.priming.prefix.empty()) {
    return absl::InvalidArgumentError(
        "a receiver without BOS needs a non-empty context prefix (the frame of the no-prefix reference)");
  }
  trainer->rng_.seed(config.seed);
  trainer->endpoints_ = std::move(endpoints);
  trainer->train_ = std::move(train);
  return trainer;
}

absl::Status ContinuationTrainer::FitNormalizer() {
  TextDataset prefixes;
  prefixes.label_names = {"passage"};
  for (const ContinuationExample& e : train_) prefixes.examples.push_back({e.prefix, 0});
  LIP_RETURN_IF_ERROR(FitSenderNormalizer(*bridge_.sender_pipeline, bridge_.encoder, prefixes, config_.normalizer_texts));
  normalizer_fitted_ = true;
  return absl::OkStatus();
}

std::vector<int64_t> ContinuationTrainer::NextBatch() {
  std::vector<int64_t> batch;
  while (int64_t(batch.size()) < config_.batch_size) {
    if (position_ >= order_.size()) {
      order_.resize(train_.size());
      for (size_t i = 0; i < order_.size(); ++i) order_[i] = int64_t(i);
      std::shuffle(order_.begin(), order_.end(), rng_);
      position_ = 0;
    }
    batch.push_back(order_[position_++]);
  }
  return batch;
}

absl::StatusOr<torch::Tensor> ContinuationTrainer::BatchNll(const std::vector<int64_t>& indices) {
  std::vector<std::string> prefixes;
  std::vector<int64_t> targets;
  for (int64_t i : indices) {
    prefixes.push_back(train_.at(i).prefix);
    targets.insert(targets.end(), train_[i].targets.begin(), train_[i].targets.end());
  }
  LIP_ASSIGN_OR_RETURN(SourceStates source, bridge_.sender_pipeline->ReadSourceStates(prefixes));
  const DecoderModel& receiver = *endpoints_.receiver_model;
  torch::Tensor z = bridge_.encoder->forward(source.states, source.mask);
  torch::Tensor soft = bridge_.energy_matcher->Match(bridge_.adapter->forward(z)).to(receiver.dtype());
  LIP_ASSIGN_OR_RETURN(PrimedSequence primed, bridge_.primer->Prime(soft, receiver.embedding_weight()));
  torch::Tensor target_tensor =
      torch::tensor(targets, torch::kInt64).reshape({int64_t(indices.size()), continuation_tokens_});
  return ContinuationNll(receiver, primed.inputs_embeds, target_tensor);
}

absl::StatusOr<ContinuationStepResult> ContinuationTrainer::Step() {
  if (!normalizer_fitted_) LIP_RETURN_IF_ERROR(FitNormalizer());
  const std::vector<int64_t> batch = NextBatch();
  ContinuationStepResult result;
  result.step = step_ + 1;
  result.learning_rate = ApplyLearningRateSchedule(config_, result.step, *bridge_.optimizer);
  try {
    TrainableBridge::TrainingScope training(bridge_);
    LIP_ASSIGN_OR_RETURN(torch::Tensor nll, BatchNll(batch));
    torch::Tensor nll_mean = nll.mean();
    torch::Tensor loss = nll_mean;
    if (config_.scale_reg_weight > 0) loss = loss + config_.scale_reg_weight * bridge_.adapter->ScaleRegularizer();
    bridge_.Update(loss, config_.max_grad_norm);
    result.loss = nll_mean.item<double>();
    result.adapter_scale = bridge_.adapter->scale_value();
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("training step ", result.step, " failed: ", e.what_without_backtrace()));
  }
  if (!std::isfinite(result.loss)) {
    return absl::InternalError(absl::StrCat("training step ", result.step, " produced a non-finite loss"));
  }
  step_ = result.step;
  return result;
}

absl::StatusOr<double> ContinuationTrainer::Loss(const std::vector<int64_t>& indices) {
  if (!normalizer_fitted_) LIP_RETURN_IF_ERROR(FitNormalizer());
  for (int64_t i : indices) {
    if (i < 0 || i >= int64_t(train_.size())) return absl::OutOfRangeError(absl::StrCat("no training example ", i));
  }
  torch::NoGradGuard no_grad;
  bridge_.encoder->eval();
  bridge_.adapter->eval();
  try {
    LIP_ASSIGN_OR_RETURN(torch::Tensor nll, BatchNll(indices));
    return nll.mean().item<double>();
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("continuation loss failed: ", e.what_without_backtrace()));
  }
}

absl::StatusOr<ContinuationStepResult> ContinuationTrainer::Train(int64_t until_step, ProgressBar* progress) {
  ContinuationStepResult last;
  last.step = step_;
  TrainingLoop loop;  // no validation: nothing recorded, no early stopping
  loop.steps_done = step_;
  loop.until_step = until_step;
  loop.final_step = config_.steps;
  loop.step = [&]() -> absl::StatusOr<LoopStep> {
    LIP_ASSIGN_OR_RETURN(last, Step());
    return LoopStep{last.step, last.loss, /*accuracy=*/0, last.learning_rate};
  };
  LIP_RETURN_IF_ERROR(RunTrainingLoop(config_, progress, loop));
  return last;
}

BridgeMetadata ContinuationTrainer::metadata() const { return bridge_.MetadataAfter(step_); }

absl::Status ContinuationTrainer::SaveBridge(const std::string& dir, const nlohmann::json& evaluation) {
  return bridge_.Save(dir, step_, evaluation);
}

}  // namespace lip
