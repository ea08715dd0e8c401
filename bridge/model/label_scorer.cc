#include "bridge/model/label_scorer.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace lip {

absl::StatusOr<torch::Tensor> ScoreLabels(const DecoderModel& model, const torch::Tensor& prefix_embeds,
                                          const torch::Tensor& prefix_mask,
                                          const std::vector<std::vector<int64_t>>& labels,
                                          const LabelScoringOptions& options) {
  if (labels.empty()) return absl::InvalidArgumentError("no labels to score");
  size_t max_len = 0;
  for (size_t l = 0; l < labels.size(); ++l) {
    if (labels[l].empty()) return absl::InvalidArgumentError(absl::StrCat("label ", l, " has no tokens"));
    for (int64_t id : labels[l]) {
      if (id < 0 || id >= model.config().vocab_size) {
        return absl::InvalidArgumentError(absl::StrCat("label ", l, " has token id ", id, " outside [0, ",
                                                       model.config().vocab_size, ")"));
      }
    }
    max_len = std::max(max_len, labels[l].size());
  }
  ForwardInput prefix;
  prefix.inputs_embeds = prefix_embeds;
  prefix.attention_mask = prefix_mask;
  if (auto s = model.CheckForwardInput(prefix); !s.ok()) return s;

  try {
    const int64_t B = prefix_embeds.size(0);
    const int64_t L = static_cast<int64_t>(labels.size());
    const int64_t M = static_cast<int64_t>(max_len);
    const auto dev = prefix_embeds.device();
    // Labels right-padded to M: ids [L,M], mask [L,M].
    torch::Tensor label_ids = torch::zeros({L, M}, torch::kInt64);
    torch::Tensor label_mask = torch::zeros({L, M}, torch::kInt64);
    for (int64_t l = 0; l < L; ++l) {
      for (size_t j = 0; j < labels[l].size(); ++j) {
        label_ids[l][j] = labels[l][j];
        label_mask[l][j] = 1;
      }
    }
    // The host copy of the mask goes to Forward (it tells, without a device sync, whether any label
    // is padded); the device copy weighs the log-probabilities.
    const torch::Tensor host_mask = label_mask.repeat({B, 1});
    label_ids = label_ids.to(dev);
    label_mask = label_mask.to(dev);

    // The cache is kept only when labels have more tokens to read after the first: a prefix without
    // one qualifies for the CUDA-graph forward (LoadOptions::cuda_graphs).
    KvCache cache;
    if (M > 1) prefix.cache = &cache;
    prefix.logits_last_only = true;
    // The prefix's last position predicts every label's first token.
    torch::Tensor first_logp = torch::log_softmax(model.Forward(prefix).logits.select(1, 0), -1);  // [B,V]
    torch::Tensor ids = label_ids.repeat({B, 1});    // row b*L + l = label l
    torch::Tensor mask = label_mask.repeat({B, 1});
    torch::Tensor token_logp = first_logp.repeat_interleave(L, 0).gather(1, ids.narrow(1, 0, 1));  // [B*L,1]
    if (M > 1) {
      cache.RepeatInterleave(L);
      ForwardInput rest;
      rest.inputs_embeds = model.EmbedTokens(ids.narrow(1, 0, M - 1));
      rest.attention_mask = host_mask.narrow(1, 0, M - 1);
      rest.cache = &cache;
      torch::Tensor rest_logp = torch::log_softmax(model.Forward(rest).logits, -1)
                                    .gather(2, ids.narrow(1, 1, M - 1).unsqueeze(-1))
                                    .squeeze(-1);  // [B*L, M-1]
      token_logp = torch::cat({token_logp, rest_logp}, 1);
    }
    torch::Tensor maskf = mask.to(torch::kFloat32);
    torch::Tensor total = (token_logp * maskf).sum(1);
    if (options.length_normalize) total = total / maskf.sum(1);
    return total.view({B, L});
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("label scoring failed: ", e.what_without_backtrace()));
  }
}

}  // namespace lip
