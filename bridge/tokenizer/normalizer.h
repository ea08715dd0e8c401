// Normalizer: the `normalizer` stage of a tokenizer.json pipeline (text -> normalized text).
//
// Supported types: NFC, NFD, NFKC, NFKD (ICU), Lowercase, StripAccents, Strip, Prepend,
// Replace (String pattern), Sequence. Anything else — or a Replace with a Regex pattern — is
// refused by FromJson with UNIMPLEMENTED naming it. Immutable; Normalize is thread-safe.
#ifndef LIP_BRIDGE_TOKENIZER_NORMALIZER_H_
#define LIP_BRIDGE_TOKENIZER_NORMALIZER_H_

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "nlohmann/json_fwd.hpp"

namespace lip {

class Normalizer {
 public:
  virtual ~Normalizer() = default;

  // Builds the normalizer a tokenizer.json "normalizer" object describes (must not be null).
  static absl::StatusOr<std::unique_ptr<Normalizer>> FromJson(const nlohmann::json& spec);

  // Normalizes valid UTF-8; the result is valid UTF-8.
  virtual std::string Normalize(std::string_view text) const = 0;
};

}  // namespace lip

#endif  // LIP_BRIDGE_TOKENIZER_NORMALIZER_H_
