// LIP's single-vector bottleneck adapter: maps one pooled sender vector (text_vector.h) to ONE
// soft token of the receiver's width,
//
//   v = Linear(512 -> d_r)(GELU(Linear(d_s -> 512)(LayerNorm(x))))
//
// trained on paired vectors of the same text (the sender's and the receiver's own pooled last
// hidden state) with the hybrid loss MSE + lambda * (1 - cos), lambda = 2. At inference the
// output is energy-matched (energy_matcher.h), primed as [BOS, prefix, v, anchor]
// (context_primer.h) and classified by label scoring (label_scorer.h): ClassifyWithSoftVector.
//
// Ownership: BottleneckAdapter is a torch module holder (shared ownership). Thread-safety: forward
// is safe from several threads in eval mode without gradients; training is single-threaded.
#ifndef LIP_BRIDGE_VECTOR_BRIDGE_BOTTLENECK_ADAPTER_H_
#define LIP_BRIDGE_VECTOR_BRIDGE_BOTTLENECK_ADAPTER_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "bridge/latent/context_primer.h"
#include "bridge/latent/energy_matcher.h"
#include "bridge/model/decoder_model.h"
#include "bridge/torch_compat.h"

namespace lip {

struct BottleneckAdapterConfig {
  int64_t input_width = 0;     // d_s: the sender's hidden size (required, > 0)
  int64_t hidden_width = 512;  // the bottleneck
  int64_t output_width = 0;    // d_r: the receiver's hidden size (required, > 0)
};
// INVALID_ARGUMENT naming the first width that is not positive.
absl::Status ValidateBottleneckAdapterConfig(const BottleneckAdapterConfig& config);

class BottleneckAdapterImpl : public torch::nn::Module {
 public:
  // The config must be valid (ValidateBottleneckAdapterConfig); LibTorch initialization.
  explicit BottleneckAdapterImpl(const BottleneckAdapterConfig& config);

  // x [..., d_s] -> [..., d_r].
  torch::Tensor forward(const torch::Tensor& x);

  const BottleneckAdapterConfig& config() const { return config_; }

 private:
  BottleneckAdapterConfig config_;
  torch::nn::LayerNorm input_norm_{nullptr};
  torch::nn::Linear down_{nullptr};  // d_s -> hidden
  torch::nn::Linear up_{nullptr};    // hidden -> d_r
};
TORCH_MODULE(BottleneckAdapter);

// The hybrid loss of paired vectors [N, d]: mean squared error over all elements plus
// lambda times the mean over rows of (1 - cosine similarity). Differentiable in `predicted`.
torch::Tensor HybridVectorLoss(const torch::Tensor& predicted, const torch::Tensor& target,
                               double lambda = 2.0);

// Classification with one soft token per message: receiver-width vectors [B, d_r] -> energy
// matching -> [BOS, prefix, v, anchor] -> log p(label | frame) for each label: [B, num_labels].
// Differentiable in `vectors` (callers that do not train hold a NoGradGuard). Errors from the
// primer and the label scorer pass through (INVALID_ARGUMENT naming the widths or ids).
absl::StatusOr<torch::Tensor> ScoreLabelsWithSoftVector(const DecoderModel& receiver,
                                                        const ContextPrimer& primer,
                                                        const EnergyMatcher& energy,
                                                        const torch::Tensor& vectors,
                                                        const std::vector<std::vector<int64_t>>& labels);

}  // namespace lip

#endif  // LIP_BRIDGE_VECTOR_BRIDGE_BOTTLENECK_ADAPTER_H_
