#include "bridge/latent/context_primer.h"

#include "absl/strings/str_cat.h"

namespace lip {

absl::StatusOr<PrimingTokens> TokenizePriming(const Tokenizer& tokenizer,
                                              const PrimingConfig& priming) {
  PrimingTokens tokens;
  tokens.bos = tokenizer.bos_id();
  auto prefix = tokenizer.Encode(priming.context_prefix, /*add_special_tokens=*/false);
  if (!prefix.ok()) return prefix.status();
  auto anchor = tokenizer.Encode(priming.anchor, /*add_special_tokens=*/false);
  if (!anchor.ok()) return anchor.status();
  tokens.prefix = std::move(*prefix);
  tokens.anchor = std::move(*anchor);
  return tokens;
}

std::vector<int32_t> ContextPrimer::FrameText(const std::vector<int32_t>& text_ids) const {
  std::vector<int32_t> ids;
  ids.reserve(head_length() + text_ids.size() + tail_length());
  if (tokens_.bos) ids.push_back(*tokens_.bos);
  ids.insert(ids.end(), tokens_.prefix.begin(), tokens_.prefix.end());
  ids.insert(ids.end(), text_ids.begin(), text_ids.end());
  ids.insert(ids.end(), tokens_.anchor.begin(), tokens_.anchor.end());
  return ids;
}

absl::StatusOr<PrimedSequence> ContextPrimer::Prime(const torch::Tensor& soft,
                                                    const torch::Tensor& embedding_weight) const {
  if (!soft.defined() || soft.dim() != 3) {
    return absl::InvalidArgumentError(absl::StrCat(
        "soft tokens have shape ", soft.defined() ? c10::str(soft.sizes()) : std::string("(undefined)"),
        ", expected (batch, M, width)"));
  }
  if (!embedding_weight.defined() || embedding_weight.dim() != 2 ||
      embedding_weight.size(1) != soft.size(2)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "soft tokens have width ", soft.size(2), " but the receiver embedding has shape ",
        embedding_weight.defined() ? c10::str(embedding_weight.sizes()) : std::string("(undefined)")));
  }
  const int64_t vocab = embedding_weight.size(0);
  auto embed = [&](const std::vector<int32_t>& ids) -> absl::StatusOr<torch::Tensor> {
    for (int32_t id : ids) {
      if (id < 0 || id >= vocab) {
        return absl::InvalidArgumentError(
            absl::StrCat("priming token id ", id, " is outside the receiver vocabulary [0, ", vocab, ")"));
      }
    }
    torch::Tensor index = torch::tensor(std::vector<int64_t>(ids.begin(), ids.end()), torch::kInt64)
                              .to(embedding_weight.device());
    return embedding_weight.detach().index_select(0, index).to(soft.dtype());
  };
  std::vector<int32_t> head_ids;
  if (tokens_.bos) head_ids.push_back(*tokens_.bos);
  head_ids.insert(head_ids.end(), tokens_.prefix.begin(), tokens_.prefix.end());
  auto head = embed(head_ids);
  if (!head.ok()) return head.status();
  auto tail = embed(tokens_.anchor);
  if (!tail.ok()) return tail.status();

  const int64_t batch = soft.size(0), width = soft.size(2);
  PrimedSequence primed;
  primed.inputs_embeds =
      torch::cat({head->unsqueeze(0).expand({batch, head->size(0), width}), soft,
                  tail->unsqueeze(0).expand({batch, tail->size(0), width})},
                 1);
  // On the host: DecoderModel::Forward sees from it, without a device sync, that nothing is padded.
  primed.attention_mask = torch::ones({batch, primed.inputs_embeds.size(1)}, torch::kInt64);
  primed.soft_begin = head->size(0);
  primed.soft_end = primed.soft_begin + soft.size(1);
  return primed;
}

}  // namespace lip
