#include "bridge/latent/receiver_pipeline.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "bridge/model/benchmark_model.h"
#include "bridge/model/generation.h"
#include "bridge/model/label_scorer.h"
#include "common/wire/packet_error.h"
#include "common/wire/status_macros.h"

namespace lip {
namespace {

using Clock = std::chrono::steady_clock;

double MillisecondsSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

constexpr int64_t kMaxSoftTokens = 4096;
// Bytes per token above which no real vocabulary's tokens go on average (for byte pre-checks).
constexpr int64_t kMaxBytesPerToken = 32;

// The message's priming with empty fields replaced by the bridge's.
PrimingConfig ResolvePriming(const PrimingConfig& requested, const PrimingConfig& bridge) {
  PrimingConfig priming = requested;
  if (priming.context_prefix.empty()) priming.context_prefix = bridge.context_prefix;
  if (priming.anchor.empty()) priming.anchor = bridge.anchor;
  return priming;
}

absl::Status ValidateTask(const ReceiverTask& task, const ReceiverLimits& limits) {
  if (task.kind == ReceiverTask::Kind::kClassify) {
    if (task.labels.empty()) return absl::InvalidArgumentError("classify task has no labels");
    for (size_t i = 0; i < task.labels.size(); ++i) {
      if (task.labels[i].empty()) {
        return absl::InvalidArgumentError(absl::StrCat("classify label ", i, " is empty"));
      }
    }
    return absl::OkStatus();
  }
  // The generation budget is the protocol's (common/wire/packet_limits.h), the one source of it: the
  // codec applies it (or a receiver's tighter PacketLimits) to packets, and this check to text
  // messages, whose task no codec sees.
  const int64_t max_new_tokens = PacketLimits().max_new_tokens;
  if (task.max_new_tokens < 1 || task.max_new_tokens > max_new_tokens) {
    return PacketError(PacketDefect::kLimitExceeded,
                       absl::StrCat("max_new_tokens is ", task.max_new_tokens, ", expected 1..", max_new_tokens));
  }
  if (task.temperature < 0 || !std::isfinite(task.temperature)) {
    return absl::InvalidArgumentError(absl::StrCat("temperature is ", task.temperature, ", expected >= 0"));
  }
  if (task.top_p < 0 || task.top_p > 1 || !std::isfinite(task.top_p)) {
    return absl::InvalidArgumentError(absl::StrCat("top_p is ", task.top_p, ", expected 0..1"));
  }
  return absl::OkStatus();
}

absl::Status LimitExceeded(absl::string_view what, int64_t value, int64_t limit) {
  return PacketError(PacketDefect::kLimitExceeded,
                     absl::StrCat(what, " is ", value, ", the receiver's limit is ", limit));
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
  return Create(std::move(model), std::move(tokenizer), std::move(half), options.limits);
}

absl::StatusOr<std::unique_ptr<ReceiverPipeline>> ReceiverPipeline::Create(
    std::shared_ptr<const DecoderModel> model, std::shared_ptr<const Tokenizer> tokenizer,
    ReceiverHalf half, ReceiverLimits limits) {
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
  auto pipeline = std::unique_ptr<ReceiverPipeline>(new ReceiverPipeline(bridge.receiver.energy, limits));
  pipeline->model_id_ = bridge.receiver_model;
  pipeline->model_id_.family = model->config().model_type;
  pipeline->model_id_.weights_digest = model->weights_digest();
  half.adapter->to(model->device());
  pipeline->model_ = std::move(model);
  pipeline->tokenizer_ = std::move(tokenizer);
  pipeline->half_ = std::move(half);
  pipeline->classify_graphs_ = std::make_unique<GraphedFunction>(
      pipeline->model_->device(), pipeline->model_->uses_cuda_graphs(), kMaxClassifyGraphs);
  pipeline->pad_to_graph_buckets_ = pipeline->classify_graphs_->uses_graphs();
  return pipeline;
}

torch::Tensor ReceiverPipeline::AdaptSoftTokens(const torch::Tensor& z) const {
  torch::NoGradGuard no_grad;
  torch::Tensor adapted = half_.adapter->forward(z.to(model_->device(), torch::kFloat32));
  return energy_matcher_.Match(adapted).to(model_->dtype());
}

absl::StatusOr<torch::Tensor> ReceiverPipeline::ClassifyOneTokenLabels(const torch::Tensor& z,
                                                                        const PreparedMessage& prepared) const {
  const PrimingTokens& priming = prepared.priming_tokens;
  const int64_t vocab = model_->config().vocab_size;
  std::vector<int64_t> head, tail, labels;
  if (priming.bos) head.push_back(*priming.bos);
  head.insert(head.end(), priming.prefix.begin(), priming.prefix.end());
  tail.assign(priming.anchor.begin(), priming.anchor.end());
  for (const std::vector<int64_t>& label : prepared.label_ids) labels.push_back(label.front());
  for (const std::vector<int64_t>* ids : {&head, &tail, &labels}) {
    for (int64_t id : *ids) {
      if (id < 0 || id >= vocab) {
        return absl::InvalidArgumentError(
            absl::StrCat("token id ", id, " of the frame or a label is outside the receiver vocabulary [0, ", vocab, ")"));
      }
    }
  }
  const int64_t batch = z.size(0);
  const int64_t rows = pad_to_graph_buckets_ ? GraphBatchBucket(batch) : batch;
  torch::Tensor z_rows = rows == batch ? z : torch::cat({z, torch::zeros({rows - batch, z.size(1), z.size(2)}, z.options())});
  const torch::Device device = model_->device();
  auto ids = [&](const std::vector<int64_t>& v) { return torch::tensor(v, torch::kInt64).to(device); };
  // [BOS, context, adapted soft tokens, anchor] -> the anchor's next-token log-probs of each label's
  // token (LabelScorer's values for one-token labels).
  auto classify = [&](const std::vector<torch::Tensor>& in) -> std::vector<torch::Tensor> {
    torch::Tensor soft = energy_matcher_.Match(half_.adapter->forward(in[0])).to(model_->dtype());
    const int64_t b = soft.size(0), width = soft.size(2);
    const torch::Tensor& embedding = model_->embedding_weight();
    std::vector<torch::Tensor> parts;
    if (in[1].numel() > 0) {
      torch::Tensor h = embedding.index_select(0, in[1]).to(soft.dtype());
      parts.push_back(h.unsqueeze(0).expand({b, h.size(0), width}));
    }
    parts.push_back(soft);
    if (in[2].numel() > 0) {
      torch::Tensor t = embedding.index_select(0, in[2]).to(soft.dtype());
      parts.push_back(t.unsqueeze(0).expand({b, t.size(0), width}));
    }
    ForwardInput forward;
    forward.inputs_embeds = torch::cat(parts, 1);
    forward.logits_last_only = true;
    forward.cuda_graph = false;  // inside this function's own graph
    torch::Tensor log_probs = torch::log_softmax(model_->Forward(forward).logits.select(1, 0), -1);
    return {log_probs.index_select(1, in[3])};
  };
  try {
    torch::NoGradGuard no_grad;
    torch::Tensor scores = classify_graphs_->Run(
        "classify", {z_rows.to(device, torch::kFloat32), ids(head), ids(tail), ids(labels)}, classify)[0];
    return scores.narrow(0, 0, batch).to(torch::kCPU, torch::kFloat32).contiguous();
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("receiver failed: ", e.what_without_backtrace()));
  }
}

absl::StatusOr<ReceiverPipeline::PreparedMessage> ReceiverPipeline::Prepare(
    const PrimingConfig& requested_priming, const ReceiverTask& requested_task,
    int64_t middle_tokens) const {
  const BridgeMetadata& bridge = half_.metadata;
  PreparedMessage prepared;
  prepared.task = requested_task;
  if (prepared.task.kind == ReceiverTask::Kind::kClassify && prepared.task.labels.empty()) {
    prepared.task.labels = bridge.labels;
  }
  LIP_RETURN_IF_ERROR(ValidateTask(prepared.task, limits_));
  prepared.priming = ResolvePriming(requested_priming, bridge.priming);
  // A frame of more than kMaxBytesPerToken bytes per allowed token cannot fit the cap with any
  // real vocabulary; it is refused before the tokenizer spends time on it.
  const int64_t priming_bytes =
      int64_t(prepared.priming.context_prefix.size() + prepared.priming.anchor.size());
  if (priming_bytes > kMaxBytesPerToken * limits_.max_priming_tokens) {
    return LimitExceeded("priming (context prefix + anchor) in bytes", priming_bytes,
                         kMaxBytesPerToken * limits_.max_priming_tokens);
  }
  LIP_ASSIGN_OR_RETURN(prepared.priming_tokens, TokenizePriming(*tokenizer_, prepared.priming));
  const int64_t priming_tokens =
      int64_t(prepared.priming_tokens.prefix.size() + prepared.priming_tokens.anchor.size());
  if (priming_tokens > limits_.max_priming_tokens) {
    return LimitExceeded("priming (context prefix + anchor) in tokens", priming_tokens,
                         limits_.max_priming_tokens);
  }
  int64_t continuation = 0;  // positions after the frame: the longest label or the generation
  if (prepared.task.kind == ReceiverTask::Kind::kClassify) {
    int64_t longest = 0;
    for (const std::string& label : prepared.task.labels) {
      LIP_ASSIGN_OR_RETURN(std::vector<int32_t> ids, tokenizer_->Encode(label, /*add_special_tokens=*/false));
      if (ids.empty()) return absl::InvalidArgumentError(absl::StrCat("label \"", label, "\" has no tokens"));
      longest = std::max<int64_t>(longest, int64_t(ids.size()));
      const int64_t positions = int64_t(prepared.task.labels.size()) * longest;
      if (positions > limits_.max_label_positions) {
        return LimitExceeded(absl::StrCat("label-scoring work (", prepared.task.labels.size(),
                                          " labels x longest verbalizer tokens)"),
                             positions, limits_.max_label_positions);
      }
      prepared.label_ids.emplace_back(ids.begin(), ids.end());
    }
    continuation = longest;
  } else {
    continuation = prepared.task.max_new_tokens;
  }
  const int64_t sequence = (prepared.priming_tokens.bos ? 1 : 0) + priming_tokens + middle_tokens + continuation;
  const int64_t model_positions = model_->config().max_position_embeddings;
  if (sequence > model_positions) {
    return LimitExceeded(absl::StrCat("the receiver sequence (frame ", priming_tokens, " + message ",
                                      middle_tokens, " + ",
                                      prepared.task.kind == ReceiverTask::Kind::kClassify ? "label" : "generation",
                                      " ", continuation, " tokens)"),
                         sequence, model_positions);
  }
  return prepared;
}

// Each member's label log-probs (row b of scores [B, L] on the host), its best label and timing.
static void FillLabelAnswers(const torch::Tensor& scores, const ReceiverTask& task, double decode_ms,
                             std::vector<ReceiverAnswer*>& answers) {
  for (size_t b = 0; b < answers.size(); ++b) {
    ReceiverAnswer& answer = *answers[b];
    const float* row = scores[b].data_ptr<float>();
    answer.label_log_probs.assign(row, row + scores.size(1));
    answer.label_index = std::max_element(answer.label_log_probs.begin(), answer.label_log_probs.end()) -
                         answer.label_log_probs.begin();
    answer.label = task.labels[answer.label_index];
    answer.timings.decode_ms = decode_ms;
  }
}

// Runs one group (same frame and task) whose receiver input is already built, and fills the
// answers of its members.
static absl::Status RunGroup(const DecoderModel& model, const Tokenizer& tokenizer,
                             const torch::Tensor& inputs_embeds, const torch::Tensor& attention_mask,
                             const ReceiverTask& task, const std::vector<std::vector<int64_t>>& label_ids,
                             std::vector<ReceiverAnswer*>& answers) {
  const auto start = Clock::now();
  const int64_t batch = inputs_embeds.size(0);
  if (task.kind == ReceiverTask::Kind::kClassify) {
    LIP_ASSIGN_OR_RETURN(torch::Tensor scores,
                         ScoreLabels(model, inputs_embeds, attention_mask, label_ids));
    FillLabelAnswers(scores.to(torch::kCPU, torch::kFloat32).contiguous(), task, MillisecondsSince(start), answers);
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

// The members of a group whose callers still want an answer; the others are answered with the
// gate's status.
static std::vector<size_t> StillWanted(const std::vector<size_t>& members, const MessageGate& gate,
                                       std::vector<absl::StatusOr<ReceiverAnswer>>& answers) {
  if (!gate) return members;
  std::vector<size_t> wanted;
  for (size_t i : members) {
    absl::Status status = gate(i);
    if (status.ok()) {
      wanted.push_back(i);
    } else {
      answers[i] = std::move(status);
    }
  }
  return wanted;
}

absl::StatusOr<std::vector<absl::StatusOr<ReceiverAnswer>>> ReceiverPipeline::Answer(
    const std::vector<LatentMessage>& messages, const MessageGate& gate) const {
  if (messages.empty()) return absl::InvalidArgumentError("no messages to answer");
  const BridgeMetadata& bridge = half_.metadata;
  const int64_t d_z = bridge.receiver.adapter.input_width;
  std::vector<absl::StatusOr<ReceiverAnswer>> answers(messages.size(), ReceiverAnswer());
  std::vector<PreparedMessage> prepared(messages.size());
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
    auto ready = Prepare(m.priming, m.task, m.num_soft_tokens);
    if (!ready.ok()) {
      answers[i] = ready.status();
      continue;
    }
    prepared[i] = *std::move(ready);
    groups[GroupKey(prepared[i].priming, prepared[i].task, m.num_soft_tokens)].push_back(i);
  }

  try {
    torch::NoGradGuard no_grad;
    for (const auto& [key, group] : groups) {
      const std::vector<size_t> members = StillWanted(group, gate, answers);
      if (members.empty()) continue;
      const size_t first = members.front();
      auto fail_group = [&, &members = members](const absl::Status& status) {  // (clang 14: no implicit capture of bindings)
        for (size_t i : members) answers[i] = status;
      };
      const auto adapt_start = Clock::now();
      const int64_t m = messages[first].num_soft_tokens;
      torch::Tensor z = torch::empty({int64_t(members.size()), m, d_z}, torch::kFloat32);
      for (size_t j = 0; j < members.size(); ++j) {
        z[j].copy_(torch::from_blob(const_cast<float*>(messages[members[j]].z.data()), {m, d_z}, torch::kFloat32));
      }
      std::vector<ReceiverAnswer*> group_answers;
      for (size_t i : members) group_answers.push_back(&answers[i].value());
      const PreparedMessage& frame = prepared[first];
      const bool one_token_labels =
          frame.task.kind == ReceiverTask::Kind::kClassify &&
          std::all_of(frame.label_ids.begin(), frame.label_ids.end(), [](const auto& ids) { return ids.size() == 1; });
      // Only the bridge's own frame (its M, priming and labels) takes the one-function path: its
      // graphs are keyed by exact lengths, so callers choosing other frames, M or label sets could
      // otherwise make the node capture graph after graph; they take the model's bucketed graphs.
      const bool bridge_frame = m == bridge.sender.perceiver.num_queries &&
                                frame.priming.context_prefix == bridge.priming.context_prefix &&
                                frame.priming.anchor == bridge.priming.anchor && frame.task.labels == bridge.labels;
      if (one_token_labels && bridge_frame) {
        // Adapter, priming, prefill and scoring in one function: its time is the decode stage's.
        auto scores = ClassifyOneTokenLabels(z, frame);
        if (!scores.ok()) {
          fail_group(scores.status());
          continue;
        }
        FillLabelAnswers(*scores, frame.task, MillisecondsSince(adapt_start), group_answers);
        for (ReceiverAnswer* answer : group_answers) answer->batch_size = members.size();
        continue;
      }
      torch::Tensor soft = AdaptSoftTokens(z);
      const double adapt_ms = MillisecondsSince(adapt_start);

      const auto prefill_start = Clock::now();
      auto primed = ContextPrimer(prepared[first].priming_tokens).Prime(soft, model_->embedding_weight());
      if (!primed.ok()) {
        fail_group(primed.status());
        continue;
      }
      const double prefill_ms = MillisecondsSince(prefill_start);
      absl::Status status = RunGroup(*model_, *tokenizer_, primed->inputs_embeds, primed->attention_mask,
                                     prepared[first].task, prepared[first].label_ids, group_answers);
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
    const std::vector<TextMessage>& messages, const MessageGate& gate) const {
  if (messages.empty()) return absl::InvalidArgumentError("no messages to answer");
  std::vector<absl::StatusOr<ReceiverAnswer>> answers(messages.size(), ReceiverAnswer());
  std::vector<std::vector<int32_t>> framed(messages.size());
  std::vector<PreparedMessage> prepared(messages.size());
  std::vector<double> tokenize_ms(messages.size(), 0);
  std::map<std::string, std::vector<size_t>> groups;
  for (size_t i = 0; i < messages.size(); ++i) {
    const auto start = Clock::now();
    const TextMessage& m = messages[i];
    // Refuse a text that cannot fit the token cap before tokenizing it (see Prepare).
    if (int64_t(m.text.size()) > kMaxBytesPerToken * limits_.max_text_tokens) {
      answers[i] = LimitExceeded("the text's length in bytes", int64_t(m.text.size()),
                                 kMaxBytesPerToken * limits_.max_text_tokens);
      continue;
    }
    auto text_ids = tokenizer_->Encode(m.text, /*add_special_tokens=*/false);
    if (!text_ids.ok()) {
      answers[i] = text_ids.status();
      continue;
    }
    if (int64_t(text_ids->size()) > limits_.max_text_tokens) {
      answers[i] = LimitExceeded("the text's length in tokens", int64_t(text_ids->size()), limits_.max_text_tokens);
      continue;
    }
    auto ready = Prepare(m.priming, m.task, int64_t(text_ids->size()));
    if (!ready.ok()) {
      answers[i] = ready.status();
      continue;
    }
    prepared[i] = *std::move(ready);
    framed[i] = ContextPrimer(prepared[i].priming_tokens).FrameText(*text_ids);
    tokenize_ms[i] = MillisecondsSince(start);
    // Texts of different lengths share a group: they are left-padded.
    groups[GroupKey(prepared[i].priming, prepared[i].task, 0)].push_back(i);
  }
  try {
    torch::NoGradGuard no_grad;
    for (const auto& [key, group] : groups) {
      const std::vector<size_t> members = StillWanted(group, gate, answers);
      if (members.empty()) continue;
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
      const PreparedMessage& shared = prepared[members.front()];
      absl::Status status = RunGroup(*model_, *tokenizer_, embeds, mask, shared.task, shared.label_ids, group_answers);
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
