// SentencePieceTokenizer: a Tokenizer over a sentencepiece tokenizer.model (libsentencepiece, reached
// through the isolated shim of sentencepiece_library.h), for checkpoint folders that ship no
// tokenizer.json. Encode with add_special_tokens prepends the model's BOS, as the Llama-2 "slow"
// tokenizer does (no EOS). Decode with skip_special_tokens drops control tokens (<s>, </s>); without
// it they are written out as their piece text.
// See tokenizer.h for the contract. Immutable; thread-safe.
#ifndef LIP_BRIDGE_TOKENIZER_SENTENCEPIECE_TOKENIZER_H_
#define LIP_BRIDGE_TOKENIZER_SENTENCEPIECE_TOKENIZER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "bridge/tokenizer/sentencepiece_library.h"
#include "bridge/tokenizer/tokenizer.h"

namespace lip {

class SentencePieceTokenizer final : public Tokenizer {
 public:
  // NOT_FOUND if `path` does not exist; INVALID_ARGUMENT if it is not a sentencepiece model;
  // FAILED_PRECONDITION (saying where it looked) if the sentencepiece shim cannot be loaded.
  static absl::StatusOr<std::unique_ptr<SentencePieceTokenizer>> Load(const std::string& path);
  ~SentencePieceTokenizer() override;

  absl::StatusOr<std::vector<int32_t>> Encode(std::string_view text, bool add_special_tokens = true) const override;
  absl::StatusOr<std::string> Decode(const std::vector<int32_t>& ids, bool skip_special_tokens = true) const override;
  int32_t vocab_size() const override;
  std::optional<int32_t> TokenToId(std::string_view token) const override;
  std::optional<std::string> IdToToken(int32_t id) const override;

 private:
  SentencePieceTokenizer(const SentencePieceLibrary* library, LipSpModel* model);

  const SentencePieceLibrary* const library_;  // process-wide, never unloaded
  LipSpModel* const model_;                    // owned; freed through library_
  const int32_t piece_size_;
};

}  // namespace lip

#endif  // LIP_BRIDGE_TOKENIZER_SENTENCEPIECE_TOKENIZER_H_
