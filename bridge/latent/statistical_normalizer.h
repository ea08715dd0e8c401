// The statistical normalizer of the sender half: standardizes each dimension of the source
// layer's hidden states with the per-dimension mean and std of that layer, measured once on
// training text (NormalizerStatistics) and stored in the bridge checkpoint as the buffers
// "normalizer.mean" and "normalizer.std".
//
// Why: hidden states of a middle layer have a few huge "massive activation" dimensions; without
// this the Perceiver's attention logits are dominated by them.
//
// Thread-safety: forward() only reads the buffers; concurrent calls are safe once loaded.
#ifndef LIP_BRIDGE_LATENT_STATISTICAL_NORMALIZER_H_
#define LIP_BRIDGE_LATENT_STATISTICAL_NORMALIZER_H_

#include <cstdint>

#include "absl/status/status.h"
#include "bridge/torch_compat.h"

namespace lip {

class StatisticalNormalizerImpl : public torch::nn::Module {
 public:
  // Starts as the identity (mean 0, std 1) until SetStatistics.
  StatisticalNormalizerImpl(int64_t width, double epsilon);

  // states (B, T, width), mask (B, T) bool/0-1 with 1 = real token.
  // Returns (states - mean) / max(std, epsilon), with padded positions set to exactly 0.
  torch::Tensor forward(const torch::Tensor& states, const torch::Tensor& mask) const;

  // Installs fitted statistics. INVALID_ARGUMENT when the shapes are not (width) or a value is
  // not finite / std is negative.
  absl::Status SetStatistics(const torch::Tensor& mean, const torch::Tensor& std);

  const torch::Tensor& mean() const { return mean_; }
  const torch::Tensor& std() const { return std_; }
  int64_t width() const { return width_; }

 private:
  int64_t width_;
  double epsilon_;
  torch::Tensor mean_;  // buffer (width), float32
  torch::Tensor std_;   // buffer (width), float32
};
TORCH_MODULE(StatisticalNormalizer);

// Accumulates per-dimension mean and std over the real (unmasked) tokens of many batches, in
// float64. Not thread-safe.
class NormalizerStatistics {
 public:
  explicit NormalizerStatistics(int64_t width);

  // states (B, T, width), mask (B, T). INVALID_ARGUMENT on a shape mismatch.
  absl::Status Add(const torch::Tensor& states, const torch::Tensor& mask);

  int64_t token_count() const { return count_; }
  // Population mean and std (float32, (width)). FAILED_PRECONDITION before any token was added.
  absl::Status Finish(torch::Tensor* mean, torch::Tensor* std) const;

 private:
  int64_t width_;
  int64_t count_ = 0;
  torch::Tensor sum_;     // float64 (width)
  torch::Tensor sum_sq_;  // float64 (width)
};

}  // namespace lip

#endif  // LIP_BRIDGE_LATENT_STATISTICAL_NORMALIZER_H_
