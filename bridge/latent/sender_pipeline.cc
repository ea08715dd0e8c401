#include "bridge/latent/sender_pipeline.h"

#include <algorithm>
#include <chrono>

#include "absl/strings/str_cat.h"
#include "bridge/model/benchmark_model.h"
#include "common/wire/status_macros.h"
#include "bridge/model/generation.h"

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
  return pipeline;
}

absl::StatusOr<SourceStates> SenderPipeline::ReadSourceStates(
    const std::vector<std::string>& texts) const {
  if (texts.empty()) return absl::InvalidArgumentError("no texts to encode");
  const SenderHalfConfig& config = half_.metadata.sender;
  std::vector<std::vector<int32_t>> ids(texts.size());
  SourceStates out;
  out.truncated.assign(texts.size(), false);
  int64_t longest = 0;
  for (size_t i = 0; i < texts.size(); ++i) {
    if (texts[i].empty()) return absl::InvalidArgumentError(absl::StrCat("text ", i, " is empty"));
    auto encoded = tokenizer_->Encode(texts[i], /*add_special_tokens=*/true);
    if (!encoded.ok()) {
      return absl::Status(encoded.status().code(),
                          absl::StrCat("text ", i, ": ", encoded.status().message()));
    }
    ids[i] = std::move(*encoded);
    if (ids[i].empty()) return absl::InvalidArgumentError(absl::StrCat("text ", i, " has no tokens"));
    if (int64_t(ids[i].size()) > config.max_text_tokens) {
      ids[i].resize(config.max_text_tokens);
      out.truncated[i] = true;
    }
    out.text_tokens.push_back(ids[i].size());
    longest = std::max<int64_t>(longest, ids[i].size());
  }
  const int64_t batch = texts.size();
  torch::Tensor id_tensor = torch::zeros({batch, longest}, torch::kInt64);
  torch::Tensor mask = torch::zeros({batch, longest}, torch::kInt64);
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t n = ids[b].size();
    id_tensor[b].narrow(0, 0, n).copy_(torch::tensor(std::vector<int64_t>(ids[b].begin(), ids[b].end())));
    mask[b].narrow(0, 0, n).fill_(1);
  }
  try {
    torch::NoGradGuard no_grad;
    ForwardInput input;
    input.inputs_embeds = model_->EmbedTokens(id_tensor);
    input.attention_mask = mask;  // on the host: Forward sees without a device sync whether any is padding
    input.stop_after_layer = static_cast<int>(config.source_layer);
    out.states = model_->Forward(input).last_hidden.to(torch::kFloat32);
    out.mask = mask.to(model_->device());
    return out;
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("sender model failed: ", e.what_without_backtrace()));
  }
}

absl::StatusOr<std::vector<EncodedText>> SenderPipeline::Encode(
    const std::vector<std::string>& texts) const {
  const auto start = std::chrono::steady_clock::now();
  LIP_ASSIGN_OR_RETURN(SourceStates source, ReadSourceStates(texts));
  try {
    torch::NoGradGuard no_grad;
    LIP_ASSIGN_OR_RETURN(torch::Tensor z, half_.encoder->Encode(source.states, source.mask));
    z = z.to(torch::kCPU, torch::kFloat32).contiguous();
    const double encode_ms = MillisecondsSince(start);
    const int64_t batch = z.size(0), m = z.size(1), width = z.size(2);
    std::vector<EncodedText> out(batch);
    for (int64_t b = 0; b < batch; ++b) {
      EncodedText& e = out[b];
      const float* data = z[b].data_ptr<float>();
      e.z.assign(data, data + m * width);
      e.num_soft_tokens = m;
      e.width = width;
      e.energy_mode = half_.metadata.receiver.energy.mode;
      e.target_reference_energy = half_.metadata.receiver.energy.reference_energy;
      e.source_layer = half_.metadata.sender.source_layer;
      e.text_tokens = source.text_tokens[b];
      e.truncated = source.truncated[b];
      e.encode_ms = encode_ms;
    }
    return out;
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("sender encode failed: ", e.what_without_backtrace()));
  }
}

absl::StatusOr<GeneratedText> SenderPipeline::GenerateText(const std::string& prompt,
                                                           int max_new_tokens) const {
  if (max_new_tokens < 1 || max_new_tokens > 1024) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_new_tokens is ", max_new_tokens, ", expected 1..1024"));
  }
  const auto start = std::chrono::steady_clock::now();
  LIP_ASSIGN_OR_RETURN(std::vector<int32_t> ids, tokenizer_->Encode(prompt, /*add_special_tokens=*/true));
  if (ids.empty()) return absl::InvalidArgumentError("prompt has no tokens");
  GenerationOptions options;
  options.max_new_tokens = max_new_tokens;
  for (int32_t id : tokenizer_->eos_ids()) options.stop_token_ids.push_back(id);
  torch::Tensor id_tensor = torch::tensor(std::vector<int64_t>(ids.begin(), ids.end())).unsqueeze(0);
  LIP_ASSIGN_OR_RETURN(GenerationResult result,
                       GenerateFromIds(*model_, id_tensor, torch::ones_like(id_tensor), options));
  GeneratedText out;
  out.stopped_on_eos = result.stopped[0];
  for (int64_t id : result.tokens[0]) out.token_ids.push_back(static_cast<int32_t>(id));
  if (out.stopped_on_eos && !out.token_ids.empty()) out.token_ids.pop_back();
  LIP_ASSIGN_OR_RETURN(out.text, tokenizer_->Decode(out.token_ids, /*skip_special_tokens=*/true));
  out.generate_ms = MillisecondsSince(start);
  return out;
}

}  // namespace lip
