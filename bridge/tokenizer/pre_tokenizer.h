// PreTokenizer: the `pre_tokenizer` stage of a tokenizer.json pipeline. It cuts normalized text
// into the pieces ("words") the model tokenizes one by one, and may rewrite them (ByteLevel maps
// bytes to its alphabet, Metaspace turns spaces into U+2581).
//
// Supported types: Split (String pattern, or the Llama-3 / Qwen2 / GPT-2 regexes — see
// split_pattern.h; all five split behaviours; invert), ByteLevel (add_prefix_space, use_regex),
// Metaspace (replacement, prepend_scheme always/first/never or legacy add_prefix_space, split),
// WhitespaceSplit, Sequence. Others are refused by FromJson with UNIMPLEMENTED naming them.
// Immutable; PreTokenize is thread-safe.
#ifndef LIP_BRIDGE_TOKENIZER_PRE_TOKENIZER_H_
#define LIP_BRIDGE_TOKENIZER_PRE_TOKENIZER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json_fwd.hpp"

namespace lip {

// One piece of text on its way through the pipeline.
struct TextPiece {
  std::string text;
  // True when the piece begins at offset 0 of the original input (Metaspace's "first" scheme).
  bool at_input_start = false;
};

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;

  // Builds the pre-tokenizer a tokenizer.json "pre_tokenizer" object describes (must not be null).
  static absl::StatusOr<std::unique_ptr<PreTokenizer>> FromJson(const nlohmann::json& spec);

  // Replaces each piece by the pieces it is cut into; empty pieces are dropped.
  virtual void PreTokenize(std::vector<TextPiece>* pieces) const = 0;
};

}  // namespace lip

#endif  // LIP_BRIDGE_TOKENIZER_PRE_TOKENIZER_H_
