// The vector-translation dual translator: two translators between the vector spaces of model A
// and model B (A -> B and B -> A), trained together. Each direction reads top to bottom:
//
//   extractor:  f = Linear(512 -> 512)(GELU(Linear(d_in -> 512)(LayerNorm(x))))
//   alignment:  a = MultiHeadAttention_8(query = f, keys/values = [f, K learned anchors])
//               g = LayerNorm(f + a)
//   generator:  y = Linear(512 -> d_out)(GELU(Linear(512 -> 512)(g)))
//
// Losses over a batch of paired vectors a [N, d_a], b [N, d_b] (ComputeDualTranslationLosses):
//   translation  = MSE(T_ab(a), b) + MSE(T_ba(b), a)
//   cycle        = MSE(T_ba(T_ab(a)), a) + MSE(T_ab(T_ba(b)), b)
//   info_nce     = InfoNCE(T_ab(a), b) + InfoNCE(T_ba(b), a)
//   distribution = Distribution(T_ab(a), b) + Distribution(T_ba(b), a)
//   total        = translation + 0.5 cycle + 0.3 info_nce + 0.2 distribution
// with MSE the mean over all elements, and InfoNCE / Distribution as defined below.
// The A -> B output is blended into model B's residual stream (blend_injection.h).
//
// Ownership: torch module holders (shared ownership). Thread-safety: forward is safe from several
// threads in eval mode without gradients; training is single-threaded.
#ifndef LIP_BRIDGE_VECTOR_BRIDGE_DUAL_TRANSLATOR_H_
#define LIP_BRIDGE_VECTOR_BRIDGE_DUAL_TRANSLATOR_H_

#include <cstdint>

#include "absl/status/status.h"
#include "bridge/torch_compat.h"

namespace lip {

struct DualTranslatorConfig {
  int64_t width_a = 0;         // model A's vector width (required, > 0)
  int64_t width_b = 0;         // model B's vector width (required, > 0)
  int64_t hidden_width = 512;  // extractor / alignment / generator width
  int64_t num_heads = 8;       // alignment heads; must divide hidden_width
  int64_t num_anchors = 16;    // learned alignment keys/values besides the vector itself
};
// INVALID_ARGUMENT naming the first bad field and its value.
absl::Status ValidateDualTranslatorConfig(const DualTranslatorConfig& config);

// One direction: d_in -> d_out.
class VectorTranslatorImpl : public torch::nn::Module {
 public:
  VectorTranslatorImpl(int64_t input_width, int64_t output_width, const DualTranslatorConfig& config);

  // x [N, d_in] -> [N, d_out].
  torch::Tensor forward(const torch::Tensor& x);

 private:
  // Multi-head attention of one query per vector over [the vector, anchors]: [N, h] -> [N, h].
  torch::Tensor align(const torch::Tensor& f);

  int64_t num_heads_;
  torch::nn::Sequential extractor_{nullptr};
  torch::Tensor anchors_;  // [num_anchors, hidden]
  torch::nn::Linear query_{nullptr}, key_{nullptr}, value_{nullptr}, output_{nullptr};
  torch::nn::LayerNorm alignment_norm_{nullptr};
  torch::nn::Sequential generator_{nullptr};
};
TORCH_MODULE(VectorTranslator);

class DualTranslatorImpl : public torch::nn::Module {
 public:
  // The config must be valid (ValidateDualTranslatorConfig).
  explicit DualTranslatorImpl(const DualTranslatorConfig& config);

  torch::Tensor a_to_b(const torch::Tensor& a) { return a_to_b_(a); }  // [N, d_a] -> [N, d_b]
  torch::Tensor b_to_a(const torch::Tensor& b) { return b_to_a_(b); }  // [N, d_b] -> [N, d_a]
  const DualTranslatorConfig& config() const { return config_; }

 private:
  DualTranslatorConfig config_;
  VectorTranslator a_to_b_{nullptr};
  VectorTranslator b_to_a_{nullptr};
};
TORCH_MODULE(DualTranslator);

// Mean squared error between x and its round trip through both translators.
torch::Tensor CycleLoss(const torch::Tensor& original, const torch::Tensor& round_trip);

// InfoNCE over a batch, cosine similarity with temperature tau: logits_ij = cos(p_i, t_j) / tau,
// loss = mean_i cross_entropy(logits_i, i). Each prediction must pick its own target out of the
// batch. [N, d] each, N >= 1.
torch::Tensor InfoNceLoss(const torch::Tensor& predicted, const torch::Tensor& target,
                          double temperature = 0.07);

// Matches the first two moments per dimension over the batch:
// mean_d (mean_N(p)_d - mean_N(t)_d)^2 + mean_d (std_N(p)_d - std_N(t)_d)^2, with the biased
// std_N(x)_d = sqrt(mean_N((x - mean_N(x))^2)_d + 1e-12).
torch::Tensor DistributionLoss(const torch::Tensor& predicted, const torch::Tensor& target);

struct DualLossWeights {
  double cycle = 0.5;
  double info_nce = 0.3;
  double distribution = 0.2;
  double temperature = 0.07;  // InfoNCE tau
};

struct DualTranslationLosses {
  torch::Tensor total, translation, cycle, info_nce, distribution;  // scalars
};

// All losses of one batch (see the header comment). a [N, d_a], b [N, d_b], same N.
DualTranslationLosses ComputeDualTranslationLosses(DualTranslator& translator, const torch::Tensor& a,
                                                   const torch::Tensor& b, const DualLossWeights& weights = {});

}  // namespace lip

#endif  // LIP_BRIDGE_VECTOR_BRIDGE_DUAL_TRANSLATOR_H_
