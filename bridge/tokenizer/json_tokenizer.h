// JsonTokenizer: a Tokenizer built from a Hugging Face tokenizer.json — the pipeline
// added tokens -> normalizer -> pre-tokenizer -> BPE model -> post-processor, and back through the
// decoder. See tokenizer.h for the contract; only the BPE model type is supported (WordPiece,
// Unigram and WordLevel are refused with UNIMPLEMENTED). Immutable; thread-safe.
#ifndef LIP_BRIDGE_TOKENIZER_JSON_TOKENIZER_H_
#define LIP_BRIDGE_TOKENIZER_JSON_TOKENIZER_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "bridge/tokenizer/added_vocabulary.h"
#include "bridge/tokenizer/bpe_model.h"
#include "bridge/tokenizer/decoder.h"
#include "bridge/tokenizer/normalizer.h"
#include "bridge/tokenizer/post_processor.h"
#include "bridge/tokenizer/pre_tokenizer.h"
#include "bridge/tokenizer/tokenizer.h"

namespace lip {

class JsonTokenizer final : public Tokenizer {
 public:
  // Parses the contents of a tokenizer.json. `origin` names the source in error messages.
  static absl::StatusOr<std::unique_ptr<JsonTokenizer>> FromJsonText(std::string_view json_text,
                                                                     const std::string& origin);

  absl::StatusOr<std::vector<int32_t>> Encode(std::string_view text, bool add_special_tokens = true) const override;
  absl::StatusOr<std::string> Decode(const std::vector<int32_t>& ids, bool skip_special_tokens = true) const override;
  int32_t vocab_size() const override { return vocab_size_; }
  std::optional<int32_t> TokenToId(std::string_view token) const override;
  std::optional<std::string> IdToToken(int32_t id) const override;

  // The post-processor's ids before / after a single sequence (empty without a post-processor).
  std::vector<int32_t> TemplatePrefixIds() const;
  std::vector<int32_t> TemplateSuffixIds() const;

 private:
  JsonTokenizer() = default;

  std::unique_ptr<Normalizer> normalizer_;        // may be null
  std::unique_ptr<PreTokenizer> pre_tokenizer_;   // may be null
  std::unique_ptr<BpeModel> model_;
  std::unique_ptr<PostProcessor> post_processor_;  // may be null
  std::unique_ptr<Decoder> decoder_;              // may be null
  AddedVocabulary added_;
  int32_t vocab_size_ = 0;
};

}  // namespace lip

#endif  // LIP_BRIDGE_TOKENIZER_JSON_TOKENIZER_H_
