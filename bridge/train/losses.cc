#include "bridge/train/losses.h"

namespace lip {

torch::Tensor FirstTokenLoss(const torch::Tensor& next_token_logits,
                             const torch::Tensor& answer_first_tokens) {
  return torch::nn::functional::cross_entropy(next_token_logits.to(torch::kFloat32), answer_first_tokens);
}

torch::Tensor LabelCrossEntropy(const torch::Tensor& next_token_logits,
                                const torch::Tensor& label_token_ids, const torch::Tensor& labels) {
  torch::Tensor label_logits = next_token_logits.to(torch::kFloat32).index_select(1, label_token_ids);
  return torch::nn::functional::cross_entropy(label_logits, labels);
}

torch::Tensor DiversityLoss(const torch::Tensor& z) {
  const int64_t batch = z.size(0);
  if (batch < 2) return torch::zeros({}, z.options());
  torch::Tensor pooled = torch::nn::functional::normalize(
      z.mean(1), torch::nn::functional::NormalizeFuncOptions().dim(-1).eps(1e-8));
  torch::Tensor similarity = torch::matmul(pooled, pooled.t());
  torch::Tensor off_diagonal = similarity.sum() - similarity.diagonal().sum();
  return off_diagonal / double(batch * (batch - 1));
}

}  // namespace lip
