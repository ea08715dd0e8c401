#include "bridge/vector_bridge/text_vector.h"

#include "absl/strings/str_cat.h"
#include "common/wire/status_macros.h"

namespace lip {

const char* VectorPoolingName(VectorPooling pooling) {
  return pooling == VectorPooling::kMean ? "mean" : "last";
}

absl::StatusOr<VectorPooling> ParseVectorPooling(std::string_view name) {
  if (name == "mean") return VectorPooling::kMean;
  if (name == "last") return VectorPooling::kLast;
  return absl::InvalidArgumentError(
      absl::StrCat("pooling \"", std::string(name), "\" is not one of \"mean\", \"last\""));
}

absl::StatusOr<int64_t> ResolveHiddenStateLayer(int64_t layer, int64_t num_layers) {
  const int64_t resolved = layer < 0 ? num_layers + 1 + layer : layer;
  if (resolved < 0 || resolved > num_layers) {
    return absl::InvalidArgumentError(absl::StrCat("layer ", layer, " is outside [", -(num_layers + 1), ", ",
                                                   num_layers, "] for a model with ", num_layers, " blocks"));
  }
  return resolved;
}

absl::StatusOr<torch::Tensor> EncodeTextVectors(const DecoderModel& model, const Tokenizer& tokenizer,
                                                const std::vector<std::string>& texts,
                                                const TextVectorOptions& options) {
  if (texts.empty()) return absl::InvalidArgumentError("no texts to encode");
  if (options.max_text_tokens <= 0) {
    return absl::InvalidArgumentError(absl::StrCat("max_text_tokens is ", options.max_text_tokens, ", expected > 0"));
  }
  LIP_ASSIGN_OR_RETURN(const int64_t layer, ResolveHiddenStateLayer(options.layer, model.num_layers()));
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> rows;
  rows.reserve(texts.size());
  try {
    for (size_t t = 0; t < texts.size(); ++t) {
      LIP_ASSIGN_OR_RETURN(std::vector<int32_t> ids, tokenizer.Encode(texts[t], /*add_special_tokens=*/true));
      if (ids.empty()) return absl::InvalidArgumentError(absl::StrCat("text ", t, " has no tokens"));
      if (int64_t(ids.size()) > options.max_text_tokens) ids.resize(options.max_text_tokens);
      torch::Tensor id_tensor = torch::tensor(std::vector<int64_t>(ids.begin(), ids.end())).unsqueeze(0);
      ForwardInput in;
      in.inputs_embeds = model.EmbedTokens(id_tensor);
      in.stop_after_layer = int(layer);
      torch::Tensor states = model.Forward(in).last_hidden[0].to(torch::kCPU, torch::kFloat32);  // [T,H]
      rows.push_back(options.pooling == VectorPooling::kMean ? states.mean(0) : states[states.size(0) - 1]);
    }
    return torch::stack(rows);
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("encoding text vectors: ", e.what_without_backtrace()));
  }
}

}  // namespace lip
