// The configuration and metadata of one trained bridge (a sender half and a receiver half), as
// plain structs with documented defaults, and their JSON form (the "bridge.json" of a bridge
// checkpoint, docs/checkpoint.md). No LibTorch here: parsing and validation only.
//
// Data flow the fields describe:
//   text -> sender model to `sender.source_layer` -> statistical normalizer -> Perceiver resampler
//   -> Z (M x d_z, the wire) -> adapter -> energy matching -> [BOS, prefix, Z', anchor] -> receiver.
#ifndef LIP_BRIDGE_LATENT_BRIDGE_CONFIG_H_
#define LIP_BRIDGE_LATENT_BRIDGE_CONFIG_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace lip {

// How the receiver rescales adapted soft tokens. The numbers equal lip.v1.EnergyMode.
enum class EnergyMode {
  kNone = 1,           // adapted vectors are used as they are
  kPerVectorNorm = 2,  // v * E_ref / (||v|| + eps): every soft token gets the embedding's mean norm
  kRms = 3,            // v * rms_ref / (rms(v) + eps): every soft token gets the embedding's RMS
};
// "none" | "per_vector_norm" | "rms".
const char* EnergyModeName(EnergyMode mode);
// Inverse of EnergyModeName; INVALID_ARGUMENT naming the accepted spellings.
absl::StatusOr<EnergyMode> ParseEnergyMode(std::string_view name);

// The Perceiver resampler of the sender half: M learned queries that read the sender's states.
struct PerceiverConfig {
  int64_t num_queries = 8;     // M: soft tokens per message
  int64_t input_width = 0;     // d_s: the sender's hidden size (required, > 0)
  int64_t width = 256;         // internal width of the queries and attention
  int64_t num_heads = 4;       // must divide width
  int64_t depth = 2;           // blocks of (cross-attention, self-attention, GELU FFN)
  int64_t ffn_multiplier = 4;  // FFN hidden width = ffn_multiplier * width
  int64_t output_width = 256;  // d_z: the width of each soft token on the wire
};

// Everything the sender half needs besides its weights.
struct SenderHalfConfig {
  // Which hidden state feeds the bridge, Hugging Face numbering: 0 = token embeddings,
  // L = output of decoder layer L (1-based); the model stops after that layer (early exit).
  int64_t source_layer = 0;
  int64_t max_text_tokens = 128;     // longer texts are truncated (from the end) before encoding
  double normalizer_epsilon = 1e-5;  // std floor of the statistical normalizer
  PerceiverConfig perceiver;
};

// The adapter of the receiver half: d_z -> receiver width.
struct AdapterConfig {
  int64_t input_width = 256;   // d_z (must equal perceiver.output_width)
  int64_t hidden_width = 512;  // width of the LayerNorm -> Linear -> GELU -> Linear path
  int64_t output_width = 0;    // the receiver's hidden size (required, > 0)
  double tanh_clip = 3.0;      // y = c * tanh(y / c) after the MLP + skip; 0 disables clipping
  bool learned_scale = true;   // a scalar s (init 1) multiplies the output; trained with (s-1)^2
};

// Energy matching of the receiver half. The references are measured on the receiver's embedding
// matrix when the bridge is built and stored, so a receiver can check it has the same model.
struct EnergyConfig {
  EnergyMode mode = EnergyMode::kPerVectorNorm;
  double reference_energy = 0.0;  // E_ref: mean L2 norm of the embedding rows
  double reference_rms = 0.0;     // RMS over all embedding values
  double epsilon = 1e-6;
};

struct ReceiverHalfConfig {
  AdapterConfig adapter;
  EnergyConfig energy;
};

// Context priming: the receiver prefills [BOS, context_prefix tokens, soft tokens, anchor tokens].
struct PrimingConfig {
  std::string context_prefix;
  std::string anchor;
};

// The identity of a frozen model a bridge was trained for (lip.v1.ModelId).
struct BridgeModelId {
  std::string family;          // config.json model_type
  std::string name;            // e.g. "lip-demo/sender-llama"
  std::string revision;
  std::string weights_digest;  // "sha256:<hex>" over the safetensors files
};

// The whole bridge.json.
struct BridgeMetadata {
  static constexpr int kFormatVersion = 1;

  std::string name;                // e.g. "demo-ag_news"
  uint32_t version = 1;
  std::string kind = "perceiver";  // the bridge kind; only "perceiver" has halves today
  // "sha256:<hex>" over the two half files (Sha256DigestOfFiles(sender, receiver)); set on save.
  std::string digest;
  std::string sender_file_digest;    // "sha256:<hex>" of sender.safetensors; set on save
  std::string receiver_file_digest;  // "sha256:<hex>" of receiver.safetensors; set on save
  BridgeModelId sender_model;
  BridgeModelId receiver_model;
  SenderHalfConfig sender;
  ReceiverHalfConfig receiver;
  PrimingConfig priming;
  std::string task;                 // e.g. "ag_news"; empty for a task-agnostic bridge
  std::vector<std::string> labels;  // verbalizers scored as continuations, e.g. " World"
  nlohmann::json training = nlohmann::json::object();    // the training config and its summary
  nlohmann::json evaluation = nlohmann::json::object();  // results measured on held-out data
};

// Checks sizes and cross-field invariants (d_z of both halves equal, heads divide width, ...).
// INVALID_ARGUMENT naming the field and value.
absl::Status ValidateBridgeMetadata(const BridgeMetadata& metadata);

nlohmann::json BridgeMetadataToJson(const BridgeMetadata& metadata);
// INVALID_ARGUMENT naming the missing or mistyped field; FAILED_PRECONDITION for a newer
// format_version. Unknown keys are ignored. Validates the result.
absl::StatusOr<BridgeMetadata> BridgeMetadataFromJson(const nlohmann::json& json);

// Sub-structures, also used by run configs (lip-train).
nlohmann::json PerceiverConfigToJson(const PerceiverConfig& config);
absl::StatusOr<PerceiverConfig> PerceiverConfigFromJson(const nlohmann::json& json,
                                                        const PerceiverConfig& defaults = {});
nlohmann::json AdapterConfigToJson(const AdapterConfig& config);
absl::StatusOr<AdapterConfig> AdapterConfigFromJson(const nlohmann::json& json,
                                                    const AdapterConfig& defaults = {});

}  // namespace lip

#endif  // LIP_BRIDGE_LATENT_BRIDGE_CONFIG_H_
