#include "bridge/eval/continuation_eval.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "common/wire/status_macros.h"

namespace lip {
namespace {

// The receiver's embeddings (1, L, d) of `ids`.
torch::Tensor EmbedIds(const DecoderModel& model, const std::vector<int32_t>& ids) {
  std::vector<int64_t> wide(ids.begin(), ids.end());
  torch::Tensor index = torch::tensor(wide, torch::kInt64).to(model.device());
  return model.embedding_weight().index_select(0, index).unsqueeze(0);
}

torch::Tensor Targets(const std::vector<ContinuationExample>& examples, int64_t begin, int64_t end, int64_t k) {
  std::vector<int64_t> flat;
  for (int64_t i = begin; i < end; ++i) flat.insert(flat.end(), examples[i].targets.begin(), examples[i].targets.end());
  return torch::tensor(flat, torch::kInt64).reshape({end - begin, k});
}

// The first words of `continuation` covering about `tokens` receiver tokens (for display).
std::string Head(const Tokenizer& tokenizer, const std::string& continuation, int64_t tokens) {
  auto ids = tokenizer.Encode(continuation, /*add_special_tokens=*/false);
  if (!ids.ok()) return continuation;
  ids->resize(std::min<size_t>(ids->size(), size_t(tokens)));
  auto text = tokenizer.Decode(*ids, /*skip_special_tokens=*/true);
  return text.ok() ? *text : continuation;
}

}  // namespace

absl::StatusOr<ContinuationEvaluation> EvaluateContinuation(const SenderPipeline& sender,
                                                            const ReceiverPipeline& receiver,
                                                            const std::vector<ContinuationExample>& examples,
                                                            const ContinuationEvalOptions& options) {
  if (examples.empty()) return absl::InvalidArgumentError("no passages to evaluate");
  const int64_t k = examples[0].targets.size();
  for (const ContinuationExample& e : examples) {
    if (int64_t(e.targets.size()) != k || k < 1) {
      return absl::InvalidArgumentError("every passage needs the same number (>= 1) of continuation tokens");
    }
  }
  const DecoderModel& model = receiver.model();
  const Tokenizer& tokenizer = receiver.tokenizer();
  LIP_ASSIGN_OR_RETURN(PrimingTokens priming, TokenizePriming(tokenizer, receiver.bridge().priming));
  const ContextPrimer primer(priming);
  if (primer.head_length() + primer.tail_length() == 0) {
    return absl::InvalidArgumentError("the bridge's frame is empty without a prefix (no BOS, context or anchor)");
  }
  const int64_t total = examples.size();
  const int64_t batch_size = std::max<int64_t>(1, options.batch_size);
  double sum_none = 0, sum_soft = 0, sum_text = 0, sum_mismatched = 0;
  int64_t mismatched = 0;
  torch::NoGradGuard no_grad;
  try {
    const torch::Tensor empty_frame = EmbedIds(model, primer.FrameText({}));
    for (int64_t begin = 0; begin < total; begin += batch_size) {
      const int64_t end = std::min(begin + batch_size, total);
      const int64_t b = end - begin;
      const torch::Tensor targets = Targets(examples, begin, end, k);
      // none: one frame for every passage.
      sum_none += ContinuationNll(model, empty_frame.expand({b, -1, -1}), targets).sum().item<double>();
      // soft: the deployed sender path, then the receiver half.
      std::vector<std::string> prefixes;
      for (int64_t i = begin; i < end; ++i) prefixes.push_back(examples[i].prefix);
      LIP_ASSIGN_OR_RETURN(std::vector<EncodedText> encoded, sender.Encode(prefixes));
      const int64_t m = encoded[0].num_soft_tokens, width = encoded[0].width;
      std::vector<float> flat;
      for (const EncodedText& e : encoded) flat.insert(flat.end(), e.z.begin(), e.z.end());
      torch::Tensor z = torch::from_blob(flat.data(), {b, m, width}, torch::kFloat32).clone();
      LIP_ASSIGN_OR_RETURN(PrimedSequence primed, primer.Prime(receiver.AdaptSoftTokens(z), model.embedding_weight()));
      sum_soft += ContinuationNll(model, primed.inputs_embeds, targets).sum().item<double>();
      // mismatched: every passage gets the soft tokens of the passage half a batch away.
      if (b >= 2) {
        sum_mismatched += ContinuationNll(model, primed.inputs_embeds.roll(b / 2, 0), targets).sum().item<double>();
        mismatched += b;
      }
      // text: frames differ in length, one passage at a time.
      for (int64_t i = begin; i < end; ++i) {
        LIP_ASSIGN_OR_RETURN(std::vector<int32_t> prefix_ids, tokenizer.Encode(examples[i].prefix, false));
        sum_text += ContinuationNll(model, EmbedIds(model, primer.FrameText(prefix_ids)), targets.slice(0, i - begin, i - begin + 1))
                        .sum()
                        .item<double>();
      }
      if (options.progress) options.progress(end, total);
    }
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("continuation evaluation failed: ", e.what_without_backtrace()));
  }
  ContinuationEvaluation result;
  result.passages = total;
  result.tokens_per_passage = k;
  const double tokens = double(total) * k;
  result.nll_none = sum_none / tokens;
  result.nll_soft = sum_soft / tokens;
  result.nll_text = sum_text / tokens;
  const double gap = result.nll_none - result.nll_text;
  result.gap_closed = gap != 0 ? (result.nll_none - result.nll_soft) / gap : std::numeric_limits<double>::quiet_NaN();
  result.mismatched_passages = mismatched;
  if (mismatched > 0) {
    result.nll_mismatched = sum_mismatched / (double(mismatched) * k);
    result.passage_gap_closed =
        gap != 0 ? (result.nll_mismatched - result.nll_soft) / gap : std::numeric_limits<double>::quiet_NaN();
  }

  // Greedy continuations over the receiver's serving path.
  const int64_t samples = std::min<int64_t>(options.samples, total);
  if (samples > 0) {
    ReceiverTask generate;
    generate.kind = ReceiverTask::Kind::kGenerate;
    generate.max_new_tokens = options.sample_tokens;
    std::vector<std::string> prefixes;
    for (int64_t i = 0; i < samples; ++i) prefixes.push_back(examples[i].prefix);
    LIP_ASSIGN_OR_RETURN(std::vector<EncodedText> encoded, sender.Encode(prefixes));
    std::vector<LatentMessage> messages(samples);
    std::vector<TextMessage> texts(samples);
    for (int64_t i = 0; i < samples; ++i) {
      messages[i].z = std::move(encoded[i].z);
      messages[i].num_soft_tokens = encoded[i].num_soft_tokens;
      messages[i].width = encoded[i].width;
      messages[i].task = generate;
      texts[i].text = examples[i].prefix;
      texts[i].task = generate;
    }
    LIP_ASSIGN_OR_RETURN(auto soft_answers, receiver.Answer(messages));
    LIP_ASSIGN_OR_RETURN(auto text_answers, receiver.AnswerText(texts));
    for (int64_t i = 0; i < samples; ++i) {
      if (!soft_answers[i].ok()) return soft_answers[i].status();
      if (!text_answers[i].ok()) return text_answers[i].status();
      result.samples.push_back({examples[i].prefix, Head(tokenizer, examples[i].continuation, options.sample_tokens),
                                soft_answers[i]->text, text_answers[i]->text});
    }
  }
  return result;
}

nlohmann::json ContinuationEvaluationToJson(const ContinuationEvaluation& e) {
  nlohmann::json samples = nlohmann::json::array();
  for (const ContinuationSample& s : e.samples) {
    samples.push_back({{"prefix", s.prefix},
                       {"true_continuation", s.true_continuation},
                       {"soft_continuation", s.soft_continuation},
                       {"text_continuation", s.text_continuation}});
  }
  nlohmann::json j = {{"passages", e.passages},
                      {"tokens_per_passage", e.tokens_per_passage},
                      {"nll_none", e.nll_none},
                      {"nll_soft", e.nll_soft},
                      {"nll_text", e.nll_text},
                      {"samples", samples}};
  j["gap_closed"] = std::isnan(e.gap_closed) ? nlohmann::json(nullptr) : nlohmann::json(e.gap_closed);
  if (e.mismatched_passages > 0) {
    j["mismatched_passages"] = e.mismatched_passages;
    j["nll_mismatched"] = e.nll_mismatched;
    j["passage_gap_closed"] =
        std::isnan(e.passage_gap_closed) ? nlohmann::json(nullptr) : nlohmann::json(e.passage_gap_closed);
  }
  return j;
}

}  // namespace lip
