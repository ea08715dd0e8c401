// AddedVocabulary: the tokenizer.json "added_tokens" (special tokens such as <s>, <|eot_id|> and
// user-added tokens) and the first step of Encode, which cuts them out of the text before the
// normalizer and pre-tokenizer see it — exactly as `tokenizers` does:
//   1. tokens with normalized=false are matched on the raw text (leftmost-longest),
//   2. each remaining piece is normalized, then tokens with normalized=true are matched on it
//      (their contents normalized the same way);
//   single_word, lstrip and rstrip are honoured as in `tokenizers`.
// Immutable after construction; all methods are thread-safe.
#ifndef LIP_BRIDGE_TOKENIZER_ADDED_VOCABULARY_H_
#define LIP_BRIDGE_TOKENIZER_ADDED_VOCABULARY_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "bridge/tokenizer/normalizer.h"
#include "bridge/tokenizer/pre_tokenizer.h"
#include "nlohmann/json_fwd.hpp"

namespace lip {

struct AddedToken {
  int32_t id = 0;
  std::string content;
  bool single_word = false;
  bool lstrip = false;
  bool rstrip = false;
  bool normalized = true;
  bool special = false;
};

class AddedVocabulary {
 public:
  // A piece of the input after step 1+2: either an added token or normalized text for the
  // pre-tokenizer.
  struct Segment {
    TextPiece piece;                 // normalized text (empty for added tokens)
    std::optional<int32_t> added_id;  // set when the segment is an added token
  };

  // Parses the "added_tokens" array; `normalizer` (may be null) normalizes the contents of tokens
  // with normalized=true. INVALID_ARGUMENT for malformed entries or duplicate ids.
  static absl::StatusOr<AddedVocabulary> FromJson(const nlohmann::json& added_tokens,
                                                  const Normalizer* normalizer);

  // Steps 1 and 2 above on valid UTF-8 `text`. Empty pieces are dropped.
  std::vector<Segment> ExtractAndNormalize(std::string_view text, const Normalizer* normalizer) const;

  const AddedToken* FindById(int32_t id) const;
  const AddedToken* FindByContent(std::string_view content) const;
  // True when `content` is the content of an added token marked special.
  bool IsSpecialContent(std::string_view content) const;
  const std::vector<AddedToken>& tokens() const { return tokens_; }

 private:
  // Patterns bucketed by first byte, longest first, so that the first hit at a position is the
  // leftmost-longest match.
  struct MatchSet {
    std::vector<std::pair<std::string, size_t>> patterns;  // (pattern, index into tokens_)
    std::array<std::vector<size_t>, 256> by_first_byte;    // indices into patterns
  };
  struct Match {
    size_t begin, end;
    std::optional<int32_t> id;
  };
  static void BuildMatchSet(MatchSet* set);
  std::vector<Match> FindMatches(std::string_view sentence, const MatchSet& set) const;

  std::vector<AddedToken> tokens_;
  absl::flat_hash_map<int32_t, size_t> by_id_;
  absl::flat_hash_map<std::string, size_t> by_content_;
  MatchSet raw_set_;         // normalized == false: matched on raw text
  MatchSet normalized_set_;  // normalized == true: matched on normalized text
};

}  // namespace lip

#endif  // LIP_BRIDGE_TOKENIZER_ADDED_VOCABULARY_H_
