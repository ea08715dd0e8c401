#include "bridge/tokenizer/json_tokenizer.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "bridge/tokenizer/unicode_text.h"
#include "nlohmann/json.hpp"

namespace lip {
namespace {

// Builds an optional pipeline stage: null/absent -> nullptr; errors are prefixed with the origin.
template <typename Stage>
absl::Status BuildStage(const nlohmann::json& root, const char* key, const std::string& origin,
                        std::unique_ptr<Stage>* out) {
  auto it = root.find(key);
  if (it == root.end() || it->is_null()) return absl::OkStatus();
  auto stage = Stage::FromJson(*it);
  if (!stage.ok()) {
    return absl::Status(stage.status().code(), absl::StrCat(origin, ": ", key, ": ", stage.status().message()));
  }
  *out = std::move(*stage);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<JsonTokenizer>> JsonTokenizer::FromJsonText(std::string_view json_text,
                                                                           const std::string& origin) {
  nlohmann::json root = nlohmann::json::parse(json_text.begin(), json_text.end(), nullptr,
                                              /*allow_exceptions=*/false);
  if (root.is_discarded() || !root.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(origin, " is not a JSON object"));
  }
  auto tokenizer = std::unique_ptr<JsonTokenizer>(new JsonTokenizer());
  if (absl::Status s = BuildStage(root, "normalizer", origin, &tokenizer->normalizer_); !s.ok()) return s;
  if (absl::Status s = BuildStage(root, "pre_tokenizer", origin, &tokenizer->pre_tokenizer_); !s.ok()) return s;
  if (absl::Status s = BuildStage(root, "post_processor", origin, &tokenizer->post_processor_); !s.ok()) return s;
  if (absl::Status s = BuildStage(root, "decoder", origin, &tokenizer->decoder_); !s.ok()) return s;
  for (const char* key : {"truncation", "padding"}) {
    if (auto it = root.find(key); it != root.end() && !it->is_null()) {
      return absl::UnimplementedError(absl::StrCat(origin, ": \"", key, "\" is set; only null is supported"));
    }
  }

  auto model_it = root.find("model");
  if (model_it == root.end() || !model_it->is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(origin, ": \"model\" is missing"));
  }
  // Files written by tokenizers omit "type" only for BPE.
  const std::string model_type = model_it->value("type", std::string("BPE"));
  if (model_type != "BPE") {
    return absl::UnimplementedError(absl::StrCat(origin, ": model type \"", model_type,
                                                 "\" is not supported (only BPE)"));
  }
  auto model = BpeModel::FromJson(*model_it);
  if (!model.ok()) {
    return absl::Status(model.status().code(), absl::StrCat(origin, ": ", model.status().message()));
  }
  tokenizer->model_ = std::move(*model);

  const nlohmann::json null_json;
  auto added_it = root.find("added_tokens");
  auto added = AddedVocabulary::FromJson(added_it == root.end() ? null_json : *added_it,
                                         tokenizer->normalizer_.get());
  if (!added.ok()) {
    return absl::Status(added.status().code(), absl::StrCat(origin, ": ", added.status().message()));
  }
  tokenizer->added_ = std::move(*added);

  // tokenizers' get_vocab_size(true): distinct token strings of the model and the added tokens.
  int32_t size = tokenizer->model_->size();
  for (const AddedToken& t : tokenizer->added_.tokens()) {
    if (!tokenizer->model_->TokenToId(t.content)) ++size;
  }
  tokenizer->vocab_size_ = size;
  return tokenizer;
}

absl::StatusOr<std::vector<int32_t>> JsonTokenizer::Encode(std::string_view text, bool add_special_tokens) const {
  if (absl::Status s = ValidateUtf8(text); !s.ok()) return s;
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 3 + 4);
  std::vector<TextPiece> pieces;
  for (AddedVocabulary::Segment& segment : added_.ExtractAndNormalize(text, normalizer_.get())) {
    if (segment.added_id) {
      ids.push_back(*segment.added_id);
      continue;
    }
    pieces.clear();
    pieces.push_back(std::move(segment.piece));
    if (pre_tokenizer_ != nullptr) pre_tokenizer_->PreTokenize(&pieces);
    for (const TextPiece& piece : pieces) model_->Tokenize(piece.text, &ids);
  }
  if (post_processor_ != nullptr) post_processor_->Process(&ids, add_special_tokens);
  return ids;
}

absl::StatusOr<std::string> JsonTokenizer::Decode(const std::vector<int32_t>& ids, bool skip_special_tokens) const {
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (int32_t id : ids) {
    if (const AddedToken* added = added_.FindById(id)) {
      if (!(skip_special_tokens && added->special)) tokens.push_back(added->content);
      continue;
    }
    const std::string* token = model_->IdToToken(id);
    if (token == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("token id ", id, " is not in the vocabulary (", vocab_size_, " tokens)"));
    }
    if (skip_special_tokens && added_.IsSpecialContent(*token)) continue;
    tokens.push_back(*token);
  }
  if (decoder_ == nullptr) return absl::StrJoin(tokens, " ");
  decoder_->DecodeChain(&tokens);
  return absl::StrJoin(tokens, "");
}

std::optional<int32_t> JsonTokenizer::TokenToId(std::string_view token) const {
  if (const AddedToken* added = added_.FindByContent(token)) return added->id;
  return model_->TokenToId(token);
}

std::optional<std::string> JsonTokenizer::IdToToken(int32_t id) const {
  if (const AddedToken* added = added_.FindById(id)) return added->content;
  if (const std::string* token = model_->IdToToken(id)) return *token;
  return std::nullopt;
}

std::vector<int32_t> JsonTokenizer::TemplatePrefixIds() const {
  return post_processor_ ? post_processor_->PrefixIds() : std::vector<int32_t>{};
}

std::vector<int32_t> JsonTokenizer::TemplateSuffixIds() const {
  return post_processor_ ? post_processor_->SuffixIds() : std::vector<int32_t>{};
}

}  // namespace lip
