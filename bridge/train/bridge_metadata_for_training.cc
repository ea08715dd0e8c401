#include "bridge/train/bridge_metadata_for_training.h"

#include "absl/strings/str_cat.h"
#include "bridge/latent/energy_matcher.h"
#include "common/wire/status_macros.h"

namespace lip {

absl::StatusOr<SenderHalfConfig> SenderHalfForTraining(const TrainConfig& config, const DecoderModel& sender) {
  SenderHalfConfig half;
  half.source_layer = config.source_layer >= 0 ? config.source_layer : sender.num_layers() / 2 + 1;
  if (half.source_layer > sender.num_layers()) {
    return absl::InvalidArgumentError(absl::StrCat("source_layer ", half.source_layer, " exceeds the sender's ",
                                                   sender.num_layers(), " layers"));
  }
  half.max_text_tokens = config.max_text_tokens;
  half.perceiver = config.perceiver;
  half.perceiver.input_width = sender.hidden_size();
  return half;
}

absl::StatusOr<BridgeMetadata> BridgeMetadataForTraining(const TrainConfig& config, const BridgeEndpoints& endpoints) {
  if (!endpoints.sender_model || !endpoints.receiver_model) {
    return absl::InvalidArgumentError("a bridge is trained between two models");
  }
  const DecoderModel& sender = *endpoints.sender_model;
  const DecoderModel& receiver = *endpoints.receiver_model;
  BridgeMetadata m;
  m.name = config.name;
  m.kind = "perceiver";
  m.sender_model = endpoints.sender_id;
  m.sender_model.family = sender.config().model_type;
  m.sender_model.weights_digest = sender.weights_digest();
  m.receiver_model = endpoints.receiver_id;
  m.receiver_model.family = receiver.config().model_type;
  m.receiver_model.weights_digest = receiver.weights_digest();
  LIP_ASSIGN_OR_RETURN(m.sender, SenderHalfForTraining(config, sender));
  m.receiver.adapter = config.adapter;
  m.receiver.adapter.input_width = m.sender.perceiver.output_width;
  m.receiver.adapter.output_width = receiver.hidden_size();
  LIP_ASSIGN_OR_RETURN(EnergyReference energy, MeasureEnergy(receiver.embedding_weight()));
  m.receiver.energy.mode = config.energy_mode;
  m.receiver.energy.reference_energy = energy.reference_energy;
  m.receiver.energy.reference_rms = energy.reference_rms;
  m.priming = config.priming;
  m.task = config.task;
  m.training = TrainConfigToJson(config);
  LIP_RETURN_IF_ERROR(ValidateBridgeMetadata(m));
  return m;
}

}  // namespace lip
