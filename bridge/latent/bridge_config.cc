#include "bridge/latent/bridge_config.h"

#include "absl/strings/str_cat.h"
#include "common/wire/status_macros.h"

namespace lip {
namespace {

using nlohmann::json;

// Reads json[key] into *out when present; INVALID_ARGUMENT naming `where.key` when mistyped.
absl::Status ReadInt(const json& j, const char* key, const std::string& where, int64_t* out) {
  if (!j.contains(key)) return absl::OkStatus();
  const json& v = j.at(key);
  if (!v.is_number_integer()) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ".", key, " must be an integer, got ", v.dump()));
  }
  *out = v.get<int64_t>();
  return absl::OkStatus();
}

absl::Status ReadDouble(const json& j, const char* key, const std::string& where, double* out) {
  if (!j.contains(key)) return absl::OkStatus();
  const json& v = j.at(key);
  if (!v.is_number()) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ".", key, " must be a number, got ", v.dump()));
  }
  *out = v.get<double>();
  return absl::OkStatus();
}

absl::Status ReadBool(const json& j, const char* key, const std::string& where, bool* out) {
  if (!j.contains(key)) return absl::OkStatus();
  const json& v = j.at(key);
  if (!v.is_boolean()) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ".", key, " must be true or false, got ", v.dump()));
  }
  *out = v.get<bool>();
  return absl::OkStatus();
}

absl::Status ReadString(const json& j, const char* key, const std::string& where,
                        std::string* out) {
  if (!j.contains(key)) return absl::OkStatus();
  const json& v = j.at(key);
  if (!v.is_string()) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ".", key, " must be a string, got ", v.dump()));
  }
  *out = v.get<std::string>();
  return absl::OkStatus();
}

absl::Status RequireObject(const json& j, const std::string& where) {
  if (!j.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(where, " must be a JSON object, got ",
                                                    j.dump().substr(0, 80)));
  }
  return absl::OkStatus();
}


json ModelIdToJson(const BridgeModelId& id) {
  return json{{"family", id.family},
              {"name", id.name},
              {"revision", id.revision},
              {"weights_digest", id.weights_digest}};
}

absl::StatusOr<BridgeModelId> ModelIdFromJson(const json& j, const std::string& where) {
  LIP_RETURN_IF_ERROR(RequireObject(j, where));
  BridgeModelId id;
  LIP_RETURN_IF_ERROR(ReadString(j, "family", where, &id.family));
  LIP_RETURN_IF_ERROR(ReadString(j, "name", where, &id.name));
  LIP_RETURN_IF_ERROR(ReadString(j, "revision", where, &id.revision));
  LIP_RETURN_IF_ERROR(ReadString(j, "weights_digest", where, &id.weights_digest));
  return id;
}

absl::Status Positive(int64_t value, const char* field) {
  if (value <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(field, " must be > 0, got ", value));
  }
  return absl::OkStatus();
}

}  // namespace

const char* EnergyModeName(EnergyMode mode) {
  switch (mode) {
    case EnergyMode::kNone:
      return "none";
    case EnergyMode::kPerVectorNorm:
      return "per_vector_norm";
    case EnergyMode::kRms:
      return "rms";
  }
  return "unknown";
}

absl::StatusOr<EnergyMode> ParseEnergyMode(std::string_view name) {
  if (name == "none") return EnergyMode::kNone;
  if (name == "per_vector_norm") return EnergyMode::kPerVectorNorm;
  if (name == "rms") return EnergyMode::kRms;
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown energy mode \"", std::string(name), "\"; expected one of none, per_vector_norm, rms"));
}

json PerceiverConfigToJson(const PerceiverConfig& c) {
  return json{{"num_queries", c.num_queries}, {"input_width", c.input_width},
              {"width", c.width},             {"num_heads", c.num_heads},
              {"depth", c.depth},             {"ffn_multiplier", c.ffn_multiplier},
              {"output_width", c.output_width}};
}

absl::StatusOr<PerceiverConfig> PerceiverConfigFromJson(const json& j,
                                                        const PerceiverConfig& defaults) {
  const std::string where = "perceiver";
  LIP_RETURN_IF_ERROR(RequireObject(j, where));
  PerceiverConfig c = defaults;
  LIP_RETURN_IF_ERROR(ReadInt(j, "num_queries", where, &c.num_queries));
  LIP_RETURN_IF_ERROR(ReadInt(j, "input_width", where, &c.input_width));
  LIP_RETURN_IF_ERROR(ReadInt(j, "width", where, &c.width));
  LIP_RETURN_IF_ERROR(ReadInt(j, "num_heads", where, &c.num_heads));
  LIP_RETURN_IF_ERROR(ReadInt(j, "depth", where, &c.depth));
  LIP_RETURN_IF_ERROR(ReadInt(j, "ffn_multiplier", where, &c.ffn_multiplier));
  LIP_RETURN_IF_ERROR(ReadInt(j, "output_width", where, &c.output_width));
  return c;
}

json AdapterConfigToJson(const AdapterConfig& c) {
  return json{{"input_width", c.input_width},
              {"hidden_width", c.hidden_width},
              {"output_width", c.output_width},
              {"tanh_clip", c.tanh_clip},
              {"learned_scale", c.learned_scale}};
}

absl::StatusOr<AdapterConfig> AdapterConfigFromJson(const json& j, const AdapterConfig& defaults) {
  const std::string where = "adapter";
  LIP_RETURN_IF_ERROR(RequireObject(j, where));
  AdapterConfig c = defaults;
  LIP_RETURN_IF_ERROR(ReadInt(j, "input_width", where, &c.input_width));
  LIP_RETURN_IF_ERROR(ReadInt(j, "hidden_width", where, &c.hidden_width));
  LIP_RETURN_IF_ERROR(ReadInt(j, "output_width", where, &c.output_width));
  LIP_RETURN_IF_ERROR(ReadDouble(j, "tanh_clip", where, &c.tanh_clip));
  LIP_RETURN_IF_ERROR(ReadBool(j, "learned_scale", where, &c.learned_scale));
  return c;
}

absl::Status ValidateBridgeMetadata(const BridgeMetadata& m) {
  if (m.name.empty()) return absl::InvalidArgumentError("bridge name is empty");
  if (m.kind != "perceiver") {
    return absl::InvalidArgumentError(
        absl::StrCat("bridge kind \"", m.kind, "\" has no sender/receiver halves; expected perceiver"));
  }
  const PerceiverConfig& p = m.sender.perceiver;
  LIP_RETURN_IF_ERROR(Positive(p.num_queries, "perceiver.num_queries (M)"));
  LIP_RETURN_IF_ERROR(Positive(p.input_width, "perceiver.input_width"));
  LIP_RETURN_IF_ERROR(Positive(p.width, "perceiver.width"));
  LIP_RETURN_IF_ERROR(Positive(p.num_heads, "perceiver.num_heads"));
  LIP_RETURN_IF_ERROR(Positive(p.depth, "perceiver.depth"));
  LIP_RETURN_IF_ERROR(Positive(p.ffn_multiplier, "perceiver.ffn_multiplier"));
  LIP_RETURN_IF_ERROR(Positive(p.output_width, "perceiver.output_width (d_z)"));
  if (p.width % p.num_heads != 0) {
    return absl::InvalidArgumentError(absl::StrCat("perceiver.width ", p.width,
                                                   " is not divisible by num_heads ", p.num_heads));
  }
  if (m.sender.source_layer < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("sender.source_layer must be >= 0, got ", m.sender.source_layer));
  }
  LIP_RETURN_IF_ERROR(Positive(m.sender.max_text_tokens, "sender.max_text_tokens"));
  if (!(m.sender.normalizer_epsilon > 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("sender.normalizer_epsilon must be > 0, got ", m.sender.normalizer_epsilon));
  }
  const AdapterConfig& a = m.receiver.adapter;
  LIP_RETURN_IF_ERROR(Positive(a.input_width, "adapter.input_width"));
  LIP_RETURN_IF_ERROR(Positive(a.hidden_width, "adapter.hidden_width"));
  LIP_RETURN_IF_ERROR(Positive(a.output_width, "adapter.output_width"));
  if (a.input_width != p.output_width) {
    return absl::InvalidArgumentError(absl::StrCat("adapter.input_width ", a.input_width,
                                                   " differs from perceiver.output_width (d_z) ",
                                                   p.output_width));
  }
  if (a.tanh_clip < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("adapter.tanh_clip must be >= 0, got ", a.tanh_clip));
  }
  const EnergyConfig& e = m.receiver.energy;
  if (e.mode == EnergyMode::kPerVectorNorm && !(e.reference_energy > 0)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "energy.reference_energy must be > 0 for per_vector_norm, got ", e.reference_energy));
  }
  if (e.mode == EnergyMode::kRms && !(e.reference_rms > 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("energy.reference_rms must be > 0 for rms, got ", e.reference_rms));
  }
  if (!(e.epsilon > 0)) {
    return absl::InvalidArgumentError(absl::StrCat("energy.epsilon must be > 0, got ", e.epsilon));
  }
  return absl::OkStatus();
}

json BridgeMetadataToJson(const BridgeMetadata& m) {
  return json{
      {"format", "lip-bridge"},
      {"format_version", BridgeMetadata::kFormatVersion},
      {"name", m.name},
      {"version", m.version},
      {"kind", m.kind},
      {"digest", m.digest},
      {"files",
       {{"sender.safetensors", m.sender_file_digest},
        {"receiver.safetensors", m.receiver_file_digest}}},
      {"sender_model", ModelIdToJson(m.sender_model)},
      {"receiver_model", ModelIdToJson(m.receiver_model)},
      {"sender",
       {{"source_layer", m.sender.source_layer},
        {"max_text_tokens", m.sender.max_text_tokens},
        {"normalizer_epsilon", m.sender.normalizer_epsilon},
        {"perceiver", PerceiverConfigToJson(m.sender.perceiver)}}},
      {"receiver",
       {{"adapter", AdapterConfigToJson(m.receiver.adapter)},
        {"energy",
         {{"mode", EnergyModeName(m.receiver.energy.mode)},
          {"reference_energy", m.receiver.energy.reference_energy},
          {"reference_rms", m.receiver.energy.reference_rms},
          {"epsilon", m.receiver.energy.epsilon}}}}},
      {"priming",
       {{"context_prefix", m.priming.context_prefix}, {"anchor", m.priming.anchor}}},
      {"task", m.task},
      {"labels", m.labels},
      {"training", m.training},
      {"evaluation", m.evaluation},
  };
}

absl::StatusOr<BridgeMetadata> BridgeMetadataFromJson(const json& j) {
  LIP_RETURN_IF_ERROR(RequireObject(j, "bridge.json"));
  std::string format;
  LIP_RETURN_IF_ERROR(ReadString(j, "format", "bridge.json", &format));
  if (format != "lip-bridge") {
    return absl::InvalidArgumentError(
        absl::StrCat("bridge.json format is \"", format, "\", expected \"lip-bridge\""));
  }
  int64_t format_version = 0;
  LIP_RETURN_IF_ERROR(ReadInt(j, "format_version", "bridge.json", &format_version));
  if (format_version < 1 || format_version > BridgeMetadata::kFormatVersion) {
    return absl::FailedPreconditionError(
        absl::StrCat("bridge.json format_version ", format_version, " is not supported (this build reads 1..",
                     BridgeMetadata::kFormatVersion, ")"));
  }
  BridgeMetadata m;
  LIP_RETURN_IF_ERROR(ReadString(j, "name", "bridge.json", &m.name));
  int64_t version = 1;
  LIP_RETURN_IF_ERROR(ReadInt(j, "version", "bridge.json", &version));
  if (version < 0 || version > UINT32_MAX) {
    return absl::InvalidArgumentError(absl::StrCat("bridge.json version ", version, " is out of range"));
  }
  m.version = static_cast<uint32_t>(version);
  LIP_RETURN_IF_ERROR(ReadString(j, "kind", "bridge.json", &m.kind));
  LIP_RETURN_IF_ERROR(ReadString(j, "digest", "bridge.json", &m.digest));
  if (j.contains("files")) {
    LIP_RETURN_IF_ERROR(RequireObject(j.at("files"), "files"));
    LIP_RETURN_IF_ERROR(ReadString(j.at("files"), "sender.safetensors", "files", &m.sender_file_digest));
    LIP_RETURN_IF_ERROR(
        ReadString(j.at("files"), "receiver.safetensors", "files", &m.receiver_file_digest));
  }
  for (const char* key : {"sender_model", "receiver_model", "sender", "receiver"}) {
    if (!j.contains(key)) {
      return absl::InvalidArgumentError(absl::StrCat("bridge.json has no \"", key, "\""));
    }
  }
  auto sender_model = ModelIdFromJson(j.at("sender_model"), "sender_model");
  if (!sender_model.ok()) return sender_model.status();
  m.sender_model = *sender_model;
  auto receiver_model = ModelIdFromJson(j.at("receiver_model"), "receiver_model");
  if (!receiver_model.ok()) return receiver_model.status();
  m.receiver_model = *receiver_model;

  const json& s = j.at("sender");
  LIP_RETURN_IF_ERROR(RequireObject(s, "sender"));
  LIP_RETURN_IF_ERROR(ReadInt(s, "source_layer", "sender", &m.sender.source_layer));
  LIP_RETURN_IF_ERROR(ReadInt(s, "max_text_tokens", "sender", &m.sender.max_text_tokens));
  LIP_RETURN_IF_ERROR(ReadDouble(s, "normalizer_epsilon", "sender", &m.sender.normalizer_epsilon));
  if (!s.contains("perceiver")) return absl::InvalidArgumentError("sender has no \"perceiver\"");
  auto perceiver = PerceiverConfigFromJson(s.at("perceiver"));
  if (!perceiver.ok()) return perceiver.status();
  m.sender.perceiver = *perceiver;

  const json& r = j.at("receiver");
  LIP_RETURN_IF_ERROR(RequireObject(r, "receiver"));
  if (!r.contains("adapter")) return absl::InvalidArgumentError("receiver has no \"adapter\"");
  auto adapter = AdapterConfigFromJson(r.at("adapter"));
  if (!adapter.ok()) return adapter.status();
  m.receiver.adapter = *adapter;
  if (r.contains("energy")) {
    const json& e = r.at("energy");
    LIP_RETURN_IF_ERROR(RequireObject(e, "energy"));
    std::string mode = EnergyModeName(m.receiver.energy.mode);
    LIP_RETURN_IF_ERROR(ReadString(e, "mode", "energy", &mode));
    auto parsed = ParseEnergyMode(mode);
    if (!parsed.ok()) return parsed.status();
    m.receiver.energy.mode = *parsed;
    LIP_RETURN_IF_ERROR(ReadDouble(e, "reference_energy", "energy", &m.receiver.energy.reference_energy));
    LIP_RETURN_IF_ERROR(ReadDouble(e, "reference_rms", "energy", &m.receiver.energy.reference_rms));
    LIP_RETURN_IF_ERROR(ReadDouble(e, "epsilon", "energy", &m.receiver.energy.epsilon));
  }
  if (j.contains("priming")) {
    const json& p = j.at("priming");
    LIP_RETURN_IF_ERROR(RequireObject(p, "priming"));
    LIP_RETURN_IF_ERROR(ReadString(p, "context_prefix", "priming", &m.priming.context_prefix));
    LIP_RETURN_IF_ERROR(ReadString(p, "anchor", "priming", &m.priming.anchor));
  }
  LIP_RETURN_IF_ERROR(ReadString(j, "task", "bridge.json", &m.task));
  if (j.contains("labels")) {
    const json& labels = j.at("labels");
    if (!labels.is_array()) return absl::InvalidArgumentError("bridge.json labels must be an array");
    for (const json& label : labels) {
      if (!label.is_string()) {
        return absl::InvalidArgumentError(
            absl::StrCat("bridge.json labels must be strings, got ", label.dump()));
      }
      m.labels.push_back(label.get<std::string>());
    }
  }
  if (j.contains("training")) m.training = j.at("training");
  if (j.contains("evaluation")) m.evaluation = j.at("evaluation");
  LIP_RETURN_IF_ERROR(ValidateBridgeMetadata(m));
  return m;
}

}  // namespace lip
