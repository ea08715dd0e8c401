// liblip_sentencepiece_shim.so: libsentencepiece behind the C ABI of sentencepiece_shim.h.
// Built as its own shared library and only ever dlopen()ed (see the header for why). It includes
// sentencepiece's header and no Abseil header (sentencepiece defines absl::string_view itself).
#include "bridge/tokenizer/sentencepiece_shim/sentencepiece_shim.h"

#include <sentencepiece_processor.h>

#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace sentencepiece {
namespace logging {
void SetMinLogLevel(int v);  // exported by libsentencepiece, not declared in its public header
}  // namespace logging
}  // namespace sentencepiece

struct LipSpModel {
  sentencepiece::SentencePieceProcessor processor;
};

namespace {

// libsentencepiece logs with std::cerr. Loaded with RTLD_DEEPBIND, its std::cerr binds to
// libstdc++'s own storage, while an executable that uses std::cerr itself has a copy-relocated
// std::cerr that is the one actually constructed: writing to the other would crash. Keep everything
// below LOG(FATAL) quiet (sentencepiece has severities INFO 0, WARNING 1, ERROR 2, FATAL 3); errors
// reach the caller as statuses anyway, and a fatal one ends the process either way.
struct QuietSentencePieceLogging {
  QuietSentencePieceLogging() { sentencepiece::logging::SetMinLogLevel(3); }
} quiet_sentencepiece_logging;

char* CopyToMalloc(std::string_view bytes, size_t* size) {
  char* out = static_cast<char*>(std::malloc(bytes.size() + 1));
  if (out == nullptr) return nullptr;
  if (!bytes.empty()) std::memcpy(out, bytes.data(), bytes.size());
  out[bytes.size()] = '\0';
  if (size != nullptr) *size = bytes.size();
  return out;
}

int Fail(std::string_view message, char** error) {
  if (error != nullptr) *error = CopyToMalloc(message, nullptr);
  return 1;
}

bool InRange(const LipSpModel* model, int32_t id) {
  return id >= 0 && id < model->processor.GetPieceSize();
}

// Runs `body` (returning 0 or Fail(...)) with no exception escaping across the C boundary.
template <typename Body>
int Guarded(const char* what, char** error, Body body) {
  try {
    return body();
  } catch (const std::exception& e) {
    return Fail(std::string("libsentencepiece ") + what + " threw: " + e.what(), error);
  } catch (...) {
    return Fail(std::string("libsentencepiece ") + what + " threw an unknown exception", error);
  }
}

}  // namespace

extern "C" {

int lip_sp_abi_version(void) { return LIP_SP_SHIM_ABI_VERSION; }

LipSpModel* lip_sp_load(const char* data, size_t size, char** error) {
  LipSpModel* loaded = nullptr;
  Guarded("load", error, [&]() {
    auto model = std::make_unique<LipSpModel>();
    const auto status = model->processor.LoadFromSerializedProto(std::string_view(data, size));
    if (!status.ok()) return Fail(status.ToString(), error);
    loaded = model.release();
    return 0;
  });
  return loaded;
}

void lip_sp_free_model(LipSpModel* model) { delete model; }

int lip_sp_encode(const LipSpModel* model, const char* text, size_t text_size, int32_t** ids, size_t* num_ids,
                  char** error) {
  *ids = nullptr;
  *num_ids = 0;
  return Guarded("encode", error, [&]() {
    std::vector<int> pieces;
    const auto status = model->processor.Encode(std::string_view(text, text_size), &pieces);
    if (!status.ok()) return Fail(status.ToString(), error);
    if (pieces.empty()) return 0;
    auto* out = static_cast<int32_t*>(std::malloc(pieces.size() * sizeof(int32_t)));
    if (out == nullptr) return Fail("out of memory", error);
    for (size_t i = 0; i < pieces.size(); ++i) out[i] = pieces[i];
    *ids = out;
    *num_ids = pieces.size();
    return 0;
  });
}

int lip_sp_decode(const LipSpModel* model, const int32_t* ids, size_t num_ids, char** text, size_t* text_size,
                  char** error) {
  *text = nullptr;
  *text_size = 0;
  return Guarded("decode", error, [&]() {
    std::vector<int> pieces(ids, ids + num_ids);
    for (int id : pieces) {
      if (!InRange(model, id)) {
        return Fail("id " + std::to_string(id) + " is outside the vocabulary of " +
                        std::to_string(model->processor.GetPieceSize()) + " pieces",
                    error);
      }
    }
    std::string decoded;
    const auto status = model->processor.Decode(pieces, &decoded);
    if (!status.ok()) return Fail(status.ToString(), error);
    *text = CopyToMalloc(decoded, text_size);
    return *text == nullptr ? Fail("out of memory", error) : 0;
  });
}

int32_t lip_sp_piece_size(const LipSpModel* model) { return model->processor.GetPieceSize(); }
int32_t lip_sp_bos_id(const LipSpModel* model) { return model->processor.bos_id(); }
int32_t lip_sp_eos_id(const LipSpModel* model) { return model->processor.eos_id(); }
int32_t lip_sp_unk_id(const LipSpModel* model) { return model->processor.unk_id(); }

int lip_sp_is_control(const LipSpModel* model, int32_t id) {
  return InRange(model, id) && model->processor.IsControl(id) ? 1 : 0;
}

char* lip_sp_id_to_piece(const LipSpModel* model, int32_t id, size_t* piece_size) {
  if (!InRange(model, id)) return nullptr;
  char* out = nullptr;
  Guarded("id_to_piece", nullptr, [&]() {
    out = CopyToMalloc(model->processor.IdToPiece(id), piece_size);
    return 0;
  });
  return out;
}

int32_t lip_sp_piece_to_id(const LipSpModel* model, const char* piece, size_t piece_size) {
  int32_t found = -1;
  Guarded("piece_to_id", nullptr, [&]() {
    const std::string_view wanted(piece, piece_size);
    const int id = model->processor.PieceToId(wanted);
    // libsentencepiece answers unk_id for absent pieces: tell that apart from the unk piece itself.
    if (InRange(model, id) && model->processor.IdToPiece(id) == wanted) found = id;
    return 0;
  });
  return found;
}

void lip_sp_free(void* buffer) { std::free(buffer); }

}  // extern "C"
