// What a Perceiver bridge is trained between, and the metadata every trainer of such a bridge
// starts from: BridgeTrainer (classification), ContinuationTrainer (generation) and SenderCeiling
// (the sender half alone) build their bridge.json through these functions, so the three cannot
// drift apart on how the source layer, the widths or the energy reference are chosen.
#ifndef LIP_BRIDGE_TRAIN_BRIDGE_METADATA_FOR_TRAINING_H_
#define LIP_BRIDGE_TRAIN_BRIDGE_METADATA_FOR_TRAINING_H_

#include <memory>

#include "absl/status/statusor.h"
#include "bridge/latent/bridge_config.h"
#include "bridge/model/decoder_model.h"
#include "bridge/tokenizer/tokenizer.h"
#include "bridge/train/train_config.h"

namespace lip {

// The frozen models a bridge is trained between.
struct BridgeEndpoints {
  std::shared_ptr<const DecoderModel> sender_model;
  std::shared_ptr<const Tokenizer> sender_tokenizer;
  BridgeModelId sender_id;  // name/revision; family and weights digest are filled from the model
  std::shared_ptr<const DecoderModel> receiver_model;
  std::shared_ptr<const Tokenizer> receiver_tokenizer;
  BridgeModelId receiver_id;
};

// The sender half trained from `config` on `sender`: the source layer (the config's, or the
// sender's middle layer + 1 when the config's is negative), the message length in tokens and the
// Perceiver, whose input width is the sender's hidden size. INVALID_ARGUMENT when the source layer
// exceeds the sender's layers.
absl::StatusOr<SenderHalfConfig> SenderHalfForTraining(const TrainConfig& config, const DecoderModel& sender);

// The bridge.json of a Perceiver bridge about to be trained from `config` between the endpoints'
// models: name, the models' identities with their families and weights digests, the sender half
// (SenderHalfForTraining), the adapter from d_z to the receiver's hidden size, the energy mode with
// the reference measured on the receiver's embedding matrix, the priming, config.task and the
// training config as JSON. Labels stay empty: classification trainers add their verbalizers.
// Validated (ValidateBridgeMetadata). INVALID_ARGUMENT when a model is missing.
absl::StatusOr<BridgeMetadata> BridgeMetadataForTraining(const TrainConfig& config, const BridgeEndpoints& endpoints);

}  // namespace lip

#endif  // LIP_BRIDGE_TRAIN_BRIDGE_METADATA_FOR_TRAINING_H_
