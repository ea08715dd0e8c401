#include "bridge/tokenizer/sentencepiece_tokenizer.h"

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "bridge/tokenizer/unicode_text.h"

namespace lip {

SentencePieceTokenizer::SentencePieceTokenizer(std::unique_ptr<SentencePieceProcessorBridge> processor)
    : processor_(std::move(processor)) {
  if (processor_->bos_id() >= 0) bos_id_ = processor_->bos_id();
  if (processor_->eos_id() >= 0) eos_ids_ = {processor_->eos_id()};
}

absl::StatusOr<std::unique_ptr<SentencePieceTokenizer>> SentencePieceTokenizer::Load(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    return absl::NotFoundError(absl::StrCat("sentencepiece model ", path, " does not exist"));
  }
  std::string error;
  auto processor = SentencePieceProcessorBridge::Load(path, &error);
  if (processor == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("cannot load sentencepiece model ", path, ": ", error));
  }
  return std::unique_ptr<SentencePieceTokenizer>(new SentencePieceTokenizer(std::move(processor)));
}

absl::StatusOr<std::vector<int32_t>> SentencePieceTokenizer::Encode(std::string_view text,
                                                                   bool add_special_tokens) const {
  if (absl::Status s = ValidateUtf8(text); !s.ok()) return s;
  std::vector<int> pieces;
  std::string error;
  if (!processor_->Encode(text, &pieces, &error)) {
    return absl::InternalError(absl::StrCat("sentencepiece encode failed: ", error));
  }
  std::vector<int32_t> ids;
  ids.reserve(pieces.size() + 1);
  if (add_special_tokens && bos_id_) ids.push_back(*bos_id_);
  ids.insert(ids.end(), pieces.begin(), pieces.end());
  return ids;
}

absl::StatusOr<std::string> SentencePieceTokenizer::Decode(const std::vector<int32_t>& ids,
                                                           bool skip_special_tokens) const {
  std::string out;
  std::vector<int> run;  // ordinary pieces decoded together so that spaces come out right
  auto flush = [&]() -> absl::Status {
    if (run.empty()) return absl::OkStatus();
    std::string text, error;
    if (!processor_->Decode(run, &text, &error)) {
      return absl::InternalError(absl::StrCat("sentencepiece decode failed: ", error));
    }
    out += text;
    run.clear();
    return absl::OkStatus();
  };
  for (int32_t id : ids) {
    if (id < 0 || id >= processor_->piece_size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("token id ", id, " is not in the vocabulary (", processor_->piece_size(), " tokens)"));
    }
    if (processor_->IsControl(id)) {
      if (absl::Status s = flush(); !s.ok()) return s;
      if (!skip_special_tokens) out += processor_->IdToPiece(id);
      continue;
    }
    run.push_back(id);
  }
  if (absl::Status s = flush(); !s.ok()) return s;
  return out;
}

int32_t SentencePieceTokenizer::vocab_size() const { return processor_->piece_size(); }

std::optional<int32_t> SentencePieceTokenizer::TokenToId(std::string_view token) const {
  const int id = processor_->PieceToId(token);
  if (id == processor_->unk_id() && processor_->IdToPiece(id) != token) return std::nullopt;
  return id;
}

std::optional<std::string> SentencePieceTokenizer::IdToToken(int32_t id) const {
  if (id < 0 || id >= processor_->piece_size()) return std::nullopt;
  return processor_->IdToPiece(id);
}

}  // namespace lip
