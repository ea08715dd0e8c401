// The one translation between a bridge's soft tokens and LIP packets, both ways:
//
//   sender:   EncodedText (Z, M x d_z fp32) + the bridge's identity -> PacketFromLatent -> LipPacket
//   receiver: LipPacket -> LatentMessageFromPacket -> LatentMessage (Z, M x d_z fp32) for the
//             ReceiverPipeline, after the codec's validation and the checks a receiver makes
//             against its own bridge half and model (docs/protocol.md §3, §7.2)
//
// The sender node, the receiver node and the evaluation tool (lip-eval's wire round trip) all go
// through these functions, so what is measured offline is what the nodes send. Shapes are
// int64_t everywhere here (M = soft tokens, d = their width), as in EncodedText and
// LatentMessage; the wire's uint32 fields are converted only inside this file and the codec.
//
// Errors are absl::Status values with a machine-readable reason (common/wire/packet_error.h): the
// codec's packet defects (INVALID_ARGUMENT, or FAILED_PRECONDITION for VERSION_MISMATCH), and
// FAILED_PRECONDITION with BRIDGE_MISMATCH, RECEIVER_MISMATCH or CALIBRATION_MISMATCH for a
// valid packet that is not for this receiver.
//
// Pure functions (PacketFromLatent also reads the clock and the random source for a fresh
// packet id); thread-safe.
#ifndef LIP_BRIDGE_LATENT_LATENT_PACKET_H_
#define LIP_BRIDGE_LATENT_LATENT_PACKET_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "bridge/latent/bridge_config.h"
#include "bridge/latent/receiver_pipeline.h"
#include "bridge/latent/sender_pipeline.h"
#include "common/wire/packet_limits.h"
#include "lip/v1/packet.pb.h"

namespace lip {

// What the sender's caller chooses about one packet; everything else comes from the bridge.
struct LatentPacketOptions {
  lip::v1::DType dtype = lip::v1::DTYPE_FP16;  // wire dtype (DTYPE_UNSPECIFIED is refused)
  std::string packet_id;        // 16 bytes; empty = fresh random
  std::string conversation_id;  // empty for unary calls
  uint64_t sequence = 0;
  // The intended receiver; an empty name = the bridge's receiver model.
  lip::v1::ModelId receiver_model;
  lip::v1::Priming priming;  // empty = the receiver uses the bridge's trained priming
  lip::v1::Task task;        // neither classify nor generate = classify over the bridge's labels
};

// The packet a sender sends for `z`, encoded by `sender_model` through `bridge`'s sender half:
// identity (sender model, intended receiver, bridge name/version/digest), source layer,
// calibration (energy mode and E_ref of the bridge's receiver half; source_rms and
// source_mean_norm measured by the codec on the fp32 values), priming, task and the tensor in
// options.dtype. Errors are the codec's (BuildPacket): e.g. NON_FINITE_VALUE for a value that
// overflows fp16, LIMIT_EXCEEDED for a shape over `limits`.
absl::StatusOr<lip::v1::LipPacket> PacketFromLatent(const EncodedText& z, const BridgeMetadata& bridge,
                                                    const BridgeModelId& sender_model,
                                                    const LatentPacketOptions& options,
                                                    const PacketLimits& limits = PacketLimits());

// The receiver's side: validates `packet` (the codec's checks within `limits`), then checks it
// against the receiver half `bridge` and the receiver model `receiver_model`, in this order:
//   bridge name, version (when both sides carry one), digest (likewise)   -> BRIDGE_MISMATCH
//   receiver_models, when not empty, names this model (name, and weights
//   digest when the packet gives one)                                      -> RECEIVER_MISMATCH
//   calibration.energy_mode, unless ENERGY_MODE_UNSPECIFIED, is the mode of
//   the bridge's receiver half; target_reference_energy, unless 0, is its
//   E_ref (to a relative 1e-5)                                             -> CALIBRATION_MISMATCH
// and returns the dequantized soft tokens with the packet's priming and task. The receiver
// applies its bridge half's energy matching, which the calibration check has just shown to be
// the one the sender asked for (docs/protocol.md §3, Calibration).
absl::StatusOr<LatentMessage> LatentMessageFromPacket(const lip::v1::LipPacket& packet,
                                                      const BridgeMetadata& bridge,
                                                      const BridgeModelId& receiver_model,
                                                      const PacketLimits& limits = PacketLimits());

// A lip.v1.Task as the pipeline's ReceiverTask (no validation beyond the codec's).
ReceiverTask ReceiverTaskFromProto(const lip::v1::Task& task);

}  // namespace lip

#endif  // LIP_BRIDGE_LATENT_LATENT_PACKET_H_
