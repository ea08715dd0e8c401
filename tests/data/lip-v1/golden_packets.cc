#include "golden_packets.h"

#include <cmath>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/wire/packet_codec.h"
#include "common/wire/packet_error.h"
#include "common/wire/sha256.h"

namespace lip {
namespace {

constexpr int kRows = 4;
constexpr int kCols = 8;

// 4 x 8 values exercising rounding: zeros of both signs, fp16 extremes and
// subnormals, exact ties, values that vanish in fp16, and an all-zero row
// (the int8 all-zero-row rule). Only exact arithmetic (powers of two).
std::vector<float> GoldenValues() {
  std::vector<float> v = {
      0.0f, -0.0f, 1.0f, -1.0f, 0.1f, 1.0f / 3.0f, 65504.0f, -65504.0f,
      0x1p-24f, 3 * 0x1p-25f, 6.1e-5f, 1e-8f, 1.0f + 0x1p-11f, 1.0f + 3 * 0x1p-11f, 3.14159265f, -2.71828f,
  };
  uint32_t state = 2024;
  for (int i = 0; i < kCols; ++i) {
    state = state * 1664525u + 1013904223u;
    v.push_back(static_cast<float>(static_cast<int32_t>(state >> 8) - (1 << 23)) * 0x1p-21f);  // [-4, 4)
  }
  for (int i = 0; i < kCols; ++i) v.push_back(0.0f);
  return v;
}

PacketMetadata GoldenMetadata() {
  PacketMetadata meta;
  for (int i = 0; i < 16; ++i) meta.packet_id.push_back(static_cast<char>(i));
  meta.conversation_id = "golden-conversation";
  meta.sequence = 7;
  meta.created_unix_nanos = 1700000000123456789;
  meta.sender_model.set_family("llama");
  meta.sender_model.set_name("lip-demo/sender-llama");
  meta.sender_model.set_revision("r1");
  meta.sender_model.set_weights_digest(Sha256Digest("golden sender weights"));
  lip::v1::ModelId receiver;
  receiver.set_family("qwen2");
  receiver.set_name("lip-demo/receiver-qwen2");
  meta.receiver_models.push_back(receiver);
  meta.bridge.set_name("golden-bridge");
  meta.bridge.set_version(3);
  meta.bridge.set_digest(Sha256Digest("golden bridge checkpoint"));
  meta.source_layer = 16;
  meta.calibration.set_energy_mode(lip::v1::ENERGY_MODE_PER_VECTOR_NORM);
  meta.calibration.set_target_reference_energy(0.75f);
  meta.priming.set_context_prefix("Th\xC3\xA8me de la critique :");  // "Thème", UTF-8
  meta.priming.set_anchor("Sentiment:");
  meta.task.mutable_classify()->add_labels("negative");
  meta.task.mutable_classify()->add_labels("positive");
  return meta;
}

lip::v1::LipPacket Build(lip::v1::DType dtype, const PacketMetadata& meta) {
  const std::vector<float> values = GoldenValues();
  absl::StatusOr<lip::v1::LipPacket> packet = BuildPacket(meta, values, kRows, kCols, dtype);
  // The inputs are fixed and valid; a failure here is a codec bug, reported
  // by golden_vectors_test as a missing / mismatching file.
  return packet.ok() ? *packet : lip::v1::LipPacket();
}

void Reseal(lip::v1::LipPacket& packet) { packet.mutable_tensor()->set_crc32c(TensorChecksum(packet.tensor())); }

GoldenCase Valid(std::string file, std::string description, const lip::v1::LipPacket& packet) {
  GoldenCase c;
  c.file = std::move(file);
  c.description = std::move(description);
  c.wire = SerializePacket(packet);
  return c;
}

GoldenCase Invalid(std::string file, std::string description, std::string wire, PacketDefect defect) {
  GoldenCase c;
  c.file = std::move(file);
  c.description = std::move(description);
  c.wire = std::move(wire);
  c.valid = false;
  c.code = defect == PacketDefect::kVersionMismatch ? absl::StatusCode::kFailedPrecondition
                                                    : absl::StatusCode::kInvalidArgument;
  c.reason = std::string(PacketDefectReason(defect));
  return c;
}

std::string CodeName(absl::StatusCode code) { return absl::StatusCodeToString(code); }

}  // namespace

std::vector<GoldenCase> BuildGoldenCases() {
  std::vector<GoldenCase> cases;
  const PacketMetadata classify = GoldenMetadata();
  PacketMetadata generate = GoldenMetadata();
  generate.task.Clear();
  lip::v1::GenerateTask* g = generate.task.mutable_generate();
  g->set_max_new_tokens(32);
  g->set_temperature(0.5f);
  g->set_top_p(0.875f);
  g->set_seed(1234);
  g->add_stop("\n");

  cases.push_back(Valid("fp32_classify.bin", "fp32, classify task", Build(lip::v1::DTYPE_FP32, classify)));
  const lip::v1::LipPacket fp16 = Build(lip::v1::DTYPE_FP16, generate);
  cases.push_back(Valid("fp16_generate.bin", "fp16, generate task; ties, subnormals and +-65504", fp16));
  cases.push_back(Valid("bf16_classify.bin", "bf16, classify task", Build(lip::v1::DTYPE_BF16, classify)));
  const lip::v1::LipPacket int8 = Build(lip::v1::DTYPE_INT8, classify);
  cases.push_back(Valid("int8_classify.bin", "int8 with per-row scales; row 3 is all zeros (scale 1)", int8));

  {  // A packet from LIP 1.1 carrying fields 1.0 does not know.
    lip::v1::LipPacket newer = fp16;
    newer.mutable_version()->set_minor(1);
    GoldenCase c = Valid("fp16_minor1_unknown_fields.bin",
                         "LIP 1.1 packet with unknown fields 100 (varint), 101 (bytes), 102 (fixed32) and "
                         "field 9 inside version; must decode like fp16_generate.bin",
                         newer);
    c.wire += std::string("\xA0\x06\x07", 3);
    c.wire += std::string("\xAA\x06\x06", 3) + "future";
    c.wire += std::string("\xB5\x06\x01\x02\x03\x04", 6);
    c.wire += std::string("\x0A\x02\x48\x01", 4);
    cases.push_back(std::move(c));
  }
  {
    lip::v1::LipPacket p = fp16;
    (*p.mutable_tensor()->mutable_data())[5] ^= 0x01;
    cases.push_back(Invalid("bad_checksum.bin", "one payload bit flipped", SerializePacket(p),
                            PacketDefect::kChecksumMismatch));
  }
  {
    lip::v1::LipPacket p = fp16;
    p.mutable_version()->set_major(2);
    cases.push_back(Invalid("bad_version_major2.bin", "major version 2", SerializePacket(p),
                            PacketDefect::kVersionMismatch));
  }
  {
    lip::v1::LipPacket p = fp16;
    p.mutable_tensor()->mutable_data()->resize(p.tensor().data().size() - 2);
    Reseal(p);
    cases.push_back(Invalid("bad_payload_size.bin", "payload one fp16 value short (checksum resealed)",
                            SerializePacket(p), PacketDefect::kPayloadSizeMismatch));
  }
  {
    lip::v1::LipPacket p = fp16;
    (*p.mutable_tensor()->mutable_data())[2] = '\x00';
    (*p.mutable_tensor()->mutable_data())[3] = '\x7E';
    Reseal(p);
    cases.push_back(Invalid("bad_nan.bin", "fp16 NaN at row 0 col 1 (checksum resealed)", SerializePacket(p),
                            PacketDefect::kNonFiniteValue));
  }
  {
    lip::v1::LipPacket p = fp16;
    p.mutable_tensor()->set_dtype(static_cast<lip::v1::DType>(7));
    cases.push_back(Invalid("bad_unknown_dtype.bin", "dtype 7", SerializePacket(p), PacketDefect::kUnknownDType));
  }
  {
    lip::v1::LipPacket p = fp16;
    p.clear_packet_id();
    cases.push_back(Invalid("bad_missing_packet_id.bin", "no packet_id", SerializePacket(p),
                            PacketDefect::kMissingField));
  }
  {
    lip::v1::LipPacket p = int8;
    p.set_soft_token_count(2000);
    cases.push_back(Invalid("bad_limit_exceeded.bin", "M = 2000 > 1024", SerializePacket(p),
                            PacketDefect::kLimitExceeded));
  }
  {
    const std::string wire = SerializePacket(fp16);
    cases.push_back(Invalid("bad_truncated.bin", "last 10 bytes cut off", wire.substr(0, wire.size() - 10),
                            PacketDefect::kMalformed));
  }
  return cases;
}

nlohmann::json BuildExpectedJson(const std::vector<GoldenCase>& cases) {
  nlohmann::json out;
  out["format"] = "LIP v1 golden vectors; see docs/protocol.md section 9";
  out["cases"] = nlohmann::json::array();
  for (const GoldenCase& c : cases) {
    nlohmann::json j;
    j["file"] = c.file;
    j["description"] = c.description;
    j["valid"] = c.valid;
    absl::StatusOr<DecodedPacket> decoded = DecodePacket(c.wire);
    if (!c.valid) {
      j["code"] = CodeName(c.code);
      j["reason"] = c.reason;
      out["cases"].push_back(j);
      continue;
    }
    if (!decoded.ok()) {
      j["error"] = decoded.status().ToString();  // never committed: the test fails first
      out["cases"].push_back(j);
      continue;
    }
    const lip::v1::LipPacket& p = decoded->packet;
    j["version"] = {{"major", p.version().major()}, {"minor", p.version().minor()}};
    j["packet_id_hex"] = HexBytes(p.packet_id());
    j["conversation_id"] = p.conversation_id();
    j["sequence"] = p.sequence();
    j["created_unix_nanos"] = p.created_unix_nanos();
    j["sender_model"] = {{"family", p.sender_model().family()},
                         {"name", p.sender_model().name()},
                         {"revision", p.sender_model().revision()},
                         {"weights_digest", p.sender_model().weights_digest()}};
    j["receiver_model_names"] = nlohmann::json::array();
    for (const auto& r : p.receiver_models()) j["receiver_model_names"].push_back(r.name());
    j["bridge"] = {{"name", p.bridge().name()}, {"version", p.bridge().version()}, {"digest", p.bridge().digest()}};
    j["source_layer"] = p.source_layer();
    j["soft_token_count"] = p.soft_token_count();
    j["soft_token_width"] = p.soft_token_width();
    j["calibration"] = {{"source_rms", p.calibration().source_rms()},
                        {"source_mean_norm", p.calibration().source_mean_norm()},
                        {"energy_mode", lip::v1::EnergyMode_Name(p.calibration().energy_mode())},
                        {"target_reference_energy", p.calibration().target_reference_energy()}};
    j["priming"] = {{"context_prefix", p.priming().context_prefix()}, {"anchor", p.priming().anchor()}};
    if (p.task().has_classify()) {
      j["task"] = {{"kind", "classify"}, {"labels", std::vector<std::string>(p.task().classify().labels().begin(),
                                                                             p.task().classify().labels().end())}};
    } else {
      const lip::v1::GenerateTask& gen = p.task().generate();
      j["task"] = {{"kind", "generate"},
                   {"max_new_tokens", gen.max_new_tokens()},
                   {"temperature", gen.temperature()},
                   {"top_p", gen.top_p()},
                   {"seed", gen.seed()},
                   {"stop", std::vector<std::string>(gen.stop().begin(), gen.stop().end())}};
    }
    j["dtype"] = lip::v1::DType_Name(p.tensor().dtype());
    j["data_bytes"] = p.tensor().data().size();
    j["crc32c"] = p.tensor().crc32c();
    j["scales"] = std::vector<float>(p.tensor().scales().begin(), p.tensor().scales().end());
    // Each fp32 value widened to double: the JSON number is the exact value.
    j["values"] = nlohmann::json::array();
    for (float v : decoded->values) j["values"].push_back(static_cast<double>(v));
    out["cases"].push_back(j);
  }
  return out;
}

FloatMatrix SampleSoftTokens() {
  FloatMatrix m;
  m.rows = 8;
  m.cols = 512;
  m.values.resize(8 * 512);
  uint32_t state = 8512;
  auto uniform = [&state]() {  // exact: a 24-bit integer times 2^-24
    state = state * 1664525u + 1013904223u;
    return static_cast<float>(state >> 8) * 0x1p-24f;
  };
  for (int r = 0; r < m.rows; ++r) {
    for (int c = 0; c < m.cols; ++c) {
      // Irwin-Hall(4) centred: mean 0, variance 1/3; times sqrt(3)-ish 1.75.
      float x = (uniform() + uniform() + uniform() + uniform() - 2.0f) * 1.75f;
      if (c == 7 || c == 133 || c == 401) x *= 16.0f;  // outlier channels
      m.values[static_cast<size_t>(r) * m.cols + c] = x;
    }
  }
  return m;
}

}  // namespace lip
