#include "bridge/latent/sender_pipeline.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "bridge/model/benchmark_model.h"
#include "common/wire/status_macros.h"
#include "bridge/model/generation.h"
#include "bridge/model/graphed_function.h"

namespace lip {
namespace {

double MillisecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

absl::StatusOr<std::unique_ptr<SenderPipeline>> SenderPipeline::Load(
    const SenderPipelineOptions& options) {
  if (options.bridge_dir.empty() || options.model_dir.empty()) {
    return absl::InvalidArgumentError("sender pipeline needs both a bridge_dir and a model_dir");
  }
  SenderHalf half;
  std::unique_ptr<DecoderModel> model;
  if (options.random_weights_for_benchmark) {
    LIP_ASSIGN_OR_RETURN(half.metadata, ReadBridgeMetadata(options.bridge_dir));
    half.encoder = SenderEncoder(half.metadata.sender);
    half.encoder->eval();
    for (auto& parameter : half.encoder->parameters()) parameter.set_requires_grad(false);
    LIP_ASSIGN_OR_RETURN(model, RandomModelForBenchmark(options.model_dir, options.model_options,
                                                        options.random_seed));
  } else {
    LIP_ASSIGN_OR_RETURN(half, LoadSenderHalf(options.bridge_dir));
    LIP_ASSIGN_OR_RETURN(model, DecoderModel::Load(options.model_dir, options.model_options));
  }
  LIP_ASSIGN_OR_RETURN(
      std::unique_ptr<Tokenizer> tokenizer,
      Tokenizer::FromDirectory(options.tokenizer_dir.empty() ? options.model_dir : options.tokenizer_dir));
  if (options.allow_model_mismatch) half.metadata.sender_model.weights_digest.clear();
  return Create(std::move(model), std::move(tokenizer), std::move(half));
}

absl::StatusOr<std::unique_ptr<SenderPipeline>> SenderPipeline::Create(
    std::shared_ptr<const DecoderModel> model, std::shared_ptr<const Tokenizer> tokenizer,
    SenderHalf half) {
  if (model == nullptr || tokenizer == nullptr || !half.encoder) {
    return absl::InvalidArgumentError("sender pipeline needs a model, a tokenizer and a sender half");
  }
  const BridgeMetadata& bridge = half.metadata;
  if (model->hidden_size() != bridge.sender.perceiver.input_width) {
    return absl::FailedPreconditionError(absl::StrCat(
        "sender model has hidden size ", model->hidden_size(), " but bridge \"", bridge.name,
        "\" expects ", bridge.sender.perceiver.input_width));
  }
  if (bridge.sender.source_layer > model->num_layers()) {
    return absl::FailedPreconditionError(absl::StrCat("bridge source layer ", bridge.sender.source_layer,
                                                      " exceeds the sender's ", model->num_layers(),
                                                      " layers"));
  }
  if (!bridge.sender_model.weights_digest.empty() &&
      bridge.sender_model.weights_digest != model->weights_digest()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "sender model weights ", model->weights_digest(), " are not the ones bridge \"", bridge.name,
        "\" was trained on (", bridge.sender_model.weights_digest, ")"));
  }
  auto pipeline = std::unique_ptr<SenderPipeline>(new SenderPipeline());
  pipeline->model_id_ = bridge.sender_model;
  pipeline->model_id_.family = model->config().model_type;
  pipeline->model_id_.weights_digest = model->weights_digest();
  half.encoder->to(model->device());
  pipeline->model_ = std::move(model);
  pipeline->tokenizer_ = std::move(tokenizer);
  pipeline->half_ = std::move(half);
  pipeline->encode_graphs_ = std::make_unique<GraphedFunction>(
      pipeline->model_->device(), pipeline->model_->uses_cuda_graphs(), kMaxEncodeGraphs);
  pipeline->pad_to_graph_buckets_ = pipeline->encode_graphs_->uses_graphs();
  return pipeline;
}

absl::StatusOr<SenderPipeline::TextIds> SenderPipeline::Tokenize(const std::string& text,
                                                                 size_t index) const {
  if (text.empty()) return absl::InvalidArgumentError(absl::StrCat("text ", index, " is empty"));
  auto encoded = tokenizer_->Encode(text, /*add_special_tokens=*/true);
  if (!encoded.ok()) {
    return absl::Status(encoded.status().code(), absl::StrCat("text ", index, ": ", encoded.status().message()));
  }
  TextIds out;
  out.ids = *std::move(encoded);
  if (out.ids.empty()) return absl::InvalidArgumentError(absl::StrCat("text ", index, " has no tokens"));
  const int64_t max_tokens = half_.metadata.sender.max_text_tokens;
  if (int64_t(out.ids.size()) > max_tokens) {
    out.ids.resize(max_tokens);
    out.truncated = true;
  }
  return out;
}

absl::StatusOr<SourceStates> SenderPipeline::SourceStatesOf(const std::vector<TextIds>& texts) const {
  if (texts.empty()) return absl::InvalidArgumentError("no texts to encode");
  SourceStates out;
  int64_t longest = 0;
  for (const TextIds& text : texts) {
    out.text_tokens.push_back(text.ids.size());
    out.truncated.push_back(text.truncated);
    longest = std::max<int64_t>(longest, text.ids.size());
  }
  const int64_t batch = texts.size();
  torch::Tensor id_tensor = torch::zeros({batch, longest}, torch::kInt64);
  torch::Tensor mask = torch::zeros({batch, longest}, torch::kInt64);
  for (int64_t b = 0; b < batch; ++b) {
    const std::vector<int32_t>& ids = texts[b].ids;
    const int64_t n = ids.size();
    id_tensor[b].narrow(0, 0, n).copy_(torch::tensor(std::vector<int64_t>(ids.begin(), ids.end())));
    mask[b].narrow(0, 0, n).fill_(1);
  }
  try {
    torch::NoGradGuard no_grad;
    ForwardInput input;
    input.inputs_embeds = model_->EmbedTokens(id_tensor);
    // No attention mask although the batch is right-padded: under causal attention a real position
    // never sees the padding after it, so its states are those of the text alone; the padding
    // positions' states are garbage the resampler masks out (out.mask). An unpadded forward takes the
    // fused unmasked attention and, on CUDA, the graph-captured runtime's (batch, tokens) buckets.
    input.stop_after_layer = static_cast<int>(half_.metadata.sender.source_layer);
    out.states = model_->Forward(input).last_hidden.to(torch::kFloat32);
    out.mask = mask.to(model_->device());
    return out;
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("sender model failed: ", e.what_without_backtrace()));
  }
}

absl::StatusOr<SourceStates> SenderPipeline::ReadSourceStates(
    const std::vector<std::string>& texts) const {
  if (texts.empty()) return absl::InvalidArgumentError("no texts to encode");
  std::vector<TextIds> ids;
  for (size_t i = 0; i < texts.size(); ++i) {
    LIP_ASSIGN_OR_RETURN(TextIds text, Tokenize(texts[i], i));
    ids.push_back(std::move(text));
  }
  return SourceStatesOf(ids);
}

absl::StatusOr<std::vector<absl::StatusOr<EncodedText>>> SenderPipeline::EncodeIds(
    const std::vector<TextIds>& texts, std::chrono::steady_clock::time_point start) const {
  if (texts.empty()) return absl::InvalidArgumentError("no texts to encode");
  const int64_t batch = texts.size();
  int64_t longest = 0;
  for (const TextIds& text : texts) longest = std::max<int64_t>(longest, text.ids.size());
  // Right-padded; where the path replays graphs, up to its bucket (extra rows read token 0 with one
  // position visible, so that no row of the resampler is empty; their results are dropped).
  const bool bucketed = pad_to_graph_buckets_;
  const int64_t rows = bucketed ? GraphBatchBucket(batch) : batch;
  const int64_t columns = bucketed ? GraphTokenBucket(longest) : longest;
  const int64_t vocab = model_->config().vocab_size;
  const torch::Device device = model_->device();
  // Ids and mask side by side in one host tensor (page-locked where the model is on CUDA), so one
  // asynchronous copy takes both to the device.
  torch::Tensor host = torch::zeros(
      {2, rows, columns}, torch::TensorOptions().dtype(torch::kInt64).pinned_memory(device.is_cuda()));
  int64_t* id_data = host.data_ptr<int64_t>();
  int64_t* mask_data = id_data + rows * columns;
  for (int64_t b = 0; b < rows; ++b) {
    if (b >= batch) {
      mask_data[b * columns] = 1;
      continue;
    }
    const std::vector<int32_t>& ids = texts[b].ids;
    for (size_t t = 0; t < ids.size(); ++t) {
      if (ids[t] < 0 || ids[t] >= vocab) {
        return absl::InvalidArgumentError(absl::StrCat("token id ", ids[t], " is outside the sender vocabulary [0, ",
                                                       vocab, ")"));
      }
      id_data[b * columns + t] = ids[t];
      mask_data[b * columns + t] = 1;
    }
  }
  try {
    torch::NoGradGuard no_grad;
    const int source_layer = static_cast<int>(half_.metadata.sender.source_layer);
    // The whole encode as one function of (ids, mask): the sender forward to the source layer
    // (unpadded attention: under causal attention a real position never sees the right padding
    // after it), the normaliser and the resampler, which masks the padding out.
    auto encode = [&](const std::vector<torch::Tensor>& in) -> std::vector<torch::Tensor> {
      ForwardInput forward;
      forward.inputs_embeds = model_->EmbedTokens(in[0]);
      forward.stop_after_layer = source_layer;
      forward.cuda_graph = false;  // inside this function's own graph
      torch::Tensor states = model_->Forward(forward).last_hidden.to(torch::kFloat32);
      return {half_.encoder->forward(states, in[1])};
    };
    const auto device_start = std::chrono::steady_clock::now();
    const torch::Tensor on_device = host.to(device, /*non_blocking=*/true);
    torch::Tensor z = encode_graphs_->Run("encode", {on_device[0], on_device[1]}, encode)[0];
    z = z.narrow(0, 0, batch).to(torch::kCPU, torch::kFloat32).contiguous();
    const double device_ms = MillisecondsSince(device_start);
    const double encode_ms = MillisecondsSince(start);
    const int64_t m = z.size(1), width = z.size(2);
    std::vector<absl::StatusOr<EncodedText>> out;
    out.reserve(batch);
    for (int64_t b = 0; b < batch; ++b) {
      const float* data = z[b].data_ptr<float>();
      if (!std::all_of(data, data + m * width, [](float v) { return std::isfinite(v); })) {
        out.push_back(absl::InternalError(absl::StrCat("the sender's soft tokens for text ", b,
                                                       " contain NaN or infinity")));
        continue;
      }
      EncodedText e;
      e.z.assign(data, data + m * width);
      e.num_soft_tokens = m;
      e.width = width;
      e.energy_mode = half_.metadata.receiver.energy.mode;
      e.target_reference_energy = half_.metadata.receiver.energy.reference_energy;
      e.source_layer = half_.metadata.sender.source_layer;
      e.text_tokens = texts[b].ids.size();
      e.truncated = texts[b].truncated;
      e.encode_ms = encode_ms;
      e.device_ms = device_ms;
      out.push_back(std::move(e));
    }
    return out;
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("sender encode failed: ", e.what_without_backtrace()));
  }
}

absl::StatusOr<std::vector<EncodedText>> SenderPipeline::Encode(
    const std::vector<std::string>& texts) const {
  if (texts.empty()) return absl::InvalidArgumentError("no texts to encode");
  const auto start = std::chrono::steady_clock::now();
  std::vector<TextIds> ids;
  for (size_t i = 0; i < texts.size(); ++i) {
    LIP_ASSIGN_OR_RETURN(TextIds text, Tokenize(texts[i], i));
    ids.push_back(std::move(text));
  }
  LIP_ASSIGN_OR_RETURN(auto encoded, EncodeIds(ids, start));
  std::vector<EncodedText> out;
  for (auto& e : encoded) {
    if (!e.ok()) return e.status();
    out.push_back(*std::move(e));
  }
  return out;
}

absl::StatusOr<std::vector<absl::StatusOr<EncodedText>>> SenderPipeline::EncodeEach(
    const std::vector<std::string>& texts) const {
  if (texts.empty()) return absl::InvalidArgumentError("no texts to encode");
  const auto start = std::chrono::steady_clock::now();
  std::vector<absl::StatusOr<EncodedText>> answers(texts.size(), EncodedText());
  std::vector<TextIds> ids;
  std::vector<size_t> rows;  // answers index of each row of the batch
  for (size_t i = 0; i < texts.size(); ++i) {
    auto text = Tokenize(texts[i], i);
    if (!text.ok()) {
      answers[i] = text.status();
      continue;
    }
    ids.push_back(*std::move(text));
    rows.push_back(i);
  }
  if (ids.empty()) return answers;
  LIP_ASSIGN_OR_RETURN(auto encoded, EncodeIds(ids, start));
  for (size_t r = 0; r < rows.size(); ++r) answers[rows[r]] = std::move(encoded[r]);
  return answers;
}

absl::StatusOr<GeneratedText> SenderPipeline::GenerateText(const std::string& prompt,
                                                           int max_new_tokens) const {
  LIP_ASSIGN_OR_RETURN(auto answers, GenerateEach({{prompt, max_new_tokens}}));
  return std::move(answers.front());
}

absl::StatusOr<std::vector<absl::StatusOr<GeneratedText>>> SenderPipeline::GenerateEach(
    const std::vector<GenerationRequest>& requests) const {
  if (requests.empty()) return absl::InvalidArgumentError("no prompts to continue");
  const auto start = std::chrono::steady_clock::now();
  std::vector<absl::StatusOr<GeneratedText>> answers(requests.size(), GeneratedText());
  std::vector<std::vector<int32_t>> prompts;
  std::vector<size_t> rows;  // answers index of each row of the batch
  int budget = 0;
  for (size_t i = 0; i < requests.size(); ++i) {
    const int max_new_tokens = requests[i].max_new_tokens;
    if (max_new_tokens < 1 || max_new_tokens > 1024) {
      answers[i] = absl::InvalidArgumentError(
          absl::StrCat("max_new_tokens is ", max_new_tokens, ", expected 1..1024"));
      continue;
    }
    auto ids = tokenizer_->Encode(requests[i].prompt, /*add_special_tokens=*/true);
    if (!ids.ok()) {
      answers[i] = ids.status();
      continue;
    }
    if (ids->empty()) {
      answers[i] = absl::InvalidArgumentError("prompt has no tokens");
      continue;
    }
    prompts.push_back(*std::move(ids));
    rows.push_back(i);
    budget = std::max(budget, max_new_tokens);
  }
  if (rows.empty()) return answers;
  // Left-padded: every row's last prompt token is the batch's last position, where decoding goes on.
  size_t longest = 0;
  for (const auto& ids : prompts) longest = std::max(longest, ids.size());
  const int64_t batch = prompts.size();
  torch::Tensor id_tensor = torch::zeros({batch, int64_t(longest)}, torch::kInt64);
  torch::Tensor mask = torch::zeros({batch, int64_t(longest)}, torch::kInt64);
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t n = prompts[b].size(), pad = int64_t(longest) - n;
    id_tensor[b].narrow(0, pad, n).copy_(
        torch::tensor(std::vector<int64_t>(prompts[b].begin(), prompts[b].end())));
    mask[b].narrow(0, pad, n).fill_(1);
  }
  GenerationOptions options;
  options.max_new_tokens = budget;
  for (int32_t id : tokenizer_->eos_ids()) options.stop_token_ids.push_back(id);
  LIP_ASSIGN_OR_RETURN(GenerationResult result, GenerateFromIds(*model_, id_tensor, mask, options));
  const double generate_ms = MillisecondsSince(start);
  for (int64_t b = 0; b < batch; ++b) {
    const int own_budget = requests[rows[b]].max_new_tokens;
    std::vector<int64_t>& tokens = result.tokens[b];
    GeneratedText out;
    // The row alone would have stopped at its own budget: what the batch made past it is not its.
    const bool cut = int64_t(tokens.size()) > own_budget;
    if (cut) tokens.resize(own_budget);
    out.stopped_on_eos = result.stopped[b] && !cut;
    for (int64_t id : tokens) out.token_ids.push_back(static_cast<int32_t>(id));
    if (out.stopped_on_eos && !out.token_ids.empty()) out.token_ids.pop_back();
    auto text = tokenizer_->Decode(out.token_ids, /*skip_special_tokens=*/true);
    if (!text.ok()) {
      answers[rows[b]] = text.status();
      continue;
    }
    out.text = *std::move(text);
    out.generate_ms = generate_ms;
    answers[rows[b]] = std::move(out);
  }
  return answers;
}

EncodedText EncodedForBridge(EncodedText encoded, const BridgeMetadata& bridge) {
  encoded.energy_mode = bridge.receiver.energy.mode;
  encoded.target_reference_energy = bridge.receiver.energy.reference_energy;
  return encoded;
}

}  // namespace lip
