// SplitPattern: finds the pieces a Split / ByteLevel pre-tokenizer cuts text into.
//
// `tokenizers` runs these regexes with Oniguruma; std::regex cannot express \p{L}, so the regexes
// that real checkpoints use are implemented by hand, alternative by alternative, with the same
// leftmost-first backtracking semantics (see the .cc). Any other regex is refused with UNIMPLEMENTED
// naming it, never approximated. Literal string patterns are supported in full.
// Immutable after construction; FindMatches is thread-safe.
#ifndef LIP_BRIDGE_TOKENIZER_SPLIT_PATTERN_H_
#define LIP_BRIDGE_TOKENIZER_SPLIT_PATTERN_H_

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace lip {

// The regexes implemented by hand, as they appear in tokenizer.json.
// Llama-3 (tiktoken cl100k-style, numbers in runs of up to 3 digits).
inline constexpr std::string_view kLlama3SplitRegex =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*"
    "|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
// Qwen2 (as Llama-3 but one digit per piece).
inline constexpr std::string_view kQwen2SplitRegex =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*"
    "|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
// GPT-2 (the ByteLevel pre-tokenizer's built-in regex when use_regex is true; phi-2 uses it).
inline constexpr std::string_view kGpt2SplitRegex =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

class SplitPattern {
 public:
  virtual ~SplitPattern() = default;

  // One of the regexes above; UNIMPLEMENTED naming any other.
  static absl::StatusOr<std::unique_ptr<SplitPattern>> FromRegex(std::string_view regex);
  // Every occurrence of a literal string (non-overlapping, left to right). INVALID_ARGUMENT if empty.
  static absl::StatusOr<std::unique_ptr<SplitPattern>> FromLiteral(std::string literal);

  // Non-overlapping matches of the pattern in valid UTF-8 `text`, left to right, as byte ranges
  // [begin, end).
  virtual std::vector<std::pair<size_t, size_t>> FindMatches(std::string_view text) const = 0;
};

}  // namespace lip

#endif  // LIP_BRIDGE_TOKENIZER_SPLIT_PATTERN_H_
