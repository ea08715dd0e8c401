#include "bridge/latent/receiver_pipeline.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "bridge/latent/status_macros.h"
#include "bridge/model/benchmark_model.h"
#include "bridge/model/generation.h"
#include "bridge/model/label_scorer.h"

namespace lip {
namespace {

using Clock = std::chrono::steady_clock;

double MillisecondsSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

constexpr int64_t kMaxSoftTokens = 4096;
constexpr int64_t kMaxTextTokens = 1024;

// The message's priming with empty fields replaced by the bridge's.
PrimingConfig ResolvePriming(const PrimingConfig& requested, const PrimingConfig& bridge) {
  PrimingConfig priming = requested;
  if (priming.context_prefix.empty()) priming.context_prefix = bridge.context_prefix;
  if (priming.anchor.empty()) priming.anchor = bridge.anchor;
  return priming;
}

absl::Status ValidateTask(const ReceiverTask& task) {
  if (task.kind == ReceiverTask::Kind::kClassify) {
    if (task.labels.empty()) return absl::InvalidArgumentError("classify task has no labels");
    for (size_t i = 0; i < task.labels.size(); ++i) {
      if (task.labels[i].empty()) {
        return absl::InvalidArgumentError(absl::StrCat("classify label ", i, " is empty"));
      }
    }
    return absl::OkStatus();
  }
  if (task.max_new_tokens < 1 || task.max_new_tokens > 1024) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_new_tokens is ", task.max_new_tokens, ", expected 1..1024"));
  }
  if (task.temperature < 0 || !std::isfinite(task.temperature)) {
    return absl::InvalidArgumentError(absl::StrCat("temperature is ", task.temperature, ", expected >= 0"));
  }
  if (task.top_p < 0 || task.top_p > 1 || !std::isfinite(task.top_p)) {
    return absl::InvalidArgumentError(absl::StrCat("top_p is ", task.top_p, ", expected 0..1"));
  }
  return absl::OkStatus();
}

// Messages that may share one prefill: same frame, task and (for latents) M.
std::string GroupKey(const PrimingConfig& priming, const ReceiverTask& task, int64_t length) {
  return absl::StrCat(priming.context_prefix.size(), ":", priming.context_prefix, "|",
                      priming.anchor.size(), ":", priming.anchor, "|", int(task.kind), "|",
                      absl::StrJoin(task.labels, "\x1f"), "|", task.max_new_tokens, "|",
                      task.temperature, "|", task.top_p, "|", task.seed, "|",
                      absl::StrJoin(task.stop, "\x1f"), "|", length);
}

}  // namespace

absl::StatusOr<std::unique_ptr<ReceiverPipeline>> ReceiverPipeline::Load(
    const ReceiverPipelineOptions& options) {
  if (options.bridge_dir.empty() || options.model_dir.empty()) {
    return absl::InvalidArgumentError("receiver pipeline needs both a bridge_dir and a model_dir");
  }
  ReceiverHalf half;
  std::unique_ptr<DecoderModel> model;
  if (options.random_weights_for_benchmark) {
    LIP_ASSIGN_OR_RETURN(half.metadata, ReadBridgeMetadata(options.bridge_dir));
    half.adapter = ReceiverAdapter(half.metadata.receiver.adapter);
    half.adapter->eval();
    for (auto& parameter : half.adapter->parameters()) parameter.set_requires_grad(false);
    LIP_ASSIGN_OR_RETURN(model, RandomModelForBenchmark(options.model_dir, options.model_options,
                                                        options.random_seed));
  } else {
    LIP_ASSIGN_OR_RETURN(half, LoadReceiverHalf(options.bridge_dir));
    LIP_ASSIGN_OR_RETURN(model, DecoderModel::Load(options.model_dir, options.model_options));
  }
  LIP_ASSIGN_OR_RETURN(
      std::unique_ptr<Tokenizer> tokenizer,
      Tokenizer::FromDirectory(options.tokenizer_dir.empty() ? options.model_dir : options.tokenizer_dir));
  if (options.allow_model_mismatch) half.metadata.receiver_model.weights_digest.clear();
  if (options.override_energy_mode) half.metadata.receiver.energy.mode = options.energy_mode;
  return Create(std::move(model), std::move(tokenizer), std::move(half));
}

absl::StatusOr<std::unique_ptr<ReceiverPipeline>> ReceiverPipeline::Create(
    std::shared_ptr<const DecoderModel> model, std::shared_ptr<const Tokenizer> tokenizer,
    ReceiverHalf half) {
  if (model == nullptr || tokenizer == nullptr || !half.adapter) {
    return absl::InvalidArgumentError("receiver pipeline needs a model, a tokenizer and a receiver half");
  }
  const BridgeMetadata& bridge = half.metadata;
  if (model->hidden_size() != bridge.receiver.adapter.output_width) {
    return absl::FailedPreconditionError(absl::StrCat(
        "receiver model has hidden size ", model->hidden_size(), " but bridge \"", bridge.name,
        "\" adapts to ", bridge.receiver.adapter.output_width));
  }
  if (!bridge.receiver_model.weights_digest.empty() &&
      bridge.receiver_model.weights_digest != model->weights_digest()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "receiver model weights ", model->weights_digest(), " are not the ones bridge \"", bridge.name,
        "\" was trained on (", bridge.receiver_model.weights_digest, ")"));
  }
  LIP_RETURN_IF_ERROR(ValidateBridgeMetadata(bridge));
  auto pipeline = std::unique_ptr<ReceiverPipeline>(new ReceiverPipeline(bridge.receiver.energy));
  pipeline->model_id_ = bridge.receiver_model;
  pipeline->model_id_.family = model->config().model_type;
  pipeline->model_id_.weights_digest = model->weights_digest();
  half.adapter->to(model->device());
  pipeline->model_ = std::move(model);
  pipeline->tokenizer_ = std::move(tokenizer);
  pipeline->half_ = std::move(half);
  return pipeline;
}

torch::Tensor ReceiverPipeline::AdaptSoftTokens(const torch::Tensor& z) const {
  torch::NoGradGuard no_grad;
  torch::Tensor adapted = half_.adapter->forward(z.to(model_->device(), torch::kFloat32));
  return energy_matcher_.Match(adapted).to(model_->dtype());
}

// Runs one group (same frame and task) whose receiver input is already built, and fills the
// answers of its members.
static absl::Status RunGroup(const DecoderModel& model, const Tokenizer& tokenizer,
                             const torch::Tensor& inputs_embeds, const torch::Tensor& attention_mask,
                             const ReceiverTask& task, std::vector<ReceiverAnswer*>& answers) {
  const auto start = Clock::now();
  const int64_t batch = inputs_embeds.size(0);
  if (task.kind == ReceiverTask::Kind::kClassify) {
    std::vector<std::vector<int64_t>> label_ids;
    for (const std::string& label : task.labels) {
      LIP_ASSIGN_OR_RETURN(std::vector<int32_t> ids, tokenizer.Encode(label, /*add_special_tokens=*/false));
      if (ids.empty()) return absl::InvalidArgumentError(absl::StrCat("label \"", label, "\" has no tokens"));
      label_ids.emplace_back(ids.begin(), ids.end());
    }
    LIP_ASSIGN_OR_RETURN(torch::Tensor scores,
                         ScoreLabels(model, inputs_embeds, attention_mask, label_ids));
    scores = scores.to(torch::kCPU, torch::kFloat32).contiguous();
    const double decode_ms = MillisecondsSince(start);
    for (int64_t b = 0; b < batch; ++b) {
      ReceiverAnswer& answer = *answers[b];
      const float* row = scores[b].data_ptr<float>();
      answer.label_log_probs.assign(row, row + scores.size(1));
      answer.label_index = std::max_element(answer.label_log_probs.begin(), answer.label_log_probs.end()) -
                           answer.label_log_probs.begin();
      answer.label = task.labels[answer.label_index];
      answer.timings.decode_ms = decode_ms;
    }
    return absl::OkStatus();
  }
  GenerationOptions options;
  options.max_new_tokens = task.max_new_tokens;
  options.do_sample = task.temperature > 0;
  options.temperature = task.temperature > 0 ? task.temperature : 1.0;
  options.top_p = (task.top_p > 0 && task.top_p < 1) ? task.top_p : 1.0;
  options.seed = task.seed;
  for (int32_t id : tokenizer.eos_ids()) options.stop_token_ids.push_back(id);
  LIP_ASSIGN_OR_RETURN(GenerationResult result, Generate(model, inputs_embeds, attention_mask, options));
  const double decode_ms = MillisecondsSince(start);
  for (int64_t b = 0; b < batch; ++b) {
    ReceiverAnswer& answer = *answers[b];
    for (int64_t id : result.tokens[b]) answer.token_ids.push_back(static_cast<int32_t>(id));
    answer.stop_reason = result.stopped[b] ? "eos" : "max_new_tokens";
    if (result.stopped[b] && !answer.token_ids.empty()) answer.token_ids.pop_back();
    LIP_ASSIGN_OR_RETURN(answer.text, tokenizer.Decode(answer.token_ids, /*skip_special_tokens=*/true));
    size_t cut = std::string::npos;
    for (const std::string& stop : task.stop) {
      if (stop.empty()) continue;
      cut = std::min(cut, answer.text.find(stop));
    }
    if (cut != std::string::npos) {
      answer.text.resize(cut);
      answer.stop_reason = "stop_string";
    }
    answer.timings.decode_ms = decode_ms;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<absl::StatusOr<ReceiverAnswer>>> ReceiverPipeline::Answer(
    const std::vector<LatentMessage>& messages) const {
  if (messages.empty()) return absl::InvalidArgumentError("no messages to answer");
  const BridgeMetadata& bridge = half_.metadata;
  const int64_t d_z = bridge.receiver.adapter.input_width;
  std::vector<absl::StatusOr<ReceiverAnswer>> answers(messages.size(), ReceiverAnswer());
  std::vector<PrimingConfig> primings(messages.size());
  std::vector<ReceiverTask> tasks(messages.size());
  std::map<std::string, std::vector<size_t>> groups;
  for (size_t i = 0; i < messages.size(); ++i) {
    const LatentMessage& m = messages[i];
    if (m.width != d_z) {
      answers[i] = absl::InvalidArgumentError(
          absl::StrCat("message has soft-token width ", m.width, ", bridge \"", bridge.name, "\" expects d_z = ", d_z));
      continue;
    }
    if (m.num_soft_tokens < 1 || m.num_soft_tokens > kMaxSoftTokens) {
      answers[i] = absl::InvalidArgumentError(
          absl::StrCat("message has M = ", m.num_soft_tokens, " soft tokens, expected 1..", kMaxSoftTokens));
      continue;
    }
    if (int64_t(m.z.size()) != m.num_soft_tokens * m.width) {
      answers[i] = absl::InvalidArgumentError(absl::StrCat("message has ", m.z.size(), " values, expected M*d = ",
                                                           m.num_soft_tokens, "*", m.width, " = ",
                                                           m.num_soft_tokens * m.width));
      continue;
    }
    if (!std::all_of(m.z.begin(), m.z.end(), [](float v) { return std::isfinite(v); })) {
      answers[i] = absl::InvalidArgumentError("message soft tokens contain NaN or infinity");
      continue;
    }
    tasks[i] = m.task;
    if (tasks[i].kind == ReceiverTask::Kind::kClassify && tasks[i].labels.empty()) tasks[i].labels = bridge.labels;
    if (absl::Status status = ValidateTask(tasks[i]); !status.ok()) {
      answers[i] = status;
      continue;
    }
    primings[i] = ResolvePriming(m.priming, bridge.priming);
    groups[GroupKey(primings[i], tasks[i], m.num_soft_tokens)].push_back(i);
  }

  try {
    torch::NoGradGuard no_grad;
    for (const auto& [key, members] : groups) {
      const size_t first = members.front();
      auto fail_group = [&](const absl::Status& status) {
        for (size_t i : members) answers[i] = status;
      };
      const auto adapt_start = Clock::now();
      const int64_t m = messages[first].num_soft_tokens;
      torch::Tensor z = torch::empty({int64_t(members.size()), m, d_z}, torch::kFloat32);
      for (size_t j = 0; j < members.size(); ++j) {
        z[j].copy_(torch::from_blob(const_cast<float*>(messages[members[j]].z.data()), {m, d_z}, torch::kFloat32));
      }
      torch::Tensor soft = AdaptSoftTokens(z);
      const double adapt_ms = MillisecondsSince(adapt_start);

      const auto prefill_start = Clock::now();
      auto tokens = TokenizePriming(*tokenizer_, primings[first]);
      if (!tokens.ok()) {
        fail_group(tokens.status());
        continue;
      }
      auto primed = ContextPrimer(*tokens).Prime(soft, model_->embedding_weight());
      if (!primed.ok()) {
        fail_group(primed.status());
        continue;
      }
      const double prefill_ms = MillisecondsSince(prefill_start);
      std::vector<ReceiverAnswer*> group_answers;
      for (size_t i : members) group_answers.push_back(&answers[i].value());
      absl::Status status = RunGroup(*model_, *tokenizer_, primed->inputs_embeds, primed->attention_mask,
                                     tasks[first], group_answers);
      if (!status.ok()) {
        fail_group(status);
        continue;
      }
      for (ReceiverAnswer* answer : group_answers) {
        answer->timings.adapt_ms = adapt_ms;
        answer->timings.prefill_ms = prefill_ms;
        answer->batch_size = members.size();
      }
    }
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("receiver failed: ", e.what_without_backtrace()));
  }
  return answers;
}

absl::StatusOr<std::vector<absl::StatusOr<ReceiverAnswer>>> ReceiverPipeline::AnswerText(
    const std::vector<TextMessage>& messages) const {
  if (messages.empty()) return absl::InvalidArgumentError("no messages to answer");
  const BridgeMetadata& bridge = half_.metadata;
  std::vector<absl::StatusOr<ReceiverAnswer>> answers(messages.size(), ReceiverAnswer());
  std::vector<std::vector<int32_t>> framed(messages.size());
  std::vector<ReceiverTask> tasks(messages.size());
  std::vector<double> tokenize_ms(messages.size(), 0);
  std::map<std::string, std::vector<size_t>> groups;
  for (size_t i = 0; i < messages.size(); ++i) {
    const auto start = Clock::now();
    const TextMessage& m = messages[i];
    tasks[i] = m.task;
    if (tasks[i].kind == ReceiverTask::Kind::kClassify && tasks[i].labels.empty()) tasks[i].labels = bridge.labels;
    if (absl::Status status = ValidateTask(tasks[i]); !status.ok()) {
      answers[i] = status;
      continue;
    }
    const PrimingConfig priming = ResolvePriming(m.priming, bridge.priming);
    auto tokens = TokenizePriming(*tokenizer_, priming);
    auto text_ids = tokenizer_->Encode(m.text, /*add_special_tokens=*/false);
    if (!tokens.ok() || !text_ids.ok()) {
      answers[i] = !tokens.ok() ? tokens.status() : text_ids.status();
      continue;
    }
    if (int64_t(text_ids->size()) > kMaxTextTokens) text_ids->resize(kMaxTextTokens);
    framed[i] = ContextPrimer(*tokens).FrameText(*text_ids);
    tokenize_ms[i] = MillisecondsSince(start);
    // Texts of different lengths share a group: they are left-padded.
    groups[GroupKey(priming, tasks[i], 0)].push_back(i);
  }
  try {
    torch::NoGradGuard no_grad;
    for (const auto& [key, members] : groups) {
      const auto prefill_start = Clock::now();
      int64_t longest = 0;
      for (size_t i : members) longest = std::max<int64_t>(longest, framed[i].size());
      const int64_t batch = members.size();
      torch::Tensor ids = torch::zeros({batch, longest}, torch::kInt64);
      torch::Tensor mask = torch::zeros({batch, longest}, torch::kInt64);
      for (int64_t j = 0; j < batch; ++j) {
        const std::vector<int32_t>& row = framed[members[j]];
        const int64_t n = row.size();
        ids[j].narrow(0, longest - n, n).copy_(torch::tensor(std::vector<int64_t>(row.begin(), row.end())));
        mask[j].narrow(0, longest - n, n).fill_(1);
      }
      torch::Tensor embeds = model_->EmbedTokens(ids);
      // The mask stays on the host: Forward reads from it, without a device sync, whether any is padding.
      const double prefill_ms = MillisecondsSince(prefill_start);
      std::vector<ReceiverAnswer*> group_answers;
      for (size_t i : members) group_answers.push_back(&answers[i].value());
      absl::Status status = RunGroup(*model_, *tokenizer_, embeds, mask, tasks[members.front()], group_answers);
      if (!status.ok()) {
        for (size_t i : members) answers[i] = status;
        continue;
      }
      for (size_t j = 0; j < members.size(); ++j) {
        group_answers[j]->timings.adapt_ms = tokenize_ms[members[j]];
        group_answers[j]->timings.prefill_ms = prefill_ms;
        group_answers[j]->batch_size = batch;
      }
    }
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("receiver failed: ", e.what_without_backtrace()));
  }
  return answers;
}

}  // namespace lip
