// PostProcessor: the `post_processor` stage of a tokenizer.json pipeline — adds the special tokens a
// model expects around an encoded text (BOS, EOS, CLS/SEP) when Encode is asked to.
//
// Supported types: TemplateProcessing (the "single" template), ByteLevel (changes offsets only, so
// no ids), RobertaProcessing, BertProcessing, Sequence. Others are refused by FromJson with
// UNIMPLEMENTED naming them. Immutable; thread-safe.
#ifndef LIP_BRIDGE_TOKENIZER_POST_PROCESSOR_H_
#define LIP_BRIDGE_TOKENIZER_POST_PROCESSOR_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json_fwd.hpp"

namespace lip {

class PostProcessor {
 public:
  virtual ~PostProcessor() = default;

  // Builds the post-processor a tokenizer.json "post_processor" object describes (must not be null).
  static absl::StatusOr<std::unique_ptr<PostProcessor>> FromJson(const nlohmann::json& spec);

  // The ids placed before and after a single sequence when special tokens are added.
  virtual std::vector<int32_t> PrefixIds() const = 0;
  virtual std::vector<int32_t> SuffixIds() const = 0;

  // Wraps `ids` in PrefixIds()/SuffixIds() when add_special_tokens; leaves them alone otherwise.
  void Process(std::vector<int32_t>* ids, bool add_special_tokens) const;
};

}  // namespace lip

#endif  // LIP_BRIDGE_TOKENIZER_POST_PROCESSOR_H_
