#include "bridge/latent/perceiver_resampler.h"

#include <cmath>
#include <limits>

namespace lip {
namespace {

torch::nn::Linear MakeLinear(int64_t in, int64_t out, bool bias) {
  return torch::nn::Linear(torch::nn::LinearOptions(in, out).bias(bias));
}

torch::nn::LayerNorm MakeLayerNorm(int64_t width) {
  return torch::nn::LayerNorm(torch::nn::LayerNormOptions({width}));
}

}  // namespace

AttentionImpl::AttentionImpl(int64_t width, int64_t num_heads)
    : num_heads_(num_heads), head_dim_(width / num_heads) {
  query_ = register_module("query", MakeLinear(width, width, false));
  key_ = register_module("key", MakeLinear(width, width, false));
  value_ = register_module("value", MakeLinear(width, width, false));
  output_ = register_module("output", MakeLinear(width, width, false));
}

torch::Tensor AttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& context,
                                     const torch::Tensor& key_mask) {
  const int64_t batch = x.size(0), num_queries = x.size(1), num_keys = context.size(1);
  // (B, len, width) -> (B, heads, len, head_dim)
  auto split_heads = [&](const torch::Tensor& t, int64_t len) {
    return t.view({batch, len, num_heads_, head_dim_}).transpose(1, 2);
  };
  torch::Tensor q = split_heads(query_->forward(x), num_queries);
  torch::Tensor k = split_heads(key_->forward(context), num_keys);
  torch::Tensor v = split_heads(value_->forward(context), num_keys);

#if LIP_TORCH2
  if (fused_ && x.is_cuda()) {
    // A boolean mask with true = attend, broadcast over heads and queries; none for all keys.
    c10::optional<torch::Tensor> attend;
    if (key_mask.defined()) attend = key_mask.to(torch::kBool).view({batch, 1, 1, num_keys});
    torch::Tensor attended = at::scaled_dot_product_attention(q, k, v, attend);
    return output_->forward(attended.transpose(1, 2).reshape({batch, num_queries, num_heads_ * head_dim_}));
  }
#endif
  torch::Tensor scores = torch::matmul(q, k.transpose(-2, -1)) / std::sqrt(double(head_dim_));
  if (key_mask.defined()) {
    torch::Tensor masked_out = key_mask.to(torch::kBool).logical_not().view({batch, 1, 1, num_keys});
    scores = scores.masked_fill(masked_out, -std::numeric_limits<float>::infinity());
  }
  torch::Tensor weights = torch::softmax(scores, -1);
  torch::Tensor attended = torch::matmul(weights, v);  // (B, heads, Q, head_dim)
  attended = attended.transpose(1, 2).reshape({batch, num_queries, num_heads_ * head_dim_});
  return output_->forward(attended);
}

PerceiverBlockImpl::PerceiverBlockImpl(int64_t width, int64_t num_heads, int64_t ffn_multiplier) {
  cross_norm_ = register_module("cross_norm", MakeLayerNorm(width));
  states_norm_ = register_module("states_norm", MakeLayerNorm(width));
  cross_attention_ = register_module("cross_attention", Attention(width, num_heads));
  self_norm_ = register_module("self_norm", MakeLayerNorm(width));
  self_attention_ = register_module("self_attention", Attention(width, num_heads));
  ffn_norm_ = register_module("ffn_norm", MakeLayerNorm(width));
  ffn_up_ = register_module("ffn_up", MakeLinear(width, ffn_multiplier * width, true));
  ffn_down_ = register_module("ffn_down", MakeLinear(ffn_multiplier * width, width, true));
}

torch::Tensor PerceiverBlockImpl::forward(const torch::Tensor& latents,
                                          const torch::Tensor& states, const torch::Tensor& mask) {
  torch::Tensor x = latents;
  x = x + cross_attention_->forward(cross_norm_->forward(x), states_norm_->forward(states), mask);
  torch::Tensor h = self_norm_->forward(x);
  x = x + self_attention_->forward(h, h);
  x = x + ffn_down_->forward(torch::gelu(ffn_up_->forward(ffn_norm_->forward(x))));
  return x;
}

PerceiverResamplerImpl::PerceiverResamplerImpl(const PerceiverConfig& config) : config_(config) {
  queries_ = register_parameter("queries",
                                torch::randn({config.num_queries, config.width}) * 0.02);
  input_projection_ =
      register_module("input_projection", MakeLinear(config.input_width, config.width, true));
  blocks_ = register_module("blocks", torch::nn::ModuleList());
  for (int64_t i = 0; i < config.depth; ++i) {
    blocks_->push_back(PerceiverBlock(config.width, config.num_heads, config.ffn_multiplier));
  }
  output_norm_ = register_module("output_norm", MakeLayerNorm(config.width));
  output_projection_ = register_module("output_projection",
                                       MakeLinear(config.width, config.output_width, true));
}

void PerceiverResamplerImpl::SetFusedAttention(bool fused) {
  for (const auto& module : modules(/*include_self=*/false)) {
    if (auto* attention = module->as<AttentionImpl>()) attention->set_fused(fused);
  }
}

torch::Tensor PerceiverResamplerImpl::forward(const torch::Tensor& states,
                                              const torch::Tensor& mask) {
  const int64_t batch = states.size(0);
  torch::Tensor s = input_projection_->forward(states);
  torch::Tensor x = queries_.unsqueeze(0).expand({batch, config_.num_queries, config_.width});
  for (const auto& block : *blocks_) {
    x = block->as<PerceiverBlockImpl>()->forward(x, s, mask);
  }
  return output_projection_->forward(output_norm_->forward(x));
}

}  // namespace lip
