// No Abseil header may be included here (see the header).
#include "bridge/tokenizer/sentencepiece_processor_bridge.h"

#include <sentencepiece_processor.h>

namespace lip {

const char kProtobufConflict[] =
    "libsentencepiece's bundled protobuf runtime conflicts with the system libprotobuf in this process; "
    "use the model's tokenizer.json instead";

SentencePieceProcessorBridge::SentencePieceProcessorBridge()
    : processor_(std::make_unique<sentencepiece::SentencePieceProcessor>()) {}

SentencePieceProcessorBridge::~SentencePieceProcessorBridge() = default;

std::unique_ptr<SentencePieceProcessorBridge> SentencePieceProcessorBridge::Load(const std::string& path,
                                                                                 std::string* error) {
  // Debian's libsentencepiece carries its own protobuf runtime (3.14). In a binary that also links
  // the system libprotobuf (3.21) first — which every LIP binary must, see bridge/CMakeLists.txt —
  // its version check fails and throws; report that instead of letting it escape.
  try {
    std::unique_ptr<SentencePieceProcessorBridge> bridge(new SentencePieceProcessorBridge());
    const auto status = bridge->processor_->Load(path);
    if (!status.ok()) {
      *error = status.ToString();
      return nullptr;
    }
    return bridge;
  } catch (const std::exception& e) {
    *error = std::string(kProtobufConflict) + ": " + e.what();
    return nullptr;
  }
}

bool SentencePieceProcessorBridge::Encode(std::string_view text, std::vector<int>* ids, std::string* error) const {
  const auto status = processor_->Encode(text, ids);
  if (!status.ok()) *error = status.ToString();
  return status.ok();
}

bool SentencePieceProcessorBridge::Decode(const std::vector<int>& ids, std::string* text, std::string* error) const {
  const auto status = processor_->Decode(ids, text);
  if (!status.ok()) *error = status.ToString();
  return status.ok();
}

int SentencePieceProcessorBridge::piece_size() const { return processor_->GetPieceSize(); }
int SentencePieceProcessorBridge::bos_id() const { return processor_->bos_id(); }
int SentencePieceProcessorBridge::eos_id() const { return processor_->eos_id(); }
int SentencePieceProcessorBridge::unk_id() const { return processor_->unk_id(); }
bool SentencePieceProcessorBridge::IsControl(int id) const { return processor_->IsControl(id); }
std::string SentencePieceProcessorBridge::IdToPiece(int id) const { return processor_->IdToPiece(id); }
int SentencePieceProcessorBridge::PieceToId(std::string_view piece) const { return processor_->PieceToId(piece); }

}  // namespace lip
