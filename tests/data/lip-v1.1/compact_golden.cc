#include "compact_golden.h"

#include <map>
#include <memory>

#include "absl/strings/str_format.h"
#include "common/wire/compact_packet.h"
#include "common/wire/packet_codec.h"
#include "common/wire/packet_error.h"
#include "common/wire/sha256.h"
#include "lip/v1/receiver.pb.h"

namespace lip {
namespace {

// The shape the compact wire is meant for: M = 4 soft tokens of width d_z = 32, int8.
constexpr int kRows = 4;
constexpr int kCols = 32;

// Values k/64 for integers k in [-160, 160): exact in binary32; row r's largest
// magnitude differs per row, so the four scales differ.
std::vector<float> Values(uint32_t seed) {
  std::vector<float> v(kRows * kCols);
  uint32_t state = seed;
  for (int r = 0; r < kRows; ++r) {
    for (int c = 0; c < kCols; ++c) {
      state = state * 1664525u + 1013904223u;
      const int k = static_cast<int>((state >> 8) % 320) - 160;
      v[r * kCols + c] = static_cast<float>(k >> r) * 0x1p-6f;
    }
  }
  return v;
}

PacketMetadata Metadata(uint64_t sequence) {
  PacketMetadata meta;
  for (int i = 0; i < 16; ++i) meta.packet_id.push_back(static_cast<char>(0xA0 + i));
  meta.conversation_id = "golden-stream";
  meta.sequence = sequence;
  meta.created_unix_nanos = 1800000000000000000 + static_cast<int64_t>(sequence);
  meta.sender_model.set_family("llama");
  meta.sender_model.set_name("lip-demo/sender-llama");
  meta.sender_model.set_weights_digest(Sha256Digest("golden sender weights"));
  lip::v1::ModelId receiver;
  receiver.set_family("qwen2");
  receiver.set_name("lip-demo/receiver-qwen2");
  receiver.set_weights_digest(Sha256Digest("golden receiver weights"));
  meta.receiver_models.push_back(receiver);
  meta.bridge.set_name("golden-compact-bridge");
  meta.bridge.set_version(1);
  meta.bridge.set_digest(Sha256Digest("golden compact bridge checkpoint"));
  meta.source_layer = 3;
  meta.calibration.set_energy_mode(lip::v1::ENERGY_MODE_PER_VECTOR_NORM);
  meta.calibration.set_target_reference_energy(0.5f);
  meta.priming.set_context_prefix("News article:");
  meta.priming.set_anchor("\nThe topic of this article is");
  for (const char* label : {" world", " sports", " business", " science"}) {
    meta.task.mutable_classify()->add_labels(label);
  }
  return meta;
}

lip::v1::LipPacket Packet(uint64_t sequence, uint32_t seed) {
  const std::vector<float> values = Values(seed);
  absl::StatusOr<lip::v1::LipPacket> packet =
      BuildPacket(Metadata(sequence), values, kRows, kCols, lip::v1::DTYPE_INT8);
  // Fixed, valid inputs: a failure is a codec bug, which golden_vectors_test reports.
  return packet.ok() ? *packet : lip::v1::LipPacket();
}

std::string Request(const lip::v1::LipPacket& packet) {
  lip::v1::SendLatentRequest request;
  *request.mutable_packet() = packet;
  return request.SerializeAsString();
}

std::string Request(const lip::v1::CompactPacket& compact) {
  lip::v1::SendLatentRequest request;
  *request.mutable_compact() = compact;
  return request.SerializeAsString();
}

CompactGoldenCase Valid(std::string file, std::string description, std::string wire) {
  CompactGoldenCase c;
  c.file = std::move(file);
  c.description = std::move(description);
  c.wire = std::move(wire);
  return c;
}

CompactGoldenCase Invalid(std::string file, std::string description, std::string wire, absl::StatusCode code,
                          std::string reason) {
  CompactGoldenCase c = Valid(std::move(file), std::move(description), std::move(wire));
  c.valid = false;
  c.code = code;
  c.reason = std::move(reason);
  return c;
}

CompactGoldenCase Defect(std::string file, std::string description, std::string wire, PacketDefect defect) {
  return Invalid(std::move(file), std::move(description), std::move(wire), absl::StatusCode::kInvalidArgument,
                 std::string(PacketDefectReason(defect)));
}

void Reseal(lip::v1::CompactPacket& compact) {
  compact.mutable_tensor()->set_crc32c(TensorChecksum(compact.tensor()));
}

}  // namespace

std::vector<CompactGoldenCase> BuildCompactGoldenCases() {
  std::vector<CompactGoldenCase> cases;
  const lip::v1::LipPacket first = Packet(0, 11);
  const uint64_t header_id = HeaderIdFor(first);
  // Later messages of the stream: derived packet ids, as a stream sender gives them.
  auto message = [&](uint64_t sequence, uint32_t seed) {
    lip::v1::LipPacket p = Packet(sequence, seed);
    p.set_packet_id(DerivedPacketId(header_id, sequence));
    return p;
  };
  const lip::v1::CompactPacket compact1 = CompactFromPacket(message(1, 12), header_id);

  cases.push_back(Invalid("compact_before_header.bin",
                          "compact message naming a header the receiver does not hold yet (the client resends "
                          "in full)",
                          Request(compact1), absl::StatusCode::kFailedPrecondition,
                          std::string(kReasonHeaderNotCached)));
  cases.push_back(Valid("full_with_header_id.bin",
                        "LIP 1.1 full packet, int8 4x32, header_id set: the receiver keeps its header",
                        Request(WithHeaderId(first, header_id))));
  cases.push_back(Valid("compact_seq1.bin", "compact message, sequence 1, derived packet id", Request(compact1)));
  {
    lip::v1::LipPacket p = Packet(2, 13);  // its own random-looking packet id, kept explicitly
    cases.push_back(Valid("compact_seq2_explicit_id.bin", "compact message, sequence 2, explicit packet id",
                          Request(CompactFromPacket(p, header_id))));
  }
  cases.push_back(Valid("full_minor0_seq3.bin", "a LIP 1.0 packet (no header_id) in the same stream",
                        Request(Packet(3, 14))));
  {
    lip::v1::CompactPacket c = CompactFromPacket(message(4, 15), header_id);
    c.mutable_tensor()->set_dtype(lip::v1::DTYPE_INT8);
    cases.push_back(Valid("compact_seq4_dtype_given.bin", "compact message repeating the header's dtype (int8)",
                          Request(c)));
  }
  const lip::v1::CompactPacket compact5 = CompactFromPacket(message(5, 16), header_id);
  {
    lip::v1::CompactPacket c = compact5;
    c.clear_header_id();
    cases.push_back(Defect("bad_compact_no_header_id.bin", "compact message without header_id", Request(c),
                           PacketDefect::kMissingField));
  }
  {
    lip::v1::CompactPacket c = compact5;
    c.set_packet_id("short");
    cases.push_back(Defect("bad_compact_packet_id_length.bin", "compact packet_id of 5 bytes", Request(c),
                           PacketDefect::kInvalidField));
  }
  {
    lip::v1::CompactPacket c = compact5;
    c.clear_tensor();
    cases.push_back(Defect("bad_compact_no_tensor.bin", "compact message without tensor", Request(c),
                           PacketDefect::kMissingField));
  }
  {
    lip::v1::CompactPacket c = compact5;
    c.mutable_tensor()->set_dtype(lip::v1::DTYPE_FP16);
    cases.push_back(Defect("bad_compact_dtype.bin", "compact dtype fp16, header's int8", Request(c),
                           PacketDefect::kInvalidField));
  }
  {
    lip::v1::CompactPacket c = compact5;
    (*c.mutable_tensor()->mutable_data())[7] ^= 0x10;
    cases.push_back(Defect("bad_compact_checksum.bin", "one payload bit flipped", Request(c),
                           PacketDefect::kChecksumMismatch));
  }
  {
    lip::v1::CompactPacket c = compact5;
    c.mutable_tensor()->mutable_data()->resize(kRows * kCols - 1);
    Reseal(c);
    cases.push_back(Defect("bad_compact_payload_size.bin", "payload one int8 value short (checksum resealed)",
                           Request(c), PacketDefect::kPayloadSizeMismatch));
  }
  {
    lip::v1::SendLatentRequest both;
    *both.mutable_packet() = Packet(5, 16);
    *both.mutable_compact() = compact5;
    cases.push_back(Defect("bad_packet_and_compact.bin", "a request carrying both a packet and a compact message",
                           both.SerializeAsString(), PacketDefect::kInvalidField));
  }
  {
    const std::string wire = Request(compact5);
    cases.push_back(Defect("bad_compact_truncated.bin", "last 20 bytes cut off", wire.substr(0, wire.size() - 20),
                           PacketDefect::kMalformed));
  }
  cases.push_back(Valid("compact_seq5.bin", "after the bad ones, the stream goes on: sequence 5", Request(compact5)));
  return cases;
}

nlohmann::json BuildCompactExpectedJson(const std::vector<CompactGoldenCase>& cases) {
  nlohmann::json out;
  out["format"] =
      "LIP 1.1 compact-wire golden vectors: SendLatentRequests decoded in order by one receiver for one caller; "
      "see docs/protocol.md section 12";
  out["requests"] = nlohmann::json::array();
  std::map<uint64_t, std::shared_ptr<const lip::v1::LipPacket>> headers;  // the receiver's cache
  for (const CompactGoldenCase& c : cases) {
    nlohmann::json j;
    j["file"] = c.file;
    j["description"] = c.description;
    j["valid"] = c.valid;
    j["request_bytes"] = c.wire.size();
    if (!c.valid) {
      j["code"] = absl::StatusCodeToString(c.code);
      j["reason"] = c.reason;
      out["requests"].push_back(j);
      continue;
    }
    lip::v1::SendLatentRequest request;
    if (!request.ParseFromString(c.wire)) {
      j["error"] = "does not parse";  // never committed: the test fails first
      out["requests"].push_back(j);
      continue;
    }
    j["kind"] = request.has_compact() ? "compact" : "packet";
    j["message_bytes"] = request.has_compact() ? request.compact().ByteSizeLong() : request.packet().ByteSizeLong();
    // The header the request names (compact) or leaves (full packet with header_id); 0 = none.
    j["header_id_hex"] = absl::StrFormat(
        "%016x", request.has_compact() ? request.compact().header_id() : request.packet().header_id());
    absl::StatusOr<lip::v1::LipPacket> packet = PacketOfRequest(&request, [&](uint64_t id) {
      auto it = headers.find(id);
      return it == headers.end() ? nullptr : it->second;
    });
    absl::StatusOr<std::vector<float>> values =
        packet.ok() ? ValidateAndDequantize(*packet) : absl::StatusOr<std::vector<float>>(packet.status());
    if (!values.ok()) {
      j["error"] = values.status().ToString();
      out["requests"].push_back(j);
      continue;
    }
    const lip::v1::LipPacket& p = *packet;
    j["header_cached"] = p.header_id() != 0;
    if (p.header_id() != 0) headers[p.header_id()] = std::make_shared<lip::v1::LipPacket>(PacketHeader(p));
    j["version"] = {{"major", p.version().major()}, {"minor", p.version().minor()}};
    j["packet_id_hex"] = HexBytes(p.packet_id());
    j["conversation_id"] = p.conversation_id();
    j["sequence"] = p.sequence();
    j["created_unix_nanos"] = p.created_unix_nanos();
    j["bridge_name"] = p.bridge().name();
    j["energy_mode"] = lip::v1::EnergyMode_Name(p.calibration().energy_mode());
    j["target_reference_energy"] = p.calibration().target_reference_energy();
    j["labels"] = std::vector<std::string>(p.task().classify().labels().begin(), p.task().classify().labels().end());
    j["soft_token_count"] = p.soft_token_count();
    j["soft_token_width"] = p.soft_token_width();
    j["dtype"] = lip::v1::DType_Name(p.tensor().dtype());
    j["crc32c"] = p.tensor().crc32c();
    j["scales"] = std::vector<float>(p.tensor().scales().begin(), p.tensor().scales().end());
    j["values"] = nlohmann::json::array();
    for (float v : *values) j["values"].push_back(static_cast<double>(v));  // exact
    out["requests"].push_back(j);
  }
  return out;
}

}  // namespace lip
