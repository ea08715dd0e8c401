#include "bridge/model/generation.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "bridge/model/static_decoder.h"

namespace lip {

torch::Tensor ChooseNextTokens(const torch::Tensor& logits, const GenerationOptions& options,
                               at::Generator& generator) {
  // Greedy: argmax where the logits are (first maximum, so the lowest id wins ties on CPU and CUDA
  // alike), and only the [B] ids cross to the host.
  if (!options.do_sample) return logits.detach().argmax(-1).to(torch::kCPU, torch::kInt64);
  torch::Tensor l = logits.detach().to(torch::kCPU, torch::kFloat32);
  torch::Tensor probs = torch::softmax(l / options.temperature, -1);
  if (options.top_p < 1.0) {
    // Keep the most likely tokens until their mass reaches top_p (always at least one).
    auto sorted = probs.sort(/*dim=*/-1, /*descending=*/true);
    torch::Tensor sorted_probs = std::get<0>(sorted);
    torch::Tensor sorted_idx = std::get<1>(sorted);
    torch::Tensor mass_before = sorted_probs.cumsum(-1) - sorted_probs;
    torch::Tensor drop_sorted = mass_before >= options.top_p;
    torch::Tensor drop = torch::zeros_like(drop_sorted).scatter(-1, sorted_idx, drop_sorted);
    probs = probs.masked_fill(drop, 0.0);
    probs = probs / probs.sum(-1, /*keepdim=*/true);
  }
  return torch::multinomial(probs, 1, /*replacement=*/false, generator).squeeze(-1);
}

absl::StatusOr<GenerationResult> Generate(const DecoderModel& model, const torch::Tensor& inputs_embeds,
                                          const torch::Tensor& attention_mask, const GenerationOptions& options) {
  if (options.max_new_tokens < 0) {
    return absl::InvalidArgumentError(absl::StrCat("max_new_tokens is ", options.max_new_tokens, ", expected >= 0"));
  }
  if (options.do_sample && !(options.temperature > 0)) {
    return absl::InvalidArgumentError(absl::StrCat("temperature is ", options.temperature, ", expected > 0"));
  }
  if (options.do_sample && !(options.top_p > 0 && options.top_p <= 1)) {
    return absl::InvalidArgumentError(absl::StrCat("top_p is ", options.top_p, ", expected in (0, 1]"));
  }
  if (options.pad_token_id < 0 || options.pad_token_id >= model.config().vocab_size) {
    return absl::InvalidArgumentError(absl::StrCat("pad_token_id ", options.pad_token_id, " is outside the vocabulary"));
  }
  ForwardInput first;
  first.inputs_embeds = inputs_embeds;
  first.attention_mask = attention_mask;
  if (auto s = model.CheckForwardInput(first); !s.ok()) return s;

  torch::NoGradGuard no_grad;
  GenerationResult result;
  try {
    const int64_t B = inputs_embeds.size(0);
    result.tokens.assign(B, {});
    result.stopped.assign(B, false);
    if (options.max_new_tokens == 0) return result;
    at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(options.seed);
    KvCache cache;
    torch::Tensor embeds = inputs_embeds;
    // Masks stay where the caller made them (a host mask lets Forward see, without a device
    // synchronisation, that nothing is padded and pick the fused unmasked attention).
    torch::Tensor mask = attention_mask.defined() ? attention_mask.to(torch::kInt64)
                                                  : torch::ones({B, inputs_embeds.size(1)}, torch::kInt64);
    first.attention_mask = mask;
    first.cache = options.use_cache ? &cache : nullptr;
    first.logits_last_only = true;
    torch::Tensor logits = model.Forward(first).logits.select(1, 0);  // [B,V]
    const torch::Tensor step_mask = torch::ones({B, 1}, mask.options());
    // The steps after the prefill on a static-shape cache (one CUDA-graph replay each) when a
    // decoder of this bucket is free; otherwise on the growing cache.
    std::unique_ptr<StaticDecodeSession> fixed;
    if (options.use_cache && options.max_new_tokens > 1) {
      fixed = AcquireStaticDecoder(model, B, cache.length() + options.max_new_tokens, options.force_static_cache);
      if (fixed != nullptr) fixed->Load(cache);
    }
    result.static_cache = fixed != nullptr;
    for (int64_t step = 0; step < options.max_new_tokens; ++step) {
      torch::Tensor next = ChooseNextTokens(logits, options, generator);  // [B] CPU
      auto* next_data = next.data_ptr<int64_t>();
      bool all_done = true;
      for (int64_t b = 0; b < B; ++b) {
        const bool done_before = result.stopped[b];
        if (done_before) {
          next_data[b] = options.pad_token_id;
        } else {
          result.tokens[b].push_back(next_data[b]);
          if (std::find(options.stop_token_ids.begin(), options.stop_token_ids.end(), next_data[b]) !=
              options.stop_token_ids.end()) {
            result.stopped[b] = true;
          }
        }
        all_done = all_done && result.stopped[b];
      }
      if (all_done || step + 1 == options.max_new_tokens) break;
      torch::Tensor next_embeds = model.EmbedTokens(next.view({B, 1}));
      if (fixed != nullptr) {
        logits = fixed->Step(next_embeds);
        result.graph_replayed = result.graph_replayed || fixed->graph_replayed();
        continue;
      }
      ForwardInput in;
      in.logits_last_only = true;
      if (options.use_cache) {
        in.inputs_embeds = next_embeds;
        in.attention_mask = step_mask;
        in.cache = &cache;
      } else {
        embeds = torch::cat({embeds, next_embeds}, 1);
        mask = torch::cat({mask, step_mask}, 1);
        in.inputs_embeds = embeds;
        in.attention_mask = mask;
      }
      logits = model.Forward(in).logits.select(1, 0);
    }
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("generation failed: ", e.what_without_backtrace()));
  }
  return result;
}

absl::StatusOr<GenerationResult> GenerateFromIds(const DecoderModel& model, const torch::Tensor& ids,
                                                 const torch::Tensor& attention_mask,
                                                 const GenerationOptions& options) {
  if (!ids.defined() || ids.dim() != 2 || ids.size(1) == 0) {
    return absl::InvalidArgumentError("ids must be a non-empty [B,T] tensor");
  }
  torch::Tensor embeds;
  try {
    torch::NoGradGuard no_grad;
    embeds = model.EmbedTokens(ids);
  } catch (const c10::Error& e) {
    return absl::InvalidArgumentError(e.what_without_backtrace());
  }
  return Generate(model, embeds, attention_mask, options);
}

}  // namespace lip
