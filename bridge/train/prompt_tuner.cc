#include "bridge/train/prompt_tuner.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/wire/status_macros.h"
#include "bridge/train/class_balanced_step.h"
#include "bridge/train/losses.h"
#include "bridge/train/training_loop.h"

namespace lip {

absl::StatusOr<std::unique_ptr<PromptTuner>> PromptTuner::Create(const TrainConfig& config,
                                                                 std::shared_ptr<const DecoderModel> receiver,
                                                                 std::shared_ptr<const Tokenizer> tokenizer,
                                                                 TextDataset train, TextDataset validation) {
  if (!receiver || !tokenizer) return absl::InvalidArgumentError("prompt tuning needs the receiver and its tokenizer");
  if (train.label_names != config.label_names) {
    return absl::InvalidArgumentError("training data labels differ from the config's label_names");
  }
  if (config.perceiver.num_queries <= 0) return absl::InvalidArgumentError("prompt tuning needs M > 0");
  auto tuner = std::unique_ptr<PromptTuner>(new PromptTuner());
  tuner->config_ = config;
  LIP_ASSIGN_OR_RETURN(tuner->priming_, TokenizePriming(*tokenizer, config.priming));
  std::set<int64_t> seen;
  for (const std::string& verbalizer : Verbalizers(config)) {
    LIP_ASSIGN_OR_RETURN(std::vector<int32_t> ids, tokenizer->Encode(verbalizer, /*add_special_tokens=*/false));
    if (ids.empty()) return absl::InvalidArgumentError(absl::StrCat("verbalizer \"", verbalizer, "\" has no tokens"));
    if (!seen.insert(ids[0]).second) {
      return absl::InvalidArgumentError(absl::StrCat("verbalizer \"", verbalizer,
                                                     "\" shares its first receiver token with another label"));
    }
    tuner->answer_first_tokens_.push_back(ids[0]);
  }
  torch::manual_seed(config.seed);
  {
    torch::NoGradGuard no_grad;
    torch::Tensor embedding = receiver->embedding_weight();
    torch::Tensor rows = torch::randint(embedding.size(0), {config.perceiver.num_queries}, torch::kInt64);
    tuner->prompt_ = embedding.index_select(0, rows.to(embedding.device())).to(torch::kFloat32).clone();
  }
  tuner->prompt_.set_requires_grad(true);
  tuner->optimizer_ = std::make_unique<torch::optim::AdamW>(
      std::vector<torch::Tensor>{tuner->prompt_},
      torch::optim::AdamWOptions(config.learning_rate).weight_decay(config.weight_decay));
  std::vector<int32_t> labels;
  for (const LabelledText& e : train.examples) labels.push_back(e.label);
  LIP_ASSIGN_OR_RETURN(ClassBalancedSampler sampler,
                       ClassBalancedSampler::Create(labels, int32_t(config.label_names.size()), config.seed));
  tuner->sampler_ = std::make_unique<ClassBalancedSampler>(std::move(sampler));
  tuner->receiver_ = std::move(receiver);
  tuner->tokenizer_ = std::move(tokenizer);
  tuner->train_ = std::move(train);
  tuner->validation_ = std::move(validation);
  return tuner;
}

absl::StatusOr<torch::Tensor> PromptTuner::Logits(const std::vector<std::string>& texts) const {
  const DecoderModel& model = *receiver_;
  std::vector<int64_t> head;
  if (priming_.bos) head.push_back(*priming_.bos);
  head.insert(head.end(), priming_.prefix.begin(), priming_.prefix.end());
  const std::vector<int64_t> anchor(priming_.anchor.begin(), priming_.anchor.end());
  auto embed = [&](const std::vector<int64_t>& ids) {
    return model.EmbedTokens(torch::tensor(ids, torch::kInt64).to(model.device()).unsqueeze(0)).squeeze(0);
  };
  const int64_t m = prompt_.size(0);
  const int64_t width = prompt_.size(1);
  std::vector<std::vector<int64_t>> text_ids;
  int64_t longest = 0;
  for (const std::string& text : texts) {
    LIP_ASSIGN_OR_RETURN(std::vector<int32_t> ids, tokenizer_->Encode(text, /*add_special_tokens=*/false));
    if (int64_t(ids.size()) > config_.max_text_tokens) ids.resize(config_.max_text_tokens);
    text_ids.emplace_back(ids.begin(), ids.end());
    longest = std::max<int64_t>(longest, head.size() + m + ids.size() + anchor.size());
  }
  torch::Tensor prompt = prompt_.to(model.dtype());
  torch::Tensor head_embeds, anchor_embeds;
  {
    torch::NoGradGuard no_grad;
    head_embeds = head.empty() ? torch::zeros({0, width}, prompt.options()) : embed(head);
    anchor_embeds = embed(anchor);
  }
  std::vector<torch::Tensor> rows;
  torch::Tensor mask = torch::zeros({int64_t(texts.size()), longest}, torch::kInt64);
  for (size_t i = 0; i < texts.size(); ++i) {
    torch::Tensor text_embeds;
    {
      torch::NoGradGuard no_grad;
      text_embeds = text_ids[i].empty() ? torch::zeros({0, width}, prompt.options()) : embed(text_ids[i]);
    }
    const int64_t length = head.size() + m + text_ids[i].size() + anchor.size();
    rows.push_back(torch::cat({torch::zeros({longest - length, width}, prompt.options()), head_embeds, prompt,
                               text_embeds, anchor_embeds},
                              0));
    mask[i].narrow(0, longest - length, length).fill_(1);
  }
  ForwardInput input;
  input.inputs_embeds = torch::stack(rows, 0);
  input.attention_mask = mask.to(model.device());
  input.logits_last_only = true;
  return model.Forward(input).logits.select(1, 0);
}

absl::StatusOr<StepResult> PromptTuner::Step() {
  const ClassBalancedStep next = BeginClassBalancedStep(config_, step_, *sampler_, train_, *optimizer_);
  const std::vector<std::string>& texts = next.batch.texts;
  const std::vector<int64_t>& labels = next.batch.labels;
  StepResult result;
  result.step = next.step;
  result.learning_rate = next.learning_rate;
  try {
    LIP_ASSIGN_OR_RETURN(torch::Tensor logits, Logits(texts));
    const torch::Device device = logits.device();
    torch::Tensor label_tensor = torch::tensor(labels, torch::kInt64).to(device);
    torch::Tensor class_tokens = torch::tensor(answer_first_tokens_, torch::kInt64).to(device);
    torch::Tensor first_token = FirstTokenLoss(logits, class_tokens.index_select(0, label_tensor));
    torch::Tensor label_loss = LabelCrossEntropy(logits, class_tokens, label_tensor);
    torch::Tensor loss = config_.first_token_weight * first_token + config_.label_ce_weight * label_loss;
    optimizer_->zero_grad();
    loss.backward();
    if (config_.max_grad_norm > 0) torch::nn::utils::clip_grad_norm_({prompt_}, config_.max_grad_norm);
    optimizer_->step();
    torch::NoGradGuard no_grad;
    torch::Tensor predicted = logits.index_select(1, class_tokens).argmax(1);
    result.accuracy = (predicted == label_tensor).to(torch::kFloat64).mean().item<double>();
    result.loss = loss.item<double>();
    result.first_token_loss = first_token.item<double>();
    result.label_loss = label_loss.item<double>();
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("prompt-tuning step ", result.step, " failed: ", e.what_without_backtrace()));
  }
  if (!std::isfinite(result.loss)) {
    return absl::InternalError(absl::StrCat("prompt-tuning step ", result.step, " produced a non-finite loss"));
  }
  step_ = result.step;
  return result;
}

absl::StatusOr<StepResult> PromptTuner::Train(int64_t until_step, ProgressBar* progress) {
  return TrainUntilWithValidation(*this, config_, validation_, &validation_history_, until_step, progress);
}

absl::StatusOr<EvaluationResult> PromptTuner::Evaluate(const TextDataset& dataset, int64_t limit,
                                                       int64_t batch_size) const {
  EvaluationResult result;
  const int64_t count = limit > 0 ? std::min<int64_t>(limit, dataset.examples.size()) : dataset.examples.size();
  int64_t correct = 0;
  try {
    torch::NoGradGuard no_grad;
    torch::Tensor class_tokens = torch::tensor(answer_first_tokens_, torch::kInt64).to(receiver_->device());
    for (int64_t begin = 0; begin < count; begin += batch_size) {
      const int64_t end = std::min(begin + batch_size, count);
      std::vector<std::string> texts;
      for (int64_t i = begin; i < end; ++i) texts.push_back(dataset.examples[i].text);
      LIP_ASSIGN_OR_RETURN(torch::Tensor logits, Logits(texts));
      torch::Tensor predicted = logits.index_select(1, class_tokens).argmax(1).to(torch::kCPU);
      for (int64_t i = begin; i < end; ++i) correct += predicted[i - begin].item<int64_t>() == dataset.examples[i].label;
    }
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("prompt-tuning evaluation failed: ", e.what_without_backtrace()));
  }
  result.examples = count;
  result.accuracy = count > 0 ? double(correct) / count : 0;
  return result;
}

}  // namespace lip
