#include "bridge/vector_bridge/dual_translator.h"

#include <cmath>

#include "absl/strings/str_cat.h"

namespace lip {

absl::Status ValidateDualTranslatorConfig(const DualTranslatorConfig& config) {
  if (config.width_a <= 0) return absl::InvalidArgumentError(absl::StrCat("width_a is ", config.width_a, ", expected > 0"));
  if (config.width_b <= 0) return absl::InvalidArgumentError(absl::StrCat("width_b is ", config.width_b, ", expected > 0"));
  if (config.hidden_width <= 0) {
    return absl::InvalidArgumentError(absl::StrCat("hidden_width is ", config.hidden_width, ", expected > 0"));
  }
  if (config.num_heads <= 0 || config.hidden_width % config.num_heads != 0) {
    return absl::InvalidArgumentError(absl::StrCat("num_heads ", config.num_heads,
                                                   " does not divide hidden_width ", config.hidden_width));
  }
  if (config.num_anchors < 0) {
    return absl::InvalidArgumentError(absl::StrCat("num_anchors is ", config.num_anchors, ", expected >= 0"));
  }
  return absl::OkStatus();
}

VectorTranslatorImpl::VectorTranslatorImpl(int64_t input_width, int64_t output_width,
                                           const DualTranslatorConfig& config)
    : num_heads_(config.num_heads) {
  const int64_t h = config.hidden_width;
  extractor_ = register_module(
      "extractor", torch::nn::Sequential(torch::nn::LayerNorm(torch::nn::LayerNormOptions({input_width})),
                                         torch::nn::Linear(input_width, h), torch::nn::GELU(),
                                         torch::nn::Linear(h, h)));
  anchors_ = register_parameter("anchors", torch::randn({config.num_anchors, h}) * 0.02);
  query_ = register_module("alignment_query", torch::nn::Linear(h, h));
  key_ = register_module("alignment_key", torch::nn::Linear(h, h));
  value_ = register_module("alignment_value", torch::nn::Linear(h, h));
  output_ = register_module("alignment_output", torch::nn::Linear(h, h));
  alignment_norm_ = register_module("alignment_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({h})));
  generator_ = register_module("generator", torch::nn::Sequential(torch::nn::Linear(h, h), torch::nn::GELU(),
                                                                  torch::nn::Linear(h, output_width)));
}

torch::Tensor VectorTranslatorImpl::align(const torch::Tensor& f) {
  const int64_t n = f.size(0), h = f.size(1), heads = num_heads_, d = h / heads;
  // Memory per vector: itself and the shared anchors, [N, 1 + K, h].
  torch::Tensor memory = torch::cat({f.unsqueeze(1), anchors_.unsqueeze(0).expand({n, anchors_.size(0), h})}, 1);
  const int64_t s = memory.size(1);
  torch::Tensor q = query_(f).view({n, heads, 1, d});
  torch::Tensor k = key_(memory).view({n, s, heads, d}).transpose(1, 2);  // [N, heads, S, d]
  torch::Tensor v = value_(memory).view({n, s, heads, d}).transpose(1, 2);
  torch::Tensor probs = torch::softmax(torch::matmul(q, k.transpose(2, 3)) / std::sqrt(double(d)), -1);
  torch::Tensor attended = torch::matmul(probs, v).reshape({n, h});  // heads concatenated
  return output_(attended);
}

torch::Tensor VectorTranslatorImpl::forward(const torch::Tensor& x) {
  torch::Tensor f = extractor_->forward(x);  // [N, h]
  torch::Tensor g = alignment_norm_(f + align(f));
  return generator_->forward(g);
}

DualTranslatorImpl::DualTranslatorImpl(const DualTranslatorConfig& config) : config_(config) {
  a_to_b_ = register_module("a_to_b", VectorTranslator(config.width_a, config.width_b, config));
  b_to_a_ = register_module("b_to_a", VectorTranslator(config.width_b, config.width_a, config));
}

torch::Tensor CycleLoss(const torch::Tensor& original, const torch::Tensor& round_trip) {
  return (round_trip - original).pow(2).mean();
}

torch::Tensor InfoNceLoss(const torch::Tensor& predicted, const torch::Tensor& target, double temperature) {
  torch::Tensor p = torch::nn::functional::normalize(predicted, torch::nn::functional::NormalizeFuncOptions().dim(-1).eps(1e-8));
  torch::Tensor t = torch::nn::functional::normalize(target, torch::nn::functional::NormalizeFuncOptions().dim(-1).eps(1e-8));
  torch::Tensor logits = torch::matmul(p, t.transpose(0, 1)) / temperature;  // [N, N]
  torch::Tensor labels = torch::arange(logits.size(0), torch::TensorOptions().dtype(torch::kInt64).device(logits.device()));
  return torch::nn::functional::cross_entropy(logits, labels);
}

torch::Tensor DistributionLoss(const torch::Tensor& predicted, const torch::Tensor& target) {
  // Biased standard deviation; the 1e-12 keeps the gradient finite where a dimension is constant.
  auto batch_std = [](const torch::Tensor& x) { return ((x - x.mean(0)).pow(2).mean(0) + 1e-12).sqrt(); };
  torch::Tensor mean_gap = (predicted.mean(0) - target.mean(0)).pow(2).mean();
  torch::Tensor std_gap = (batch_std(predicted) - batch_std(target)).pow(2).mean();
  return mean_gap + std_gap;
}

DualTranslationLosses ComputeDualTranslationLosses(DualTranslator& translator, const torch::Tensor& a,
                                                   const torch::Tensor& b, const DualLossWeights& weights) {
  torch::Tensor b_hat = translator->a_to_b(a);
  torch::Tensor a_hat = translator->b_to_a(b);
  DualTranslationLosses l;
  l.translation = (b_hat - b).pow(2).mean() + (a_hat - a).pow(2).mean();
  l.cycle = CycleLoss(a, translator->b_to_a(b_hat)) + CycleLoss(b, translator->a_to_b(a_hat));
  l.info_nce = InfoNceLoss(b_hat, b, weights.temperature) + InfoNceLoss(a_hat, a, weights.temperature);
  l.distribution = DistributionLoss(b_hat, b) + DistributionLoss(a_hat, a);
  l.total = l.translation + weights.cycle * l.cycle + weights.info_nce * l.info_nce +
            weights.distribution * l.distribution;
  return l;
}

}  // namespace lip
