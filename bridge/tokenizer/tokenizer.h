// Tokenizer: text <-> token ids, exactly as Hugging Face `tokenizers` does for a model's tokenizer.json
// (or as libsentencepiece does for a tokenizer.model when that is the only file).
//
// Contract
//   * Loading: FromDirectory picks `tokenizer.json` if present, else `tokenizer.model`, else NOT_FOUND.
//     Unknown pipeline components (normalizer, pre-tokenizer, model, post-processor, decoder types) or
//     unsupported options are refused with INVALID_ARGUMENT / UNIMPLEMENTED naming the component; the
//     tokenizer never silently approximates a pipeline it does not implement.
//   * Encode: added/special tokens are split out first (special-token strings inside the text become
//     their ids, as in `tokenizers`), then normalizer -> pre-tokenizer -> model. With
//     add_special_tokens the post-processor's template (BOS/EOS) is applied.
//     Text that is not valid UTF-8 is refused with INVALID_ARGUMENT (tokenizers only accepts `str`).
//   * Decode: ids -> tokens -> decoder. Ids outside [0, vocab_size()) give INVALID_ARGUMENT (the
//     `tokenizers` library silently drops them; we prefer a clear error). Byte sequences that are not
//     valid UTF-8 after decoding become U+FFFD, as in `tokenizers`.
//   * Thread-safety: immutable after construction; Encode/Decode and all accessors may be called from
//     any number of threads concurrently.
//   * Ownership: factories return an owned object; it holds no references to its inputs.
#ifndef LIP_BRIDGE_TOKENIZER_TOKENIZER_H_
#define LIP_BRIDGE_TOKENIZER_TOKENIZER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace lip {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  // Loads `dir/tokenizer.json`; if absent `dir/tokenizer.model` (sentencepiece); else NOT_FOUND.
  // BOS/EOS ids are then completed from `dir/tokenizer_config.json` and `dir/generation_config.json`
  // where present (see bos_id / eos_ids).
  static absl::StatusOr<std::unique_ptr<Tokenizer>> FromDirectory(const std::string& dir);

  // Loads one tokenizer.json file (no side files are read).
  static absl::StatusOr<std::unique_ptr<Tokenizer>> FromTokenizerJson(const std::string& path);

  // Loads one sentencepiece tokenizer.model file. Encode with add_special_tokens prepends the
  // model's BOS (as the Llama-2 "slow" tokenizer does).
  static absl::StatusOr<std::unique_ptr<Tokenizer>> FromSentencePieceModel(const std::string& path);

  // Text -> ids. With add_special_tokens the post-processor's template (BOS/EOS) is applied, as
  // tokenizers does. Errors: INVALID_ARGUMENT for invalid UTF-8.
  virtual absl::StatusOr<std::vector<int32_t>> Encode(std::string_view text,
                                                      bool add_special_tokens = true) const = 0;

  // Ids -> text. skip_special_tokens drops tokens marked special (BOS, EOS, <|im_end|>, ...).
  // Errors: INVALID_ARGUMENT naming the first id outside [0, vocab_size()).
  virtual absl::StatusOr<std::string> Decode(const std::vector<int32_t>& ids,
                                             bool skip_special_tokens = true) const = 0;

  // Number of distinct tokens including added tokens (tokenizers' get_vocab_size(true)).
  virtual int32_t vocab_size() const = 0;

  // The id of a token string (added tokens first, then the model vocabulary), or nullopt.
  virtual std::optional<int32_t> TokenToId(std::string_view token) const = 0;

  // The token string of an id, or nullopt when the id is unknown.
  virtual std::optional<std::string> IdToToken(int32_t id) const = 0;

  // The beginning-of-sequence id the model's tokenizer puts in front of a text: the special token the
  // post-processor places before the sequence (sentencepiece: the model's BOS); without one,
  // tokenizer_config.json's bos_token only when that file says add_bos_token: true. nullopt when
  // the tokenizer adds none (Qwen2.5, phi-2), even if generation_config.json names a bos_token_id,
  // so that callers framing ids by hand (bos + prefix + text) reproduce transformers' inputs.
  // Encode(text, true) already adds it; do not add it again to such ids.
  std::optional<int32_t> bos_id() const { return bos_id_; }

  // Ids that end generation, in order, without duplicates: generation_config.json's eos_token_id
  // (int or list), tokenizer_config.json's eos_token, the post-processor's trailing special token.
  std::vector<int32_t> eos_ids() const { return eos_ids_; }

 protected:
  Tokenizer() = default;

  std::optional<int32_t> bos_id_;
  std::vector<int32_t> eos_ids_;

 private:
  friend class TokenizerSpecialIds;  // fills bos_id_/eos_ids_ from side files (tokenizer.cc)
};

}  // namespace lip

#endif  // LIP_BRIDGE_TOKENIZER_TOKENIZER_H_
