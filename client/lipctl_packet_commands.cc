// lipctl packet encode | inspect | decode: the LIP v1 packet tool.
// Tensor files: .npy (fp32/fp64, 2-D or 1-D) or raw little-endian fp32 with
// --rows/--cols (docs/protocol.md §10).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "client/lipctl_command.h"
#include "common/wire/binary_file.h"
#include "common/wire/packet_codec.h"
#include "common/wire/packet_error.h"
#include "common/wire/packet_json.h"
#include "common/wire/tensor_file.h"
#include "nlohmann/json.hpp"

namespace lip {
namespace {

int UsageError(const absl::Status& status) {
  std::fprintf(stderr, "lipctl: %s\n", std::string(status.message()).c_str());
  return kLipctlUsage;
}

void PrintJson(const nlohmann::json& j) { std::printf("%s\n", j.dump(2).c_str()); }

absl::StatusOr<FloatMatrix> ReadTensor(const LipctlArgs& args) {
  const std::string path = args.Get("input");
  if (path.empty()) return absl::InvalidArgumentError("--input TENSOR is required");
  if (args.Has("rows") || args.Has("cols") || !absl::EndsWith(path, ".npy")) {
    if (!args.Has("rows") || !args.Has("cols")) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, " is not a .npy file; raw little-endian fp32 input needs --rows and --cols"));
    }
    absl::StatusOr<long long> rows = args.GetInt("rows", 0, 1, 1 << 24);
    if (!rows.ok()) return rows.status();
    absl::StatusOr<long long> cols = args.GetInt("cols", 0, 1, 1 << 24);
    if (!cols.ok()) return cols.status();
    return ReadRawFloat32File(path, static_cast<int>(*rows), static_cast<int>(*cols));
  }
  return ReadNpyFile(path);
}

// Max |a-b|, RMS(a-b) and RMS(a-b)/RMS(a) of two equal-length vectors.
nlohmann::json ErrorStats(const std::vector<float>& reference, const std::vector<float>& got) {
  double max_abs = 0, sum_sq = 0, ref_sq = 0;
  for (size_t i = 0; i < reference.size(); ++i) {
    const double e = static_cast<double>(got[i]) - reference[i];
    max_abs = std::max(max_abs, std::fabs(e));
    sum_sq += e * e;
    ref_sq += static_cast<double>(reference[i]) * reference[i];
  }
  const double n = static_cast<double>(reference.size());
  return {{"max_abs_error", max_abs},
          {"rms_error", std::sqrt(sum_sq / n)},
          {"relative_rms_error", ref_sq > 0 ? std::sqrt(sum_sq / ref_sq) : 0.0}};
}

absl::StatusOr<lip::v1::EnergyMode> ParseEnergyMode(const std::string& name) {
  if (name == "none") return lip::v1::ENERGY_MODE_NONE;
  if (name == "per_vector_norm") return lip::v1::ENERGY_MODE_PER_VECTOR_NORM;
  if (name == "rms") return lip::v1::ENERGY_MODE_RMS;
  if (name.empty() || name == "unspecified") return lip::v1::ENERGY_MODE_UNSPECIFIED;
  return absl::InvalidArgumentError(
      absl::StrCat("--energy-mode \"", name, "\" is not one of none, per_vector_norm, rms, unspecified"));
}

// Reads a packet file and reports (valid or not) as JSON; returns the exit status.
int InspectFile(const std::string& path, const LipctlArgs& args, std::vector<float>* values_out,
                lip::v1::LipPacket* packet_out) {
  absl::StatusOr<std::string> wire = ReadBinaryFile(path);
  if (!wire.ok()) return UsageError(wire.status());
  nlohmann::json report;
  report["file"] = path;
  report["wire_bytes"] = wire->size();
  absl::StatusOr<DecodedPacket> decoded = DecodePacket(*wire);
  if (!decoded.ok()) {
    report["valid"] = false;
    report["code"] = absl::StatusCodeToString(decoded.status().code());
    report["reason"] = PacketErrorReason(decoded.status());
    report["message"] = std::string(decoded.status().message());
    lip::v1::LipPacket partial;  // show what can be parsed, to help debugging
    if (wire->size() <= PacketLimits().max_packet_bytes && partial.ParseFromString(*wire)) {
      report["header"] = PacketHeaderJson(partial);
    }
    PrintJson(report);
    std::fprintf(stderr, "lipctl: %s: bad packet: %s: %s\n", path.c_str(), PacketErrorReason(decoded.status()).c_str(),
                 std::string(decoded.status().message()).c_str());
    return kLipctlFailed;
  }
  report["valid"] = true;
  report["header"] = PacketHeaderJson(decoded->packet);
  double sum_sq = 0;
  for (float v : decoded->values) sum_sq += static_cast<double>(v) * v;
  report["decoded_rms"] = std::sqrt(sum_sq / static_cast<double>(decoded->values.size()));
  absl::StatusOr<long long> show = args.GetInt("values", 0, 0, 1 << 20);
  if (!show.ok()) return UsageError(show.status());
  if (*show > 0) {
    report["first_values"] = std::vector<float>(
        decoded->values.begin(), decoded->values.begin() + std::min<size_t>(*show, decoded->values.size()));
  }
  if (args.Has("compare")) {
    absl::StatusOr<FloatMatrix> reference = ReadNpyFile(args.Get("compare"));
    if (!reference.ok()) return UsageError(reference.status());
    if (reference->rows != static_cast<int>(decoded->rows) || reference->cols != static_cast<int>(decoded->cols)) {
      return UsageError(absl::InvalidArgumentError(absl::StrCat("--compare tensor is ", reference->rows, " x ",
                                                                reference->cols, ", packet is ", decoded->rows, " x ",
                                                                decoded->cols)));
    }
    report["compare"] = ErrorStats(reference->values, decoded->values);
  }
  PrintJson(report);
  if (values_out != nullptr) *values_out = std::move(decoded->values);
  if (packet_out != nullptr) *packet_out = std::move(decoded->packet);
  return kLipctlOk;
}

}  // namespace

int RunPacketEncode(const std::vector<std::string>& raw_args) {
  absl::StatusOr<LipctlArgs> args = LipctlArgs::Parse(
      raw_args, {"input", "rows", "cols", "out", "dtype", "labels", "max-new-tokens", "temperature", "sender",
                 "sender-family", "receiver", "bridge", "bridge-version", "source-layer", "context-prefix", "anchor",
                 "energy-mode", "target-energy", "conversation-id", "sequence", "packet-id-hex"});
  if (!args.ok()) return UsageError(args.status());
  if (!args->positional().empty()) {
    return UsageError(absl::InvalidArgumentError(absl::StrCat("unexpected argument \"", args->positional()[0], "\"")));
  }
  const std::string out = args->Get("out");
  if (out.empty()) return UsageError(absl::InvalidArgumentError("--out PACKET is required"));
  absl::StatusOr<lip::v1::DType> dtype = ParseDTypeName(args->Get("dtype", "fp16"));
  if (!dtype.ok()) return UsageError(dtype.status());
  absl::StatusOr<FloatMatrix> tensor = ReadTensor(*args);
  if (!tensor.ok()) return UsageError(tensor.status());

  PacketMetadata meta;
  meta.conversation_id = args->Get("conversation-id");
  absl::StatusOr<long long> sequence = args->GetInt("sequence", 0, 0, (1LL << 62));
  if (!sequence.ok()) return UsageError(sequence.status());
  meta.sequence = static_cast<uint64_t>(*sequence);
  meta.sender_model.set_name(args->Get("sender", "lipctl/manual-sender"));
  meta.sender_model.set_family(args->Get("sender-family"));
  if (args->Has("receiver")) {
    lip::v1::ModelId receiver;
    receiver.set_name(args->Get("receiver"));
    meta.receiver_models.push_back(receiver);
  }
  meta.bridge.set_name(args->Get("bridge", "lipctl-manual"));
  absl::StatusOr<long long> bridge_version = args->GetInt("bridge-version", 0, 0, 0xFFFFFFFFLL);
  if (!bridge_version.ok()) return UsageError(bridge_version.status());
  meta.bridge.set_version(static_cast<uint32_t>(*bridge_version));
  absl::StatusOr<long long> layer = args->GetInt("source-layer", 0, 0, 1 << 16);
  if (!layer.ok()) return UsageError(layer.status());
  meta.source_layer = static_cast<uint32_t>(*layer);
  meta.priming.set_context_prefix(args->Get("context-prefix"));
  meta.priming.set_anchor(args->Get("anchor"));
  absl::StatusOr<lip::v1::EnergyMode> mode = ParseEnergyMode(args->Get("energy-mode", "rms"));
  if (!mode.ok()) return UsageError(mode.status());
  meta.calibration.set_energy_mode(*mode);
  if (args->Has("target-energy")) {
    float energy;
    if (!absl::SimpleAtof(args->Get("target-energy"), &energy)) {
      return UsageError(absl::InvalidArgumentError("--target-energy must be a number"));
    }
    meta.calibration.set_target_reference_energy(energy);
  }
  if (args->Has("packet-id-hex")) {
    const std::string hex = args->Get("packet-id-hex");
    std::string id;
    if (hex.size() != 32) return UsageError(absl::InvalidArgumentError("--packet-id-hex must be 32 hex digits"));
    for (size_t i = 0; i < hex.size(); i += 2) {
      int byte;
      if (!absl::ascii_isxdigit(hex[i]) || !absl::ascii_isxdigit(hex[i + 1]) ||
          std::sscanf(hex.substr(i, 2).c_str(), "%2x", &byte) != 1) {
        return UsageError(absl::InvalidArgumentError("--packet-id-hex must be 32 hex digits"));
      }
      id.push_back(static_cast<char>(byte));
    }
    meta.packet_id = id;
  }
  if (args->Has("max-new-tokens")) {
    absl::StatusOr<long long> max_new = args->GetInt("max-new-tokens", 0, 1, 1 << 20);
    if (!max_new.ok()) return UsageError(max_new.status());
    meta.task.mutable_generate()->set_max_new_tokens(static_cast<uint32_t>(*max_new));
    float temperature = 0;
    if (args->Has("temperature") && !absl::SimpleAtof(args->Get("temperature"), &temperature)) {
      return UsageError(absl::InvalidArgumentError("--temperature must be a number"));
    }
    meta.task.mutable_generate()->set_temperature(temperature);
  } else {
    for (absl::string_view label : absl::StrSplit(args->Get("labels", "negative,positive"), ',')) {
      meta.task.mutable_classify()->add_labels(std::string(label));
    }
  }

  absl::StatusOr<lip::v1::LipPacket> packet = BuildPacket(meta, tensor->values, tensor->rows, tensor->cols, *dtype);
  if (!packet.ok()) {
    std::fprintf(stderr, "lipctl: cannot encode: %s: %s\n", PacketErrorReason(packet.status()).c_str(),
                 std::string(packet.status().message()).c_str());
    return kLipctlFailed;
  }
  const std::string wire = SerializePacket(*packet);
  if (absl::Status s = WriteBinaryFile(out, wire); !s.ok()) return UsageError(s);
  // Decode what was written, to report the round-trip error.
  absl::StatusOr<DecodedPacket> decoded = DecodePacket(wire);
  if (!decoded.ok()) {
    std::fprintf(stderr, "lipctl: the encoded packet does not decode: %s\n", decoded.status().ToString().c_str());
    return kLipctlFailed;
  }
  nlohmann::json report = {{"out", out},
                           {"dtype", DTypeName(*dtype)},
                           {"rows", tensor->rows},
                           {"cols", tensor->cols},
                           {"packet_id", HexBytes(packet->packet_id())},
                           {"payload_bytes", packet->tensor().data().size() + 4 * packet->tensor().scales_size()},
                           {"wire_bytes", wire.size()},
                           {"fp32_tensor_bytes", tensor->values.size() * 4},
                           {"round_trip", ErrorStats(tensor->values, decoded->values)}};
  PrintJson(report);
  return kLipctlOk;
}

int RunPacketInspect(const std::vector<std::string>& raw_args) {
  absl::StatusOr<LipctlArgs> args = LipctlArgs::Parse(raw_args, {"compare", "values"});
  if (!args.ok()) return UsageError(args.status());
  if (args->positional().size() != 1) {
    return UsageError(absl::InvalidArgumentError("usage: lipctl packet inspect PACKET.bin [--compare T.npy] [--values N]"));
  }
  return InspectFile(args->positional()[0], *args, nullptr, nullptr);
}

int RunPacketDecode(const std::vector<std::string>& raw_args) {
  absl::StatusOr<LipctlArgs> args = LipctlArgs::Parse(raw_args, {"out", "compare", "values"});
  if (!args.ok()) return UsageError(args.status());
  if (args->positional().size() != 1 || !args->Has("out")) {
    return UsageError(absl::InvalidArgumentError("usage: lipctl packet decode PACKET.bin --out TENSOR.npy"));
  }
  std::vector<float> values;
  lip::v1::LipPacket packet;
  const int status = InspectFile(args->positional()[0], *args, &values, &packet);
  if (status != kLipctlOk) return status;
  FloatMatrix matrix;
  matrix.rows = static_cast<int>(packet.soft_token_count());
  matrix.cols = static_cast<int>(packet.soft_token_width());
  matrix.values = std::move(values);
  if (absl::Status s = WriteNpyFile(args->Get("out"), matrix); !s.ok()) return UsageError(s);
  return kLipctlOk;
}

}  // namespace lip
