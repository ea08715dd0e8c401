#include "bridge/latent/latent_packet.h"

#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "bridge/latent/bridge_proto.h"
#include "common/wire/packet_codec.h"
#include "common/wire/packet_error.h"
#include "common/wire/status_macros.h"

namespace lip {
namespace {

lip::v1::EnergyMode EnergyModeToProto(EnergyMode mode) {
  // The enums share their values (bridge_config.h mirrors lip.v1.EnergyMode).
  return static_cast<lip::v1::EnergyMode>(static_cast<int>(mode));
}

absl::Status CheckBridge(const lip::v1::LipPacket& packet, const BridgeMetadata& bridge) {
  const bool other_version =
      packet.bridge().version() != 0 && bridge.version != 0 && packet.bridge().version() != bridge.version;
  const bool other_digest =
      !packet.bridge().digest().empty() && !bridge.digest.empty() && packet.bridge().digest() != bridge.digest;
  if (packet.bridge().name() == bridge.name && !other_version && !other_digest) return absl::OkStatus();
  return WithPacketErrorReason(
      absl::FailedPreconditionError(absl::StrCat(
          "packet is for bridge \"", packet.bridge().name(), "\" version ", packet.bridge().version(), " (",
          packet.bridge().digest(), "), this receiver serves \"", bridge.name, "\" version ", bridge.version, " (",
          bridge.digest, ")")),
      kReasonBridgeMismatch);
}

absl::Status CheckReceiver(const lip::v1::LipPacket& packet, const BridgeModelId& receiver_model) {
  if (packet.receiver_models_size() == 0) return absl::OkStatus();
  for (const lip::v1::ModelId& model : packet.receiver_models()) {
    if (model.name() == receiver_model.name &&
        (model.weights_digest().empty() || model.weights_digest() == receiver_model.weights_digest)) {
      return absl::OkStatus();
    }
  }
  return WithPacketErrorReason(
      absl::FailedPreconditionError(absl::StrCat("packet lists ", packet.receiver_models_size(),
                                                 " receiver models, none is \"", receiver_model.name, "\"")),
      kReasonReceiverMismatch);
}

absl::Status CheckCalibration(const lip::v1::Calibration& calibration, const EnergyConfig& energy) {
  const lip::v1::EnergyMode ours = EnergyModeToProto(energy.mode);
  if (calibration.energy_mode() != lip::v1::ENERGY_MODE_UNSPECIFIED && calibration.energy_mode() != ours) {
    return WithPacketErrorReason(
        absl::FailedPreconditionError(absl::StrCat(
            "calibration.energy_mode is ", lip::v1::EnergyMode_Name(calibration.energy_mode()),
            ", this receiver's bridge half applies ", lip::v1::EnergyMode_Name(ours))),
        kReasonCalibrationMismatch);
  }
  const double target = calibration.target_reference_energy();
  if (target != 0 && std::abs(target - energy.reference_energy) > 1e-5 * std::abs(energy.reference_energy)) {
    return WithPacketErrorReason(
        absl::FailedPreconditionError(absl::StrCat("calibration.target_reference_energy is ", target,
                                                   ", this receiver's E_ref is ", energy.reference_energy)),
        kReasonCalibrationMismatch);
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<lip::v1::LipPacket> PacketFromLatent(const EncodedText& z, const BridgeMetadata& bridge,
                                                    const BridgeModelId& sender_model,
                                                    const LatentPacketOptions& options,
                                                    const PacketLimits& limits) {
  PacketMetadata meta;
  meta.packet_id = options.packet_id;
  meta.conversation_id = options.conversation_id;
  meta.sequence = options.sequence;
  meta.sender_model = ModelIdToProto(sender_model);
  meta.receiver_models.push_back(options.receiver_model.name().empty() ? ModelIdToProto(bridge.receiver_model)
                                                                       : options.receiver_model);
  meta.bridge = BridgeIdToProto(bridge);
  meta.source_layer = static_cast<uint32_t>(z.source_layer);
  meta.calibration.set_energy_mode(EnergyModeToProto(z.energy_mode));
  meta.calibration.set_target_reference_energy(static_cast<float>(z.target_reference_energy));
  meta.priming = options.priming;
  if (options.task.has_classify() || options.task.has_generate()) {
    meta.task = options.task;
  } else {
    for (const std::string& label : bridge.labels) meta.task.mutable_classify()->add_labels(label);
  }
  return BuildPacket(meta, z.z, z.num_soft_tokens, z.width, options.dtype, limits);
}

ReceiverTask ReceiverTaskFromProto(const lip::v1::Task& task) {
  ReceiverTask out;
  if (task.has_generate()) {
    out.kind = ReceiverTask::Kind::kGenerate;
    out.max_new_tokens = task.generate().max_new_tokens();
    out.temperature = task.generate().temperature();
    out.top_p = task.generate().top_p();
    out.seed = task.generate().seed();
    out.stop.assign(task.generate().stop().begin(), task.generate().stop().end());
  } else {
    out.kind = ReceiverTask::Kind::kClassify;
    out.labels.assign(task.classify().labels().begin(), task.classify().labels().end());
  }
  return out;
}

absl::StatusOr<LatentMessage> LatentMessageFromPacket(const lip::v1::LipPacket& packet,
                                                      const BridgeMetadata& bridge,
                                                      const BridgeModelId& receiver_model,
                                                      const PacketLimits& limits) {
  LIP_ASSIGN_OR_RETURN(std::vector<float> values, ValidateAndDequantize(packet, limits));
  LIP_RETURN_IF_ERROR(CheckBridge(packet, bridge));
  LIP_RETURN_IF_ERROR(CheckReceiver(packet, receiver_model));
  LIP_RETURN_IF_ERROR(CheckCalibration(packet.calibration(), bridge.receiver.energy));
  LatentMessage message;
  message.z = std::move(values);
  message.num_soft_tokens = packet.soft_token_count();
  message.width = packet.soft_token_width();
  message.priming.context_prefix = packet.priming().context_prefix();
  message.priming.anchor = packet.priming().anchor();
  message.task = ReceiverTaskFromProto(packet.task());
  return message;
}

}  // namespace lip
