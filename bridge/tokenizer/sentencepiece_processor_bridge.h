// SentencePieceProcessorBridge: a thin wrapper over libsentencepiece with std types only.
//
// It exists because sentencepiece's public header defines `absl::string_view` as std::string_view,
// while the installed Abseil defines its own class of that name: the two cannot meet in one
// translation unit. The .cc includes sentencepiece and no Abseil; everyone else includes this.
// Ownership: owns the loaded model. Thread-safety: const methods may run concurrently
// (SentencePieceProcessor's encode/decode are const and thread-safe).
#ifndef LIP_BRIDGE_TOKENIZER_SENTENCEPIECE_PROCESSOR_BRIDGE_H_
#define LIP_BRIDGE_TOKENIZER_SENTENCEPIECE_PROCESSOR_BRIDGE_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace lip {

// Prefix of the error Load() reports when libsentencepiece cannot run in this process.
extern const char kProtobufConflict[];

class SentencePieceProcessorBridge {
 public:
  ~SentencePieceProcessorBridge();

  // Loads a tokenizer.model; nullptr and `*error` set on failure.
  static std::unique_ptr<SentencePieceProcessorBridge> Load(const std::string& path, std::string* error);

  // false and `*error` set on failure.
  bool Encode(std::string_view text, std::vector<int>* ids, std::string* error) const;
  bool Decode(const std::vector<int>& ids, std::string* text, std::string* error) const;

  int piece_size() const;
  int bos_id() const;  // -1 when the model has none
  int eos_id() const;  // -1 when the model has none
  bool IsControl(int id) const;
  std::string IdToPiece(int id) const;
  int PieceToId(std::string_view piece) const;  // unk_id() when absent
  int unk_id() const;

 private:
  SentencePieceProcessorBridge();
  std::unique_ptr<sentencepiece::SentencePieceProcessor> processor_;
};

}  // namespace lip

#endif  // LIP_BRIDGE_TOKENIZER_SENTENCEPIECE_PROCESSOR_BRIDGE_H_
