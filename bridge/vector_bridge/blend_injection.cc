#include "bridge/vector_bridge/blend_injection.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/wire/status_macros.h"
#include "bridge/model/kv_cache.h"

namespace lip {

absl::Status ValidateBlendConfig(const BlendConfig& config) {
  if (!(config.alpha >= 0.0 && config.alpha <= 1.0)) {
    return absl::InvalidArgumentError(absl::StrCat("blend alpha is ", config.alpha, ", expected in [0, 1]"));
  }
  if (config.num_layers <= 0) {
    return absl::InvalidArgumentError(absl::StrCat("blend num_layers is ", config.num_layers, ", expected > 0"));
  }
  if (config.last_positions <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("blend last_positions is ", config.last_positions, ", expected > 0"));
  }
  if (config.decode_steps < 0) {
    return absl::InvalidArgumentError(absl::StrCat("blend decode_steps is ", config.decode_steps, ", expected >= 0"));
  }
  return absl::OkStatus();
}

LayerHook BlendHook(const LayerBlend* blend) {
  return [blend](int64_t layer, const torch::Tensor& hidden) -> torch::Tensor {
    const LayerBlend& b = *blend;
    if (b.end <= b.begin || std::find(b.layers.begin(), b.layers.end(), layer) == b.layers.end()) {
      return hidden;
    }
    // h' = (1 - alpha) h + alpha v at positions [begin, end)
    const int64_t T = hidden.size(1);
    torch::Tensor blended = hidden.narrow(1, b.begin, b.end - b.begin) * (1.0 - b.alpha) +
                            b.vector.unsqueeze(1) * b.alpha;
    return torch::cat({hidden.narrow(1, 0, b.begin), blended, hidden.narrow(1, b.end, T - b.end)}, 1);
  };
}

absl::StatusOr<LayerBlend> MakeLayerBlend(const DecoderModel& model, const BlendConfig& config,
                                          const torch::Tensor& vectors, int64_t step_length,
                                          int64_t last_positions) {
  LIP_RETURN_IF_ERROR(ValidateBlendConfig(config));
  if (!vectors.defined() || vectors.dim() != 2 || vectors.size(1) != model.hidden_size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "blend vectors have shape ", vectors.defined() ? c10::str(vectors.sizes()) : std::string("undefined"),
        ", expected [B, ", model.hidden_size(), "]"));
  }
  LayerBlend blend;
  const int64_t n = model.num_layers();
  for (int64_t i = std::max<int64_t>(0, n - config.num_layers); i < n; ++i) blend.layers.push_back(i);
  blend.end = step_length;
  blend.begin = std::max<int64_t>(0, step_length - last_positions);
  blend.alpha = config.alpha;
  blend.vector = vectors.to(model.device(), model.dtype());
  return blend;
}

absl::StatusOr<torch::Tensor> ScoreLabelsWithBlend(const DecoderModel& model,
                                                   const std::vector<int32_t>& prompt_ids,
                                                   const torch::Tensor& vectors,
                                                   const std::vector<std::vector<int64_t>>& labels,
                                                   const BlendConfig& config) {
  if (prompt_ids.empty()) return absl::InvalidArgumentError("blend prompt has no tokens");
  if (labels.empty()) return absl::InvalidArgumentError("no labels to score");
  const int64_t vocab = model.config().vocab_size;
  size_t longest = 0;
  for (size_t l = 0; l < labels.size(); ++l) {
    if (labels[l].empty()) return absl::InvalidArgumentError(absl::StrCat("label ", l, " has no tokens"));
    for (int64_t id : labels[l]) {
      if (id < 0 || id >= vocab) {
        return absl::InvalidArgumentError(absl::StrCat("label ", l, " has id ", id, " outside [0, ", vocab, ")"));
      }
    }
    longest = std::max(longest, labels[l].size());
  }
  for (int32_t id : prompt_ids) {
    if (id < 0 || id >= vocab) {
      return absl::InvalidArgumentError(absl::StrCat("prompt id ", id, " outside [0, ", vocab, ")"));
    }
  }
  const int64_t P = int64_t(prompt_ids.size());
  const int64_t L = int64_t(labels.size());
  const int64_t T = P + int64_t(longest);
  if (!vectors.defined() || vectors.dim() != 2) {
    return absl::InvalidArgumentError("blend vectors must have shape [B, H]");
  }
  const int64_t B = vectors.size(0);
  try {
    // Rows (b, l) in b-major order: [prompt, label_l, padding]; padding is on the right, so
    // the causal mask keeps it out of every position we score.
    std::vector<int64_t> ids(size_t(L * T), 0), mask(size_t(L * T), 0);
    for (int64_t l = 0; l < L; ++l) {
      for (int64_t t = 0; t < P; ++t) ids[l * T + t] = prompt_ids[t], mask[l * T + t] = 1;
      for (size_t j = 0; j < labels[l].size(); ++j) ids[l * T + P + j] = labels[l][j], mask[l * T + P + j] = 1;
    }
    torch::Tensor id_rows = torch::tensor(ids).view({1, L, T}).expand({B, L, T}).reshape({B * L, T});
    torch::Tensor mask_rows = torch::tensor(mask).view({1, L, T}).expand({B, L, T}).reshape({B * L, T});
    LIP_ASSIGN_OR_RETURN(LayerBlend blend,
                         MakeLayerBlend(model, config, vectors.repeat_interleave(L, 0), T, config.last_positions));
    blend.end = P;  // blend the prompt's final positions only, not the label tokens
    blend.begin = std::max<int64_t>(0, P - config.last_positions);
    ForwardInput in;
    in.inputs_embeds = model.EmbedTokens(id_rows);
    in.attention_mask = mask_rows.to(model.device());
    in.after_layer = BlendHook(&blend);
    LIP_RETURN_IF_ERROR(model.CheckForwardInput(in));
    torch::Tensor log_probs = torch::log_softmax(model.Forward(in).logits, -1);  // [B*L, T, V]
    // The token at position P + j is predicted by position P + j - 1.
    std::vector<torch::Tensor> per_label;
    for (int64_t l = 0; l < L; ++l) {
      const int64_t n = int64_t(labels[l].size());
      torch::Tensor rows = log_probs.view({B, L, T, -1}).select(1, l).narrow(1, P - 1, n);  // [B, n, V]
      torch::Tensor targets = torch::tensor(labels[l]).to(rows.device()).view({1, n, 1}).expand({B, n, 1});
      per_label.push_back(rows.gather(2, targets).squeeze(2).sum(1));
    }
    return torch::stack(per_label, 1).to(torch::kCPU);
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("scoring labels with blending: ", e.what_without_backtrace()));
  }
}

absl::StatusOr<GenerationResult> GenerateWithBlend(const DecoderModel& model,
                                                   const std::vector<int32_t>& prompt_ids,
                                                   const torch::Tensor& vectors, const BlendConfig& config,
                                                   const GenerationOptions& options) {
  if (options.do_sample) return absl::InvalidArgumentError("GenerateWithBlend decodes greedily; do_sample is set");
  if (options.max_new_tokens < 0) {
    return absl::InvalidArgumentError(absl::StrCat("max_new_tokens is ", options.max_new_tokens, ", expected >= 0"));
  }
  if (prompt_ids.empty()) return absl::InvalidArgumentError("blend prompt has no tokens");
  if (!vectors.defined() || vectors.dim() != 2) {
    return absl::InvalidArgumentError("blend vectors must have shape [B, H]");
  }
  torch::NoGradGuard no_grad;
  const int64_t B = vectors.size(0);
  const int64_t P = int64_t(prompt_ids.size());
  GenerationResult result;
  result.tokens.assign(size_t(B), {});
  result.stopped.assign(size_t(B), false);
  if (options.max_new_tokens == 0) return result;
  try {
    KvCache cache;
    std::vector<int64_t> prompt(prompt_ids.begin(), prompt_ids.end());
    torch::Tensor ids = torch::tensor(prompt).view({1, P}).expand({B, P}).contiguous();
    for (int64_t step = 0; step < options.max_new_tokens; ++step) {
      const int64_t T = ids.size(1);
      const bool blend_now = step == 0 || step <= config.decode_steps;
      LIP_ASSIGN_OR_RETURN(LayerBlend blend,
                           MakeLayerBlend(model, config, vectors, T, step == 0 ? config.last_positions : 1));
      ForwardInput in;
      in.inputs_embeds = model.EmbedTokens(ids);
      in.cache = &cache;
      in.logits_last_only = true;
      if (blend_now) in.after_layer = BlendHook(&blend);
      LIP_RETURN_IF_ERROR(model.CheckForwardInput(in));
      torch::Tensor logits = model.Forward(in).logits.select(1, 0).to(torch::kCPU);  // [B, V]
      torch::Tensor next = logits.argmax(-1);
      bool all_stopped = true;
      for (int64_t b = 0; b < B; ++b) {
        if (result.stopped[b]) {
          next[b] = options.pad_token_id;
          continue;
        }
        const int64_t token = next[b].item<int64_t>();
        result.tokens[b].push_back(token);
        if (std::find(options.stop_token_ids.begin(), options.stop_token_ids.end(), token) !=
            options.stop_token_ids.end()) {
          result.stopped[b] = true;
        }
        all_stopped = all_stopped && result.stopped[b];
      }
      if (all_stopped || step + 1 == options.max_new_tokens) break;
      ids = next.view({B, 1});
    }
    return result;
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("generating with blending: ", e.what_without_backtrace()));
  }
}

}  // namespace lip
