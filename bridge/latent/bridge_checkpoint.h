// A bridge checkpoint: one directory holding
//
//   bridge.json            BridgeMetadata (bridge_config.h), incl. the digests of the two files
//   sender.safetensors     the sender half: "normalizer.mean", "normalizer.std", "perceiver.*"
//   receiver.safetensors   the receiver half: "adapter.*"
//
// docs/checkpoint.md is the normative description. A node loads only its half: a sender node
// needs bridge.json + sender.safetensors, a receiver node bridge.json + receiver.safetensors.
// Each half's file is checked against its digest in bridge.json before it is used.
//
// All functions are thread-safe with respect to each other for different directories; saving
// writes each file through a temporary file renamed into place.
#ifndef LIP_BRIDGE_LATENT_BRIDGE_CHECKPOINT_H_
#define LIP_BRIDGE_LATENT_BRIDGE_CHECKPOINT_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "bridge/latent/bridge_config.h"
#include "bridge/latent/receiver_adapter.h"
#include "bridge/latent/sender_encoder.h"
#include "bridge/torch_compat.h"

namespace lip {

inline constexpr char kBridgeMetadataFile[] = "bridge.json";
inline constexpr char kSenderHalfFile[] = "sender.safetensors";
inline constexpr char kReceiverHalfFile[] = "receiver.safetensors";

// Writes both halves and bridge.json into `dir` (created if missing). Fills the digest fields of
// the written metadata (returned through `saved` when not null). Each file's safetensors metadata
// names the bridge; `sender_half_bridge`, when not empty, is the name written into the sender
// half's instead: a sender half shared by several bridges (one encoder trained for several
// receivers) carries one name, so its file is byte-identical in each of them. INVALID_ARGUMENT
// when the metadata is invalid or does not match the modules' shapes; INTERNAL on I/O errors.
absl::Status SaveBridgeCheckpoint(const std::string& dir, const BridgeMetadata& metadata,
                                  torch::nn::Module& sender_encoder,
                                  torch::nn::Module& receiver_adapter,
                                  BridgeMetadata* saved = nullptr, const std::string& sender_half_bridge = "");

// Reads and validates dir/bridge.json. NOT_FOUND when absent.
absl::StatusOr<BridgeMetadata> ReadBridgeMetadata(const std::string& dir);

// A loaded half: its metadata and its module (in eval mode, no gradients required).
struct SenderHalf {
  BridgeMetadata metadata;
  SenderEncoder encoder{nullptr};
};
struct ReceiverHalf {
  BridgeMetadata metadata;
  ReceiverAdapter adapter{nullptr};
};

// Loads bridge.json + sender.safetensors only. NOT_FOUND for a missing file, DATA_LOSS when the
// file's digest differs from bridge.json, INVALID_ARGUMENT for missing/unexpected/misshaped
// tensors (naming them).
absl::StatusOr<SenderHalf> LoadSenderHalf(const std::string& dir);
// Loads bridge.json + receiver.safetensors only; errors as LoadSenderHalf.
absl::StatusOr<ReceiverHalf> LoadReceiverHalf(const std::string& dir);

// Every parameter and buffer of `module` under its dotted name, prefixed with `prefix`.
std::vector<std::pair<std::string, torch::Tensor>> ModuleTensors(const torch::nn::Module& module,
                                                                 const std::string& prefix = "");

// Copies the tensors of a safetensors file into `module`'s parameters and buffers. Strict: every
// name `prefix + name` must be present with the same shape and nothing else may be in the file.
absl::Status LoadModuleTensors(const std::string& path, torch::nn::Module& module,
                               const std::string& prefix = "");

}  // namespace lip

#endif  // LIP_BRIDGE_LATENT_BRIDGE_CHECKPOINT_H_
