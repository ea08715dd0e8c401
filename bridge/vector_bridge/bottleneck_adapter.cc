#include "bridge/vector_bridge/bottleneck_adapter.h"

#include "absl/strings/str_cat.h"
#include "common/wire/status_macros.h"
#include "bridge/model/label_scorer.h"

namespace lip {

absl::Status ValidateBottleneckAdapterConfig(const BottleneckAdapterConfig& config) {
  if (config.input_width <= 0) {
    return absl::InvalidArgumentError(absl::StrCat("bottleneck input_width is ", config.input_width, ", expected > 0"));
  }
  if (config.hidden_width <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("bottleneck hidden_width is ", config.hidden_width, ", expected > 0"));
  }
  if (config.output_width <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("bottleneck output_width is ", config.output_width, ", expected > 0"));
  }
  return absl::OkStatus();
}

BottleneckAdapterImpl::BottleneckAdapterImpl(const BottleneckAdapterConfig& config) : config_(config) {
  input_norm_ = register_module(
      "input_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({config.input_width})));
  down_ = register_module("down", torch::nn::Linear(config.input_width, config.hidden_width));
  up_ = register_module("up", torch::nn::Linear(config.hidden_width, config.output_width));
}

torch::Tensor BottleneckAdapterImpl::forward(const torch::Tensor& x) {
  return up_(torch::gelu(down_(input_norm_(x))));
}

torch::Tensor HybridVectorLoss(const torch::Tensor& predicted, const torch::Tensor& target, double lambda) {
  torch::Tensor mse = (predicted - target).pow(2).mean();
  torch::Tensor cosine = torch::cosine_similarity(predicted, target, /*dim=*/-1, /*eps=*/1e-8);
  return mse + lambda * (1.0 - cosine).mean();
}

absl::StatusOr<torch::Tensor> ScoreLabelsWithSoftVector(const DecoderModel& receiver,
                                                        const ContextPrimer& primer,
                                                        const EnergyMatcher& energy,
                                                        const torch::Tensor& vectors,
                                                        const std::vector<std::vector<int64_t>>& labels) {
  if (!vectors.defined() || vectors.dim() != 2) {
    return absl::InvalidArgumentError(absl::StrCat(
        "soft vectors have ", vectors.defined() ? vectors.dim() : 0, " dimensions, expected [B, d_r]"));
  }
  try {
    torch::Tensor soft = energy.Match(vectors).unsqueeze(1).to(receiver.device(), receiver.dtype());
    LIP_ASSIGN_OR_RETURN(PrimedSequence primed, primer.Prime(soft, receiver.embedding_weight()));
    return ScoreLabels(receiver, primed.inputs_embeds, primed.attention_mask, labels);
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("scoring labels: ", e.what_without_backtrace()));
  }
}

}  // namespace lip
