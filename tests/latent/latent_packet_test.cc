// bridge/latent/latent_packet.h: the one packet <-> latent translation. A sender's packet for a
// bridge is accepted by that bridge's receiver half and gives back the same soft tokens, task and
// priming; a packet for another bridge, another receiver or another energy matching is refused
// with FAILED_PRECONDITION and a reason that says which.
#include "bridge/latent/latent_packet.h"

#include "common/wire/packet_codec.h"
#include "common/wire/packet_error.h"
#include "gtest/gtest.h"

namespace lip {
namespace {

BridgeMetadata Bridge() {
  BridgeMetadata bridge;
  bridge.name = "latent-packet-test";
  bridge.version = 3;
  bridge.digest = "sha256:" + std::string(64, 'a');
  bridge.sender_model.name = "sender-model";
  bridge.receiver_model.name = "receiver-model";
  bridge.receiver_model.weights_digest = "sha256:" + std::string(64, 'b');
  bridge.receiver.energy.mode = EnergyMode::kPerVectorNorm;
  bridge.receiver.energy.reference_energy = 0.8125;
  bridge.labels = {" yes", " no"};
  return bridge;
}

EncodedText Z(const BridgeMetadata& bridge) {
  EncodedText z;
  z.num_soft_tokens = 4;
  z.width = 8;
  for (int i = 0; i < 32; ++i) z.z.push_back(0.125f * static_cast<float>(i % 7) - 0.25f);
  z.energy_mode = bridge.receiver.energy.mode;
  z.target_reference_energy = bridge.receiver.energy.reference_energy;
  z.source_layer = 2;
  return z;
}

lip::v1::LipPacket SenderPacket(const BridgeMetadata& bridge, lip::v1::DType dtype = lip::v1::DTYPE_FP32) {
  LatentPacketOptions options;
  options.dtype = dtype;
  options.sequence = 5;
  options.priming.set_anchor("Answer:");
  absl::StatusOr<lip::v1::LipPacket> packet = PacketFromLatent(Z(bridge), bridge, bridge.sender_model, options);
  EXPECT_TRUE(packet.ok()) << packet.status();
  return packet.ok() ? *packet : lip::v1::LipPacket();
}

std::string ReasonOf(const absl::StatusOr<LatentMessage>& message) { return PacketErrorReason(message.status()); }

TEST(LatentPacketTest, SenderPacketDescribesTheBridgeAndRoundTrips) {
  const BridgeMetadata bridge = Bridge();
  const lip::v1::LipPacket packet = SenderPacket(bridge);
  EXPECT_EQ(packet.bridge().name(), bridge.name);
  EXPECT_EQ(packet.bridge().version(), 3u);
  EXPECT_EQ(packet.bridge().digest(), bridge.digest);
  ASSERT_EQ(packet.receiver_models_size(), 1);
  EXPECT_EQ(packet.receiver_models(0).name(), "receiver-model");
  EXPECT_EQ(packet.calibration().energy_mode(), lip::v1::ENERGY_MODE_PER_VECTOR_NORM);
  EXPECT_FLOAT_EQ(packet.calibration().target_reference_energy(), 0.8125f);
  EXPECT_GT(packet.calibration().source_rms(), 0.0f);  // measured by the codec
  EXPECT_EQ(packet.task().classify().labels_size(), 2);  // no task given: the bridge's labels
  EXPECT_EQ(packet.source_layer(), 2u);

  absl::StatusOr<LatentMessage> message = LatentMessageFromPacket(packet, bridge, bridge.receiver_model);
  ASSERT_TRUE(message.ok()) << message.status();
  EXPECT_EQ(message->num_soft_tokens, 4);
  EXPECT_EQ(message->width, 8);
  EXPECT_EQ(message->z, Z(bridge).z);  // fp32: exact
  EXPECT_EQ(message->priming.anchor, "Answer:");
  EXPECT_EQ(message->task.labels, bridge.labels);
}

TEST(LatentPacketTest, RefusesAnotherBridgeOrReceiver) {
  const BridgeMetadata bridge = Bridge();
  BridgeMetadata other = bridge;
  other.version = 4;
  EXPECT_EQ(ReasonOf(LatentMessageFromPacket(SenderPacket(bridge), other, bridge.receiver_model)), "BRIDGE_MISMATCH");
  BridgeModelId someone_else = bridge.receiver_model;
  someone_else.name = "another-receiver";
  absl::StatusOr<LatentMessage> refused = LatentMessageFromPacket(SenderPacket(bridge), bridge, someone_else);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ReasonOf(refused), "RECEIVER_MISMATCH");
}

TEST(LatentPacketTest, CalibrationIsCheckedAgainstTheReceiverHalf) {
  const BridgeMetadata bridge = Bridge();
  lip::v1::LipPacket packet = SenderPacket(bridge);
  packet.mutable_calibration()->set_energy_mode(lip::v1::ENERGY_MODE_RMS);
  absl::StatusOr<LatentMessage> refused = LatentMessageFromPacket(packet, bridge, bridge.receiver_model);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ReasonOf(refused), "CALIBRATION_MISMATCH");
  EXPECT_NE(refused.status().message().find("ENERGY_MODE_RMS"), std::string::npos) << refused.status();
  EXPECT_NE(refused.status().message().find("ENERGY_MODE_PER_VECTOR_NORM"), std::string::npos);

  packet = SenderPacket(bridge);
  packet.mutable_calibration()->set_target_reference_energy(1.5f);
  refused = LatentMessageFromPacket(packet, bridge, bridge.receiver_model);
  EXPECT_EQ(ReasonOf(refused), "CALIBRATION_MISMATCH");
  EXPECT_NE(refused.status().message().find("1.5"), std::string::npos) << refused.status();

  // Unspecified mode and unknown E_ref: the receiver's own apply.
  packet = SenderPacket(bridge);
  packet.mutable_calibration()->set_energy_mode(lip::v1::ENERGY_MODE_UNSPECIFIED);
  packet.mutable_calibration()->set_target_reference_energy(0);
  EXPECT_TRUE(LatentMessageFromPacket(packet, bridge, bridge.receiver_model).ok());
  // A codec defect comes first.
  packet.mutable_tensor()->set_crc32c(packet.tensor().crc32c() ^ 1);
  packet.mutable_calibration()->set_energy_mode(lip::v1::ENERGY_MODE_RMS);
  EXPECT_EQ(ReasonOf(LatentMessageFromPacket(packet, bridge, bridge.receiver_model)), "CHECKSUM_MISMATCH");
}

TEST(LatentPacketTest, Int8PacketGivesTheQuantizedValues) {
  const BridgeMetadata bridge = Bridge();
  const lip::v1::LipPacket packet = SenderPacket(bridge, lip::v1::DTYPE_INT8);
  absl::StatusOr<LatentMessage> message = LatentMessageFromPacket(packet, bridge, bridge.receiver_model);
  ASSERT_TRUE(message.ok()) << message.status();
  absl::StatusOr<std::vector<float>> values = ValidateAndDequantize(packet);
  ASSERT_TRUE(values.ok());
  EXPECT_EQ(message->z, *values);
}

}  // namespace
}  // namespace lip
