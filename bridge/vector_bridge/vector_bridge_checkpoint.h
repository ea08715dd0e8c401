// Checkpoints of the two single-vector bridge kinds, "bottleneck" (bottleneck_adapter.h) and
// "dual_translator" (dual_translator.h + blend_injection.h). A directory holds
//
//   bridge.json            VectorBridgeMetadata as JSON (its "kind" says which), with digests
//   receiver.safetensors   the trained weights: "adapter.*" or "translator.a_to_b.*" / ".b_to_a.*"
//
// The sender half of these kinds has no weights: a sender node reads bridge.json only (which
// layer to pool and how, sender_vector) and ships one pooled vector per message. The file names
// are those of the Perceiver kind (bridge_checkpoint.h); ReadBridgeMetadata refuses these kinds
// with an error naming the kind, and ReadVectorBridgeMetadata refuses "perceiver".
// docs/checkpoint.md ("Single-vector kinds") is the normative description.
//
// Thread-safe for different directories; files are written through a temporary file renamed
// into place.
#ifndef LIP_BRIDGE_VECTOR_BRIDGE_VECTOR_BRIDGE_CHECKPOINT_H_
#define LIP_BRIDGE_VECTOR_BRIDGE_VECTOR_BRIDGE_CHECKPOINT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "bridge/vector_bridge/blend_injection.h"
#include "bridge/vector_bridge/bottleneck_adapter.h"
#include "bridge/latent/bridge_config.h"
#include "bridge/vector_bridge/dual_translator.h"
#include "bridge/vector_bridge/text_vector.h"
#include "nlohmann/json.hpp"

namespace lip {

inline constexpr char kBottleneckKind[] = "bottleneck";
inline constexpr char kDualTranslatorKind[] = "dual_translator";

struct VectorBridgeMetadata {
  static constexpr int kFormatVersion = 1;

  std::string name;
  uint32_t version = 1;
  std::string kind = kBottleneckKind;  // kBottleneckKind | kDualTranslatorKind
  std::string digest;                  // "sha256:<hex>" over receiver.safetensors; set on save
  std::string receiver_file_digest;    // "sha256:<hex>" of receiver.safetensors; set on save
  BridgeModelId sender_model;          // model A
  BridgeModelId receiver_model;        // model B
  TextVectorOptions sender_vector;     // how the sender pools its vector (what goes on the wire)
  TextVectorOptions receiver_vector;   // how the receiver's own vectors (training targets) were taken
  BottleneckAdapterConfig bottleneck;  // kind "bottleneck"
  EnergyConfig energy;                 // kind "bottleneck": energy matching of the one soft token
  DualTranslatorConfig translator;     // kind "dual_translator"
  BlendConfig blend;                   // kind "dual_translator"
  PrimingConfig priming;
  std::string task;
  std::vector<std::string> labels;
  nlohmann::json training = nlohmann::json::object();
  nlohmann::json evaluation = nlohmann::json::object();
};

// INVALID_ARGUMENT naming the field at fault (unknown kind, bad widths, energy reference missing).
absl::Status ValidateVectorBridgeMetadata(const VectorBridgeMetadata& metadata);
nlohmann::json VectorBridgeMetadataToJson(const VectorBridgeMetadata& metadata);
// INVALID_ARGUMENT naming a missing or mistyped field; FAILED_PRECONDITION for a newer
// format_version or the kind "perceiver". Validates the result.
absl::StatusOr<VectorBridgeMetadata> VectorBridgeMetadataFromJson(const nlohmann::json& json);

// Writes receiver.safetensors (the module's tensors under "adapter." for a bottleneck,
// "translator." for a dual translator) and bridge.json into `dir` (created if missing); returns
// the metadata with its digests through `saved` when not null. INVALID_ARGUMENT for invalid
// metadata; INTERNAL on I/O errors.
absl::Status SaveVectorBridge(const std::string& dir, const VectorBridgeMetadata& metadata,
                              torch::nn::Module& receiver_module, VectorBridgeMetadata* saved = nullptr);

// Reads and validates dir/bridge.json. NOT_FOUND when absent.
absl::StatusOr<VectorBridgeMetadata> ReadVectorBridgeMetadata(const std::string& dir);

// Loaded bridges, in eval mode with gradients off.
struct BottleneckBridge {
  VectorBridgeMetadata metadata;
  BottleneckAdapter adapter{nullptr};
};
struct DualTranslatorBridge {
  VectorBridgeMetadata metadata;
  DualTranslator translator{nullptr};
};
// NOT_FOUND for a missing file, FAILED_PRECONDITION when bridge.json is of the other kind,
// DATA_LOSS when receiver.safetensors does not match its digest, INVALID_ARGUMENT for missing,
// unexpected or misshaped tensors (naming them).
absl::StatusOr<BottleneckBridge> LoadBottleneckBridge(const std::string& dir);
absl::StatusOr<DualTranslatorBridge> LoadDualTranslatorBridge(const std::string& dir);

}  // namespace lip

#endif  // LIP_BRIDGE_VECTOR_BRIDGE_VECTOR_BRIDGE_CHECKPOINT_H_
