#include "bridge/tokenizer/sentencepiece_tokenizer.h"

#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "bridge/tokenizer/unicode_text.h"

namespace lip {
namespace {

// Takes a buffer the shim allocated and frees it through the shim.
struct ShimBufferDeleter {
  const SentencePieceLibrary* library;
  void operator()(void* buffer) const { library->free(buffer); }
};
template <typename T>
using ShimBuffer = std::unique_ptr<T, ShimBufferDeleter>;

std::string TakeError(const SentencePieceLibrary& library, char* error) {
  ShimBuffer<char> owned(error, ShimBufferDeleter{&library});
  return error != nullptr ? std::string(error) : "unknown error (the shim could not allocate its message)";
}

}  // namespace

SentencePieceTokenizer::SentencePieceTokenizer(const SentencePieceLibrary* library, LipSpModel* model)
    : library_(library), model_(model), piece_size_(library->piece_size(model)) {
  if (const int32_t bos = library_->bos_id(model_); bos >= 0) bos_id_ = bos;
  if (const int32_t eos = library_->eos_id(model_); eos >= 0) eos_ids_ = {eos};
}

SentencePieceTokenizer::~SentencePieceTokenizer() { library_->free_model(model_); }

absl::StatusOr<std::unique_ptr<SentencePieceTokenizer>> SentencePieceTokenizer::Load(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    return absl::NotFoundError(absl::StrCat("sentencepiece model ", path, " does not exist"));
  }
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  const std::streamoff size = in ? static_cast<std::streamoff>(in.tellg()) : -1;
  std::string bytes(size > 0 ? static_cast<size_t>(size) : 0, '\0');
  in.seekg(0);
  if (size < 0 || !in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()))) {
    return absl::DataLossError(absl::StrCat("cannot read sentencepiece model ", path));
  }
  auto library = SentencePieceLibrary::Get();
  if (!library.ok()) {
    return absl::Status(library.status().code(),
                        absl::StrCat("cannot load sentencepiece model ", path, ": ", library.status().message()));
  }
  char* error = nullptr;
  LipSpModel* model = (*library)->load(bytes.data(), bytes.size(), &error);
  if (model == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot load sentencepiece model ", path, ": ", TakeError(**library, error)));
  }
  return std::unique_ptr<SentencePieceTokenizer>(new SentencePieceTokenizer(*library, model));
}

absl::StatusOr<std::vector<int32_t>> SentencePieceTokenizer::Encode(std::string_view text,
                                                                   bool add_special_tokens) const {
  if (absl::Status s = ValidateUtf8(text); !s.ok()) return s;
  int32_t* pieces = nullptr;
  size_t num_pieces = 0;
  char* error = nullptr;
  if (library_->encode(model_, text.data(), text.size(), &pieces, &num_pieces, &error) != 0) {
    return absl::InternalError(absl::StrCat("sentencepiece encode failed: ", TakeError(*library_, error)));
  }
  ShimBuffer<int32_t> owned(pieces, ShimBufferDeleter{library_});
  std::vector<int32_t> ids;
  ids.reserve(num_pieces + 1);
  if (add_special_tokens && bos_id_) ids.push_back(*bos_id_);
  ids.insert(ids.end(), pieces, pieces + num_pieces);
  return ids;
}

absl::StatusOr<std::string> SentencePieceTokenizer::Decode(const std::vector<int32_t>& ids,
                                                           bool skip_special_tokens) const {
  std::string out;
  std::vector<int32_t> run;  // ordinary pieces decoded together so that spaces come out right
  auto flush = [&]() -> absl::Status {
    if (run.empty()) return absl::OkStatus();
    char* text = nullptr;
    size_t text_size = 0;
    char* error = nullptr;
    if (library_->decode(model_, run.data(), run.size(), &text, &text_size, &error) != 0) {
      return absl::InternalError(absl::StrCat("sentencepiece decode failed: ", TakeError(*library_, error)));
    }
    ShimBuffer<char> owned(text, ShimBufferDeleter{library_});
    out.append(text, text_size);
    run.clear();
    return absl::OkStatus();
  };
  for (int32_t id : ids) {
    if (id < 0 || id >= piece_size_) {
      return absl::InvalidArgumentError(
          absl::StrCat("token id ", id, " is not in the vocabulary (", piece_size_, " tokens)"));
    }
    if (library_->is_control(model_, id)) {
      if (absl::Status s = flush(); !s.ok()) return s;
      if (!skip_special_tokens) out += IdToToken(id).value_or("");
      continue;
    }
    run.push_back(id);
  }
  if (absl::Status s = flush(); !s.ok()) return s;
  return out;
}

int32_t SentencePieceTokenizer::vocab_size() const { return piece_size_; }

std::optional<int32_t> SentencePieceTokenizer::TokenToId(std::string_view token) const {
  const int32_t id = library_->piece_to_id(model_, token.data(), token.size());
  if (id < 0) return std::nullopt;
  return id;
}

std::optional<std::string> SentencePieceTokenizer::IdToToken(int32_t id) const {
  size_t size = 0;
  ShimBuffer<char> piece(library_->id_to_piece(model_, id, &size), ShimBufferDeleter{library_});
  if (piece == nullptr) return std::nullopt;
  return std::string(piece.get(), size);
}

}  // namespace lip
