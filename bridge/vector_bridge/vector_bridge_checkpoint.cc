#include "bridge/vector_bridge/vector_bridge_checkpoint.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "bridge/latent/bridge_checkpoint.h"
#include "common/wire/status_macros.h"
#include "bridge/model/safetensors.h"
#include "common/wire/sha256.h"

namespace lip {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

std::string JoinPath(const std::string& dir, const char* file) { return (fs::path(dir) / file).string(); }

// Optional fields: a missing key keeps the default, a mistyped one is an error naming it.
absl::Status ReadInt(const json& j, const char* key, const std::string& where, int64_t* out) {
  if (!j.contains(key)) return absl::OkStatus();
  if (!j.at(key).is_number_integer()) {
    return absl::InvalidArgumentError(absl::StrCat(where, ".", key, " must be an integer, got ", j.at(key).dump()));
  }
  *out = j.at(key).get<int64_t>();
  return absl::OkStatus();
}
absl::Status ReadDouble(const json& j, const char* key, const std::string& where, double* out) {
  if (!j.contains(key)) return absl::OkStatus();
  if (!j.at(key).is_number()) {
    return absl::InvalidArgumentError(absl::StrCat(where, ".", key, " must be a number, got ", j.at(key).dump()));
  }
  *out = j.at(key).get<double>();
  return absl::OkStatus();
}
absl::Status ReadString(const json& j, const char* key, const std::string& where, std::string* out) {
  if (!j.contains(key)) return absl::OkStatus();
  if (!j.at(key).is_string()) {
    return absl::InvalidArgumentError(absl::StrCat(where, ".", key, " must be a string, got ", j.at(key).dump()));
  }
  *out = j.at(key).get<std::string>();
  return absl::OkStatus();
}
absl::StatusOr<json> ReadObject(const json& j, const char* key, const std::string& where) {
  if (!j.contains(key)) return json::object();
  if (!j.at(key).is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(where, ".", key, " must be an object, got ", j.at(key).dump()));
  }
  return j.at(key);
}

json ModelIdToJson(const BridgeModelId& id) {
  return {{"family", id.family}, {"name", id.name}, {"revision", id.revision}, {"weights_digest", id.weights_digest}};
}
absl::Status ModelIdFromJson(const json& j, const std::string& where, BridgeModelId* id) {
  LIP_RETURN_IF_ERROR(ReadString(j, "family", where, &id->family));
  LIP_RETURN_IF_ERROR(ReadString(j, "name", where, &id->name));
  LIP_RETURN_IF_ERROR(ReadString(j, "revision", where, &id->revision));
  return ReadString(j, "weights_digest", where, &id->weights_digest);
}

json TextVectorToJson(const TextVectorOptions& o) {
  return {{"layer", o.layer}, {"pooling", VectorPoolingName(o.pooling)}, {"max_text_tokens", o.max_text_tokens}};
}
absl::Status TextVectorFromJson(const json& j, const std::string& where, TextVectorOptions* o) {
  LIP_RETURN_IF_ERROR(ReadInt(j, "layer", where, &o->layer));
  LIP_RETURN_IF_ERROR(ReadInt(j, "max_text_tokens", where, &o->max_text_tokens));
  std::string pooling = VectorPoolingName(o->pooling);
  LIP_RETURN_IF_ERROR(ReadString(j, "pooling", where, &pooling));
  LIP_ASSIGN_OR_RETURN(o->pooling, ParseVectorPooling(pooling));
  return absl::OkStatus();
}

absl::Status CheckFileDigest(const std::string& path, const std::string& expected) {
  if (!fs::exists(path)) return absl::NotFoundError(absl::StrCat(path, " does not exist"));
  LIP_ASSIGN_OR_RETURN(std::string actual, Sha256DigestOfFile(path));
  if (actual != expected) {
    return absl::DataLossError(absl::StrCat(path, " has digest ", actual, " but bridge.json records \"",
                                            expected, "\""));
  }
  return absl::OkStatus();
}

absl::Status WriteTextFile(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out.good()) return absl::InternalError(absl::StrCat("cannot write ", tmp));
  }
  std::error_code error;
  fs::rename(tmp, path, error);
  if (error) return absl::InternalError(absl::StrCat("cannot rename ", tmp, ": ", error.message()));
  return absl::OkStatus();
}

const char* TensorPrefix(const std::string& kind) { return kind == kBottleneckKind ? "adapter." : "translator."; }

absl::StatusOr<VectorBridgeMetadata> ReadKind(const std::string& dir, const char* kind) {
  LIP_ASSIGN_OR_RETURN(VectorBridgeMetadata metadata, ReadVectorBridgeMetadata(dir));
  if (metadata.kind != kind) {
    return absl::FailedPreconditionError(
        absl::StrCat(dir, " holds a \"", metadata.kind, "\" bridge, expected \"", kind, "\""));
  }
  LIP_RETURN_IF_ERROR(CheckFileDigest(JoinPath(dir, kReceiverHalfFile), metadata.receiver_file_digest));
  return metadata;
}

}  // namespace

absl::Status ValidateVectorBridgeMetadata(const VectorBridgeMetadata& m) {
  if (m.name.empty()) return absl::InvalidArgumentError("bridge name is empty");
  if (m.sender_vector.max_text_tokens <= 0 || m.receiver_vector.max_text_tokens <= 0) {
    return absl::InvalidArgumentError("max_text_tokens must be > 0");
  }
  if (m.kind == kBottleneckKind) {
    LIP_RETURN_IF_ERROR(ValidateBottleneckAdapterConfig(m.bottleneck));
    if (m.energy.mode == EnergyMode::kPerVectorNorm && !(m.energy.reference_energy > 0)) {
      return absl::InvalidArgumentError(
          absl::StrCat("energy mode per_vector_norm needs reference_energy > 0, got ", m.energy.reference_energy));
    }
    if (m.energy.mode == EnergyMode::kRms && !(m.energy.reference_rms > 0)) {
      return absl::InvalidArgumentError(
          absl::StrCat("energy mode rms needs reference_rms > 0, got ", m.energy.reference_rms));
    }
    return absl::OkStatus();
  }
  if (m.kind == kDualTranslatorKind) {
    LIP_RETURN_IF_ERROR(ValidateDualTranslatorConfig(m.translator));
    return ValidateBlendConfig(m.blend);
  }
  return absl::InvalidArgumentError(absl::StrCat("bridge kind \"", m.kind, "\" is not one of \"",
                                                 kBottleneckKind, "\", \"", kDualTranslatorKind, "\""));
}

json VectorBridgeMetadataToJson(const VectorBridgeMetadata& m) {
  json j = {{"format_version", VectorBridgeMetadata::kFormatVersion},
            {"name", m.name},
            {"version", m.version},
            {"kind", m.kind},
            {"digest", m.digest},
            {"receiver_file_digest", m.receiver_file_digest},
            {"sender_model", ModelIdToJson(m.sender_model)},
            {"receiver_model", ModelIdToJson(m.receiver_model)},
            {"sender_vector", TextVectorToJson(m.sender_vector)},
            {"receiver_vector", TextVectorToJson(m.receiver_vector)},
            {"priming", {{"context_prefix", m.priming.context_prefix}, {"anchor", m.priming.anchor}}},
            {"task", m.task},
            {"labels", m.labels},
            {"training", m.training},
            {"evaluation", m.evaluation}};
  if (m.kind == kBottleneckKind) {
    j["bottleneck"] = {{"input_width", m.bottleneck.input_width},
                       {"hidden_width", m.bottleneck.hidden_width},
                       {"output_width", m.bottleneck.output_width}};
    j["energy"] = {{"mode", EnergyModeName(m.energy.mode)},
                   {"reference_energy", m.energy.reference_energy},
                   {"reference_rms", m.energy.reference_rms},
                   {"epsilon", m.energy.epsilon}};
  } else {
    j["translator"] = {{"width_a", m.translator.width_a},
                       {"width_b", m.translator.width_b},
                       {"hidden_width", m.translator.hidden_width},
                       {"num_heads", m.translator.num_heads},
                       {"num_anchors", m.translator.num_anchors}};
    j["blend"] = {{"alpha", m.blend.alpha},
                  {"num_layers", m.blend.num_layers},
                  {"last_positions", m.blend.last_positions},
                  {"decode_steps", m.blend.decode_steps}};
  }
  return j;
}

absl::StatusOr<VectorBridgeMetadata> VectorBridgeMetadataFromJson(const json& j) {
  const std::string w = "bridge.json";
  if (!j.is_object()) return absl::InvalidArgumentError("bridge.json must be a JSON object");
  VectorBridgeMetadata m;
  int64_t format_version = VectorBridgeMetadata::kFormatVersion;
  LIP_RETURN_IF_ERROR(ReadInt(j, "format_version", w, &format_version));
  if (format_version > VectorBridgeMetadata::kFormatVersion) {
    return absl::FailedPreconditionError(absl::StrCat("bridge.json format_version ", format_version,
                                                      " is newer than ", VectorBridgeMetadata::kFormatVersion));
  }
  if (!j.contains("kind")) return absl::InvalidArgumentError("bridge.json has no \"kind\"");
  LIP_RETURN_IF_ERROR(ReadString(j, "kind", w, &m.kind));
  if (m.kind == "perceiver") {
    return absl::FailedPreconditionError("bridge.json is a \"perceiver\" bridge; load it with LoadReceiverHalf");
  }
  LIP_RETURN_IF_ERROR(ReadString(j, "name", w, &m.name));
  int64_t version = m.version;
  LIP_RETURN_IF_ERROR(ReadInt(j, "version", w, &version));
  if (version < 0 || version > int64_t(UINT32_MAX)) {
    return absl::InvalidArgumentError(absl::StrCat("bridge.json version ", version, " is outside uint32"));
  }
  m.version = uint32_t(version);
  LIP_RETURN_IF_ERROR(ReadString(j, "digest", w, &m.digest));
  LIP_RETURN_IF_ERROR(ReadString(j, "receiver_file_digest", w, &m.receiver_file_digest));
  LIP_ASSIGN_OR_RETURN(json sender_model, ReadObject(j, "sender_model", w));
  LIP_RETURN_IF_ERROR(ModelIdFromJson(sender_model, w + ".sender_model", &m.sender_model));
  LIP_ASSIGN_OR_RETURN(json receiver_model, ReadObject(j, "receiver_model", w));
  LIP_RETURN_IF_ERROR(ModelIdFromJson(receiver_model, w + ".receiver_model", &m.receiver_model));
  LIP_ASSIGN_OR_RETURN(json sender_vector, ReadObject(j, "sender_vector", w));
  LIP_RETURN_IF_ERROR(TextVectorFromJson(sender_vector, w + ".sender_vector", &m.sender_vector));
  LIP_ASSIGN_OR_RETURN(json receiver_vector, ReadObject(j, "receiver_vector", w));
  LIP_RETURN_IF_ERROR(TextVectorFromJson(receiver_vector, w + ".receiver_vector", &m.receiver_vector));
  LIP_ASSIGN_OR_RETURN(json priming, ReadObject(j, "priming", w));
  LIP_RETURN_IF_ERROR(ReadString(priming, "context_prefix", w + ".priming", &m.priming.context_prefix));
  LIP_RETURN_IF_ERROR(ReadString(priming, "anchor", w + ".priming", &m.priming.anchor));
  LIP_RETURN_IF_ERROR(ReadString(j, "task", w, &m.task));
  if (j.contains("labels")) {
    if (!j.at("labels").is_array()) return absl::InvalidArgumentError("bridge.json.labels must be an array");
    for (const json& label : j.at("labels")) {
      if (!label.is_string()) {
        return absl::InvalidArgumentError(absl::StrCat("bridge.json.labels has a non-string ", label.dump()));
      }
      m.labels.push_back(label.get<std::string>());
    }
  }
  LIP_ASSIGN_OR_RETURN(m.training, ReadObject(j, "training", w));
  LIP_ASSIGN_OR_RETURN(m.evaluation, ReadObject(j, "evaluation", w));
  if (m.kind == kBottleneckKind) {
    LIP_ASSIGN_OR_RETURN(json b, ReadObject(j, "bottleneck", w));
    LIP_RETURN_IF_ERROR(ReadInt(b, "input_width", w + ".bottleneck", &m.bottleneck.input_width));
    LIP_RETURN_IF_ERROR(ReadInt(b, "hidden_width", w + ".bottleneck", &m.bottleneck.hidden_width));
    LIP_RETURN_IF_ERROR(ReadInt(b, "output_width", w + ".bottleneck", &m.bottleneck.output_width));
    LIP_ASSIGN_OR_RETURN(json e, ReadObject(j, "energy", w));
    std::string mode = EnergyModeName(m.energy.mode);
    LIP_RETURN_IF_ERROR(ReadString(e, "mode", w + ".energy", &mode));
    LIP_ASSIGN_OR_RETURN(m.energy.mode, ParseEnergyMode(mode));
    LIP_RETURN_IF_ERROR(ReadDouble(e, "reference_energy", w + ".energy", &m.energy.reference_energy));
    LIP_RETURN_IF_ERROR(ReadDouble(e, "reference_rms", w + ".energy", &m.energy.reference_rms));
    LIP_RETURN_IF_ERROR(ReadDouble(e, "epsilon", w + ".energy", &m.energy.epsilon));
  } else if (m.kind == kDualTranslatorKind) {
    LIP_ASSIGN_OR_RETURN(json t, ReadObject(j, "translator", w));
    LIP_RETURN_IF_ERROR(ReadInt(t, "width_a", w + ".translator", &m.translator.width_a));
    LIP_RETURN_IF_ERROR(ReadInt(t, "width_b", w + ".translator", &m.translator.width_b));
    LIP_RETURN_IF_ERROR(ReadInt(t, "hidden_width", w + ".translator", &m.translator.hidden_width));
    LIP_RETURN_IF_ERROR(ReadInt(t, "num_heads", w + ".translator", &m.translator.num_heads));
    LIP_RETURN_IF_ERROR(ReadInt(t, "num_anchors", w + ".translator", &m.translator.num_anchors));
    LIP_ASSIGN_OR_RETURN(json b, ReadObject(j, "blend", w));
    LIP_RETURN_IF_ERROR(ReadDouble(b, "alpha", w + ".blend", &m.blend.alpha));
    LIP_RETURN_IF_ERROR(ReadInt(b, "num_layers", w + ".blend", &m.blend.num_layers));
    LIP_RETURN_IF_ERROR(ReadInt(b, "last_positions", w + ".blend", &m.blend.last_positions));
    LIP_RETURN_IF_ERROR(ReadInt(b, "decode_steps", w + ".blend", &m.blend.decode_steps));
  }
  LIP_RETURN_IF_ERROR(ValidateVectorBridgeMetadata(m));
  return m;
}

absl::Status SaveVectorBridge(const std::string& dir, const VectorBridgeMetadata& metadata,
                              torch::nn::Module& receiver_module, VectorBridgeMetadata* saved) {
  LIP_RETURN_IF_ERROR(ValidateVectorBridgeMetadata(metadata));
  std::error_code error;
  fs::create_directories(dir, error);
  if (error) return absl::InternalError(absl::StrCat("cannot create ", dir, ": ", error.message()));
  const std::string path = JoinPath(dir, kReceiverHalfFile);
  const std::map<std::string, std::string> file_metadata = {{"format", "lip-bridge"},
                                                            {"bridge", metadata.name},
                                                            {"kind", metadata.kind},
                                                            {"version", std::to_string(metadata.version)},
                                                            {"half", "receiver"}};
  LIP_RETURN_IF_ERROR(
      WriteSafetensors(path, ModuleTensors(receiver_module, TensorPrefix(metadata.kind)), file_metadata));
  VectorBridgeMetadata out = metadata;
  LIP_ASSIGN_OR_RETURN(out.receiver_file_digest, Sha256DigestOfFile(path));
  LIP_ASSIGN_OR_RETURN(out.digest, Sha256DigestOfFiles({path}));
  LIP_RETURN_IF_ERROR(
      WriteTextFile(JoinPath(dir, kBridgeMetadataFile), VectorBridgeMetadataToJson(out).dump(2) + "\n"));
  if (saved != nullptr) *saved = out;
  return absl::OkStatus();
}

absl::StatusOr<VectorBridgeMetadata> ReadVectorBridgeMetadata(const std::string& dir) {
  const std::string path = JoinPath(dir, kBridgeMetadataFile);
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, " does not exist"));
  std::stringstream text;
  text << in.rdbuf();
  json j = json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return absl::InvalidArgumentError(absl::StrCat(path, " is not valid JSON"));
  auto metadata = VectorBridgeMetadataFromJson(j);
  if (!metadata.ok()) return absl::Status(metadata.status().code(), absl::StrCat(path, ": ", metadata.status().message()));
  return metadata;
}

absl::StatusOr<BottleneckBridge> LoadBottleneckBridge(const std::string& dir) {
  LIP_ASSIGN_OR_RETURN(VectorBridgeMetadata metadata, ReadKind(dir, kBottleneckKind));
  BottleneckBridge bridge;
  bridge.adapter = BottleneckAdapter(metadata.bottleneck);
  LIP_RETURN_IF_ERROR(LoadModuleTensors(JoinPath(dir, kReceiverHalfFile), *bridge.adapter, "adapter."));
  bridge.adapter->eval();
  for (auto& parameter : bridge.adapter->parameters()) parameter.set_requires_grad(false);
  bridge.metadata = std::move(metadata);
  return bridge;
}

absl::StatusOr<DualTranslatorBridge> LoadDualTranslatorBridge(const std::string& dir) {
  LIP_ASSIGN_OR_RETURN(VectorBridgeMetadata metadata, ReadKind(dir, kDualTranslatorKind));
  DualTranslatorBridge bridge;
  bridge.translator = DualTranslator(metadata.translator);
  LIP_RETURN_IF_ERROR(LoadModuleTensors(JoinPath(dir, kReceiverHalfFile), *bridge.translator, "translator."));
  bridge.translator->eval();
  for (auto& parameter : bridge.translator->parameters()) parameter.set_requires_grad(false);
  bridge.metadata = std::move(metadata);
  return bridge;
}

}  // namespace lip
