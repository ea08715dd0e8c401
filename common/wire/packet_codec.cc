#include "common/wire/packet_codec.h"

#include <cmath>
#include <cstring>
#include <utility>

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <openssl/rand.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "common/wire/crc32c.h"
#include "common/wire/half_float.h"
#include "common/wire/int8_quantizer.h"
#include "common/wire/lip_version.h"
#include "common/wire/packet_error.h"

namespace lip {
namespace {

using lip::v1::DType;
using lip::v1::LipPacket;

constexpr size_t kPacketIdBytes = 16;

// ---- small helpers -------------------------------------------------------

absl::Status Missing(absl::string_view what) {
  return PacketError(PacketDefect::kMissingField, absl::StrCat(what, " is missing"));
}

absl::Status CheckLength(absl::string_view field, absl::string_view value, size_t limit) {
  if (value.size() > limit) {
    return PacketError(PacketDefect::kLimitExceeded,
                       absl::StrCat(field, " is ", value.size(), " bytes, limit is ", limit));
  }
  return absl::OkStatus();
}

bool IsLowerHex(absl::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// Digests are optional; when present they must be "sha256:<64 lowercase hex>".
absl::Status CheckDigest(absl::string_view field, absl::string_view digest) {
  if (digest.empty()) return absl::OkStatus();
  constexpr absl::string_view kPrefix = "sha256:";
  if (digest.size() != kPrefix.size() + 64 || digest.substr(0, kPrefix.size()) != kPrefix ||
      !IsLowerHex(digest.substr(kPrefix.size()))) {
    return PacketError(PacketDefect::kInvalidField,
                       absl::StrCat(field, " is \"", digest.substr(0, 80),
                                    "\", expected \"sha256:\" followed by 64 lowercase hex digits"));
  }
  return absl::OkStatus();
}

absl::Status CheckModelId(absl::string_view field, const lip::v1::ModelId& id,
                          const PacketLimits& limits) {
  if (id.name().empty()) return Missing(absl::StrCat(field, ".name"));
  for (const auto& [name, value] :
       {std::pair<const char*, const std::string*>{"family", &id.family()},
        {"name", &id.name()},
        {"revision", &id.revision()},
        {"weights_digest", &id.weights_digest()}}) {
    if (absl::Status s = CheckLength(absl::StrCat(field, ".", name), *value, limits.max_id_bytes); !s.ok()) {
      return s;
    }
  }
  return CheckDigest(absl::StrCat(field, ".weights_digest"), id.weights_digest());
}

absl::Status CheckNonNegativeFinite(absl::string_view field, float value) {
  if (!std::isfinite(value)) {
    return PacketError(PacketDefect::kNonFiniteValue, absl::StrCat(field, " is ", value));
  }
  if (value < 0.0f) {
    return PacketError(PacketDefect::kInvalidField, absl::StrCat(field, " is ", value, ", must be >= 0"));
  }
  return absl::OkStatus();
}

// ---- header checks, in the order docs/protocol.md §7 lists them -----------

absl::Status CheckVersion(const LipPacket& packet) {
  if (!packet.has_version()) return Missing("version");
  if (packet.version().major() != kLipProtocolMajor) {
    return PacketError(PacketDefect::kVersionMismatch,
                       absl::StrCat("packet is LIP ", packet.version().major(), ".", packet.version().minor(),
                                    ", this implementation speaks major ", kLipProtocolMajor, " (",
                                    kLipProtocolMajor, ".", kLipProtocolMinor, ")"));
  }
  return absl::OkStatus();
}

absl::Status CheckIdentity(const LipPacket& packet, const PacketLimits& limits) {
  if (packet.packet_id().empty()) return Missing("packet_id");
  if (packet.packet_id().size() != kPacketIdBytes) {
    return PacketError(PacketDefect::kInvalidField,
                       absl::StrCat("packet_id is ", packet.packet_id().size(), " bytes, expected ",
                                    kPacketIdBytes));
  }
  if (absl::Status s = CheckLength("conversation_id", packet.conversation_id(), limits.max_id_bytes); !s.ok()) {
    return s;
  }
  if (!packet.has_sender_model()) return Missing("sender_model");
  if (absl::Status s = CheckModelId("sender_model", packet.sender_model(), limits); !s.ok()) return s;
  if (static_cast<uint32_t>(packet.receiver_models_size()) > limits.max_receiver_models) {
    return PacketError(PacketDefect::kLimitExceeded,
                       absl::StrCat("receiver_models has ", packet.receiver_models_size(),
                                    " entries, limit is ", limits.max_receiver_models));
  }
  for (int i = 0; i < packet.receiver_models_size(); ++i) {
    if (absl::Status s = CheckModelId(absl::StrCat("receiver_models[", i, "]"), packet.receiver_models(i), limits);
        !s.ok()) {
      return s;
    }
  }
  if (!packet.has_bridge()) return Missing("bridge");
  if (packet.bridge().name().empty()) return Missing("bridge.name");
  if (absl::Status s = CheckLength("bridge.name", packet.bridge().name(), limits.max_id_bytes); !s.ok()) return s;
  return CheckDigest("bridge.digest", packet.bridge().digest());
}

absl::Status CheckShape(const LipPacket& packet, const PacketLimits& limits) {
  const uint32_t m = packet.soft_token_count();
  const uint32_t d = packet.soft_token_width();
  if (m == 0) return Missing("soft_token_count (M)");
  if (d == 0) return Missing("soft_token_width (d)");
  if (m > limits.max_soft_tokens) {
    return PacketError(PacketDefect::kLimitExceeded,
                       absl::StrCat("soft_token_count M = ", m, " exceeds the limit ", limits.max_soft_tokens));
  }
  if (d > limits.max_soft_token_width) {
    return PacketError(PacketDefect::kLimitExceeded, absl::StrCat("soft_token_width d = ", d,
                                                                  " exceeds the limit ", limits.max_soft_token_width));
  }
  if (uint64_t{m} * d > limits.max_values) {
    return PacketError(PacketDefect::kLimitExceeded,
                       absl::StrCat("M*d = ", m, "*", d, " = ", uint64_t{m} * d, " values exceeds the limit ",
                                    limits.max_values));
  }
  return absl::OkStatus();
}

absl::Status CheckCalibrationAndPriming(const LipPacket& packet, const PacketLimits& limits) {
  const lip::v1::Calibration& c = packet.calibration();
  if (absl::Status s = CheckNonNegativeFinite("calibration.source_rms", c.source_rms()); !s.ok()) return s;
  if (absl::Status s = CheckNonNegativeFinite("calibration.source_mean_norm", c.source_mean_norm()); !s.ok()) return s;
  if (absl::Status s = CheckNonNegativeFinite("calibration.target_reference_energy", c.target_reference_energy());
      !s.ok()) {
    return s;
  }
  if (!lip::v1::EnergyMode_IsValid(c.energy_mode())) {
    return PacketError(PacketDefect::kInvalidField,
                       absl::StrCat("calibration.energy_mode is ", c.energy_mode(), ", not a known EnergyMode"));
  }
  if (absl::Status s = CheckLength("priming.context_prefix", packet.priming().context_prefix(),
                                   limits.max_priming_bytes);
      !s.ok()) {
    return s;
  }
  return CheckLength("priming.anchor", packet.priming().anchor(), limits.max_priming_bytes);
}

absl::Status CheckTask(const LipPacket& packet, const PacketLimits& limits) {
  const lip::v1::Task& task = packet.task();
  switch (task.kind_case()) {
    case lip::v1::Task::KIND_NOT_SET:
      return Missing("task (classify or generate)");
    case lip::v1::Task::kClassify: {
      const auto& labels = task.classify().labels();
      if (labels.empty()) return Missing("task.classify.labels");
      if (static_cast<uint32_t>(labels.size()) > limits.max_labels) {
        return PacketError(PacketDefect::kLimitExceeded, absl::StrCat("task.classify.labels has ", labels.size(),
                                                                      " entries, limit is ", limits.max_labels));
      }
      for (int i = 0; i < labels.size(); ++i) {
        if (labels[i].empty()) {
          return PacketError(PacketDefect::kInvalidField, absl::StrCat("task.classify.labels[", i, "] is empty"));
        }
        if (absl::Status s = CheckLength(absl::StrCat("task.classify.labels[", i, "]"), labels[i],
                                         limits.max_label_bytes);
            !s.ok()) {
          return s;
        }
        for (int j = 0; j < i; ++j) {
          if (labels[j] == labels[i]) {
            return PacketError(PacketDefect::kInvalidField,
                               absl::StrCat("task.classify.labels[", i, "] \"", labels[i].substr(0, 64),
                                            "\" repeats labels[", j, "]"));
          }
        }
      }
      return absl::OkStatus();
    }
    case lip::v1::Task::kGenerate: {
      const lip::v1::GenerateTask& g = task.generate();
      if (g.max_new_tokens() == 0) return Missing("task.generate.max_new_tokens (0)");
      if (g.max_new_tokens() > limits.max_new_tokens) {
        return PacketError(PacketDefect::kLimitExceeded, absl::StrCat("task.generate.max_new_tokens is ",
                                                                      g.max_new_tokens(), ", limit is ",
                                                                      limits.max_new_tokens));
      }
      if (absl::Status s = CheckNonNegativeFinite("task.generate.temperature", g.temperature()); !s.ok()) return s;
      if (absl::Status s = CheckNonNegativeFinite("task.generate.top_p", g.top_p()); !s.ok()) return s;
      if (g.top_p() > 1.0f) {
        return PacketError(PacketDefect::kInvalidField,
                           absl::StrCat("task.generate.top_p is ", g.top_p(), ", must be in [0, 1]"));
      }
      if (static_cast<uint32_t>(g.stop_size()) > limits.max_stop_strings) {
        return PacketError(PacketDefect::kLimitExceeded, absl::StrCat("task.generate.stop has ", g.stop_size(),
                                                                      " entries, limit is ", limits.max_stop_strings));
      }
      for (int i = 0; i < g.stop_size(); ++i) {
        if (g.stop(i).empty()) {
          return PacketError(PacketDefect::kInvalidField, absl::StrCat("task.generate.stop[", i, "] is empty"));
        }
        if (absl::Status s = CheckLength(absl::StrCat("task.generate.stop[", i, "]"), g.stop(i), limits.max_stop_bytes);
            !s.ok()) {
          return s;
        }
      }
      return absl::OkStatus();
    }
  }
  return PacketError(PacketDefect::kInvalidField, "task has an unknown kind");
}

// ---- tensor ----------------------------------------------------------------

absl::Status CheckTensorLayout(const LipPacket& packet) {
  if (!packet.has_tensor()) return Missing("tensor");
  const lip::v1::Tensor& t = packet.tensor();
  const size_t value_size = DTypeSize(t.dtype());
  if (value_size == 0) {
    return PacketError(PacketDefect::kUnknownDType,
                       absl::StrCat("tensor.dtype is ", t.dtype(),
                                    t.dtype() == lip::v1::DTYPE_UNSPECIFIED ? " (DTYPE_UNSPECIFIED)" : "",
                                    "; expected DTYPE_FP32 (1), DTYPE_FP16 (2), DTYPE_BF16 (3) or DTYPE_INT8 (4)"));
  }
  const uint64_t m = packet.soft_token_count();
  const uint64_t d = packet.soft_token_width();
  const uint64_t expected = m * d * value_size;
  if (t.data().size() != expected) {
    return PacketError(PacketDefect::kPayloadSizeMismatch,
                       absl::StrCat("tensor.data is ", t.data().size(), " bytes, expected M*d*", value_size, " = ", m,
                                    "*", d, "*", value_size, " = ", expected, " for ", DTypeName(t.dtype())));
  }
  const uint64_t expected_scales = t.dtype() == lip::v1::DTYPE_INT8 ? m : 0;
  if (static_cast<uint64_t>(t.scales_size()) != expected_scales) {
    return PacketError(PacketDefect::kPayloadSizeMismatch,
                       absl::StrCat("tensor.scales has ", t.scales_size(), " entries, expected ", expected_scales,
                                    t.dtype() == lip::v1::DTYPE_INT8 ? " (one per row, M) for int8"
                                                                     : " (scales are for int8 only) for ",
                                    t.dtype() == lip::v1::DTYPE_INT8 ? "" : DTypeName(t.dtype())));
  }
  const uint32_t actual_crc = TensorChecksum(t);
  if (actual_crc != t.crc32c()) {
    return PacketError(PacketDefect::kChecksumMismatch,
                       absl::StrFormat("tensor.crc32c is 0x%08x but CRC32C of data||scales is 0x%08x", t.crc32c(),
                                       actual_crc));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<float>> DequantizeChecked(const LipPacket& packet) {
  const lip::v1::Tensor& t = packet.tensor();
  const size_t rows = packet.soft_token_count();
  const size_t cols = packet.soft_token_width();
  const auto* bytes = reinterpret_cast<const unsigned char*>(t.data().data());
  std::vector<float> values(rows * cols);
  switch (t.dtype()) {
    case lip::v1::DTYPE_FP32:
      for (size_t i = 0; i < values.size(); ++i) {
        const uint32_t bits = uint32_t{bytes[4 * i]} | uint32_t{bytes[4 * i + 1]} << 8 |
                              uint32_t{bytes[4 * i + 2]} << 16 | uint32_t{bytes[4 * i + 3]} << 24;
        std::memcpy(&values[i], &bits, sizeof bits);
      }
      break;
    case lip::v1::DTYPE_FP16:
      HalfBytesToFloats(bytes, values.size(), values.data());
      break;
    case lip::v1::DTYPE_BF16:
      Bfloat16BytesToFloats(bytes, values.size(), values.data());
      break;
    case lip::v1::DTYPE_INT8: {
      for (size_t r = 0; r < rows; ++r) {
        const float scale = t.scales(static_cast<int>(r));
        if (!std::isfinite(scale)) {
          return PacketError(PacketDefect::kNonFiniteValue, absl::StrCat("tensor.scales[", r, "] is ", scale));
        }
        if (!(scale > 0.0f)) {
          return PacketError(PacketDefect::kInvalidField,
                             absl::StrCat("tensor.scales[", r, "] is ", scale, ", must be > 0"));
        }
      }
      const auto* q = reinterpret_cast<const int8_t*>(bytes);
      for (size_t i = 0; i < values.size(); ++i) {
        if (q[i] == -128) {
          return PacketError(PacketDefect::kInvalidField,
                             absl::StrCat("int8 value at row ", i / cols, " col ", i % cols,
                                          " is -128; the symmetric scheme uses [-127, 127]"));
        }
      }
      DequantizeInt8PerRow(q, t.scales().data(), rows, cols, values.data());
      break;
    }
    default:
      return PacketError(PacketDefect::kUnknownDType, absl::StrCat("tensor.dtype is ", t.dtype()));
  }
  for (size_t i = 0; i < values.size(); ++i) {
    if (!std::isfinite(values[i])) {
      return PacketError(PacketDefect::kNonFiniteValue,
                         absl::StrCat("tensor value at row ", i / cols, " col ", i % cols, " is ", values[i],
                                      t.dtype() == lip::v1::DTYPE_INT8 ? " (int8 * scale overflows fp32)" : ""));
    }
  }
  return values;
}

void AppendFloatLE(float value, std::string& out) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  for (int k = 0; k < 4; ++k) out.push_back(static_cast<char>((bits >> (8 * k)) & 0xFFu));
}

}  // namespace

size_t DTypeSize(DType dtype) {
  switch (dtype) {
    case lip::v1::DTYPE_FP32: return 4;
    case lip::v1::DTYPE_FP16: return 2;
    case lip::v1::DTYPE_BF16: return 2;
    case lip::v1::DTYPE_INT8: return 1;
    default: return 0;
  }
}

std::string DTypeName(DType dtype) {
  switch (dtype) {
    case lip::v1::DTYPE_FP32: return "fp32";
    case lip::v1::DTYPE_FP16: return "fp16";
    case lip::v1::DTYPE_BF16: return "bf16";
    case lip::v1::DTYPE_INT8: return "int8";
    default: return absl::StrCat("unknown(", static_cast<int>(dtype), ")");
  }
}

absl::StatusOr<DType> ParseDTypeName(std::string_view name_std) {
  const absl::string_view name(name_std.data(), name_std.size());
  for (DType d : {lip::v1::DTYPE_FP32, lip::v1::DTYPE_FP16, lip::v1::DTYPE_BF16, lip::v1::DTYPE_INT8}) {
    if (name == DTypeName(d)) return d;
  }
  return absl::InvalidArgumentError(absl::StrCat("dtype \"", name, "\" is not one of fp32, fp16, bf16, int8"));
}

std::string HexBytes(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    hex.push_back(kDigits[c >> 4]);
    hex.push_back(kDigits[c & 0xF]);
  }
  return hex;
}

uint32_t TensorChecksum(const lip::v1::Tensor& tensor) {
  uint32_t crc = Crc32c(tensor.data());
  if (tensor.scales_size() > 0) {
    std::string scale_bytes;
    scale_bytes.reserve(4 * tensor.scales_size());
    for (float s : tensor.scales()) AppendFloatLE(s, scale_bytes);
    crc = Crc32cExtend(crc, scale_bytes.data(), scale_bytes.size());
  }
  return crc;
}

absl::StatusOr<std::vector<float>> ValidateAndDequantize(const LipPacket& packet, const PacketLimits& limits) {
  if (absl::Status s = CheckVersion(packet); !s.ok()) return s;
  if (absl::Status s = CheckIdentity(packet, limits); !s.ok()) return s;
  if (absl::Status s = CheckShape(packet, limits); !s.ok()) return s;
  if (absl::Status s = CheckCalibrationAndPriming(packet, limits); !s.ok()) return s;
  if (absl::Status s = CheckTask(packet, limits); !s.ok()) return s;
  if (absl::Status s = CheckTensorLayout(packet); !s.ok()) return s;
  return DequantizeChecked(packet);
}

absl::Status ValidatePacket(const LipPacket& packet, const PacketLimits& limits) {
  return ValidateAndDequantize(packet, limits).status();
}

absl::StatusOr<DecodedPacket> DecodePacket(std::string_view wire_bytes, const DecodeOptions& options) {
  if (wire_bytes.size() > options.limits.max_packet_bytes) {
    return PacketError(PacketDefect::kLimitExceeded, absl::StrCat("packet is ", wire_bytes.size(),
                                                                  " bytes, limit is ", options.limits.max_packet_bytes));
  }
  DecodedPacket decoded;
  if (!decoded.packet.ParseFromArray(wire_bytes.data(), static_cast<int>(wire_bytes.size()))) {
    return PacketError(PacketDefect::kMalformed,
                       absl::StrCat("the ", wire_bytes.size(),
                                    " bytes are not a valid lip.v1.LipPacket protobuf (truncated, bad wire type, "
                                    "or a string field that is not UTF-8)"));
  }
  absl::StatusOr<std::vector<float>> values = ValidateAndDequantize(decoded.packet, options.limits);
  if (!values.ok()) return values.status();
  decoded.rows = decoded.packet.soft_token_count();
  decoded.cols = decoded.packet.soft_token_width();
  decoded.values = *std::move(values);
  return decoded;
}

std::string SerializePacket(const LipPacket& packet) {
  std::string out;
  packet.ByteSizeLong();  // computes the cached sizes SerializeWithCachedSizes uses
  {
    google::protobuf::io::StringOutputStream stream(&out);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    packet.SerializeWithCachedSizes(&coded);
  }
  return out;
}

absl::StatusOr<LipPacket> BuildPacket(const PacketMetadata& meta, absl::Span<const float> values, int64_t rows,
                                      int64_t cols, DType dtype, const PacketLimits& limits) {
  if (rows <= 0 || cols <= 0) {
    return PacketError(PacketDefect::kMissingField,
                       absl::StrCat("tensor shape is ", rows, " x ", cols, "; rows (M) and cols (d) must be >= 1"));
  }
  if (rows > limits.max_soft_tokens || cols > limits.max_soft_token_width) {
    return PacketError(PacketDefect::kLimitExceeded,
                       absl::StrCat("tensor shape is ", rows, " x ", cols, ", limits are ", limits.max_soft_tokens,
                                    " x ", limits.max_soft_token_width));
  }
  if (values.size() != static_cast<size_t>(rows) * static_cast<size_t>(cols)) {
    return PacketError(PacketDefect::kPayloadSizeMismatch,
                       absl::StrCat("got ", values.size(), " values, expected rows*cols = ", rows, "*", cols, " = ",
                                    static_cast<size_t>(rows) * cols));
  }
  if (DTypeSize(dtype) == 0) {
    return PacketError(PacketDefect::kUnknownDType, absl::StrCat("cannot encode dtype ", DTypeName(dtype)));
  }
  LipPacket packet;
  packet.mutable_version()->set_major(kLipProtocolMajor);
  packet.mutable_version()->set_minor(kLipMinorBase);
  packet.set_soft_token_count(static_cast<uint32_t>(rows));
  packet.set_soft_token_width(static_cast<uint32_t>(cols));
  if (absl::Status s = CheckShape(packet, limits); !s.ok()) return s;

  // Inputs must be finite, and must stay finite in the wire dtype.
  double sum_squares = 0.0;
  double sum_row_norms = 0.0;
  for (int64_t r = 0; r < rows; ++r) {
    double row_squares = 0.0;
    for (int64_t c = 0; c < cols; ++c) {
      const float v = values[static_cast<size_t>(r) * cols + c];
      if (!std::isfinite(v)) {
        return PacketError(PacketDefect::kNonFiniteValue,
                           absl::StrCat("input value at row ", r, " col ", c, " is ", v));
      }
      if ((dtype == lip::v1::DTYPE_FP16 && std::isinf(HalfBitsToFloat(FloatToHalfBits(v)))) ||
          (dtype == lip::v1::DTYPE_BF16 && std::isinf(Bfloat16BitsToFloat(FloatToBfloat16Bits(v))))) {
        return PacketError(PacketDefect::kNonFiniteValue,
                           absl::StrCat("input value ", v, " at row ", r, " col ", c, " overflows ", DTypeName(dtype),
                                        " (it would become inf)"));
      }
      row_squares += static_cast<double>(v) * v;
    }
    sum_squares += row_squares;
    sum_row_norms += std::sqrt(row_squares);
  }

  if (meta.packet_id.empty()) {
    unsigned char id[kPacketIdBytes];
    if (RAND_bytes(id, sizeof id) != 1) return absl::InternalError("RAND_bytes failed to produce a packet id");
    packet.set_packet_id(reinterpret_cast<const char*>(id), sizeof id);
  } else {
    packet.set_packet_id(meta.packet_id);
  }
  packet.set_conversation_id(meta.conversation_id);
  packet.set_sequence(meta.sequence);
  packet.set_created_unix_nanos(meta.created_unix_nanos != 0 ? meta.created_unix_nanos
                                                             : absl::ToUnixNanos(absl::Now()));
  *packet.mutable_sender_model() = meta.sender_model;
  for (const lip::v1::ModelId& receiver : meta.receiver_models) *packet.add_receiver_models() = receiver;
  *packet.mutable_bridge() = meta.bridge;
  packet.set_source_layer(meta.source_layer);
  lip::v1::Calibration* calibration = packet.mutable_calibration();
  *calibration = meta.calibration;
  const size_t count = values.size();
  calibration->set_source_rms(static_cast<float>(std::sqrt(sum_squares / static_cast<double>(count))));
  calibration->set_source_mean_norm(static_cast<float>(sum_row_norms / rows));
  *packet.mutable_priming() = meta.priming;
  *packet.mutable_task() = meta.task;

  lip::v1::Tensor* tensor = packet.mutable_tensor();
  tensor->set_dtype(dtype);
  std::string data(count * DTypeSize(dtype), '\0');
  auto* out = reinterpret_cast<unsigned char*>(data.data());
  switch (dtype) {
    case lip::v1::DTYPE_FP32:
      for (size_t i = 0; i < count; ++i) {
        uint32_t bits;
        std::memcpy(&bits, &values[i], sizeof bits);
        for (int k = 0; k < 4; ++k) out[4 * i + k] = static_cast<unsigned char>((bits >> (8 * k)) & 0xFFu);
      }
      break;
    case lip::v1::DTYPE_FP16:
      FloatsToHalfBytes(values.data(), count, out);
      break;
    case lip::v1::DTYPE_BF16:
      FloatsToBfloat16Bytes(values.data(), count, out);
      break;
    case lip::v1::DTYPE_INT8: {
      std::vector<float> scales(static_cast<size_t>(rows));
      QuantizeInt8PerRow(values.data(), static_cast<size_t>(rows), static_cast<size_t>(cols),
                         reinterpret_cast<int8_t*>(out), scales.data());
      for (float s : scales) tensor->add_scales(s);
      break;
    }
    default:
      break;  // unreachable: DTypeSize checked above
  }
  tensor->set_data(std::move(data));
  tensor->set_crc32c(TensorChecksum(*tensor));

  // The encoder never emits a packet the decoder would refuse.
  if (absl::Status s = ValidatePacket(packet, limits); !s.ok()) return s;
  return packet;
}

}  // namespace lip
