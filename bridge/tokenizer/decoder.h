// Decoder: the `decoder` stage of a tokenizer.json pipeline — turns token strings back into text.
// Each decoder rewrites the list of token strings (tokenizers' decode_chain); the results are
// concatenated at the end.
//
// Supported types: ByteLevel, Metaspace, Replace (String pattern), ByteFallback, Fuse, Strip,
// Sequence. Others are refused by FromJson with UNIMPLEMENTED naming them. Immutable; thread-safe.
#ifndef LIP_BRIDGE_TOKENIZER_DECODER_H_
#define LIP_BRIDGE_TOKENIZER_DECODER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json_fwd.hpp"

namespace lip {

class Decoder {
 public:
  virtual ~Decoder() = default;

  // Builds the decoder a tokenizer.json "decoder" object describes (must not be null).
  static absl::StatusOr<std::unique_ptr<Decoder>> FromJson(const nlohmann::json& spec);

  // Rewrites the token strings in place; the output is valid UTF-8.
  virtual void DecodeChain(std::vector<std::string>* tokens) const = 0;
};

}  // namespace lip

#endif  // LIP_BRIDGE_TOKENIZER_DECODER_H_
