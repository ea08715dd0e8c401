#include "bridge/model/model_config.h"

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace lip {
namespace {

using Json = nlohmann::json;

bool Has(const Json& j, const char* key) { return j.contains(key) && !j[key].is_null(); }

absl::Status ReadInt(const Json& j, const char* key, bool required, int64_t* out) {
  if (!Has(j, key)) {
    if (required) return absl::InvalidArgumentError(absl::StrCat("config.json: missing \"", key, "\""));
    return absl::OkStatus();
  }
  if (!j[key].is_number_integer()) {
    return absl::InvalidArgumentError(
        absl::StrCat("config.json: \"", key, "\" is ", j[key].dump(), ", expected an integer"));
  }
  *out = j[key].get<int64_t>();
  return absl::OkStatus();
}

absl::Status ReadDouble(const Json& j, const char* key, double* out) {
  if (!Has(j, key)) return absl::OkStatus();
  if (!j[key].is_number()) {
    return absl::InvalidArgumentError(
        absl::StrCat("config: \"", key, "\" is ", j[key].dump(), ", expected a number"));
  }
  *out = j[key].get<double>();
  return absl::OkStatus();
}

absl::Status ReadBool(const Json& j, const char* key, bool* out) {
  if (!Has(j, key)) return absl::OkStatus();
  if (!j[key].is_boolean()) {
    return absl::InvalidArgumentError(
        absl::StrCat("config.json: \"", key, "\" is ", j[key].dump(), ", expected true/false"));
  }
  *out = j[key].get<bool>();
  return absl::OkStatus();
}

// Token ids may be an int or a list of ints (Llama-3.1 has three EOS ids).
absl::Status ReadIdList(const Json& j, const char* key, std::vector<int64_t>* out) {
  if (!Has(j, key)) return absl::OkStatus();
  const Json& v = j[key];
  if (v.is_number_integer()) {
    out->push_back(v.get<int64_t>());
    return absl::OkStatus();
  }
  if (v.is_array()) {
    for (const Json& e : v) {
      if (!e.is_number_integer()) {
        return absl::InvalidArgumentError(
            absl::StrCat("config: \"", key, "\" is ", v.dump(), ", expected integers"));
      }
      out->push_back(e.get<int64_t>());
    }
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(
      absl::StrCat("config: \"", key, "\" is ", v.dump(), ", expected an integer or a list"));
}

// Reads one rope block: classic `rope_scaling` (key "type" or "rope_type") or transformers-5
// `rope_parameters` (which also carries rope_theta).
absl::Status ReadRopeBlock(const Json& block, const char* where, RopeConfig* rope) {
  if (!block.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat("config.json: \"", where, "\" is ", block.dump(),
                                                   ", expected an object"));
  }
  for (const char* key : {"type", "rope_type"}) {  // "rope_type" wins over the legacy "type"
    if (!Has(block, key)) continue;
    if (!block[key].is_string()) {
      return absl::InvalidArgumentError(absl::StrCat("config.json: ", where, ".", key, " is ",
                                                     block[key].dump(), ", expected a string"));
    }
    rope->type = block[key].get<std::string>();
  }
  if (auto s = ReadDouble(block, "rope_theta", &rope->theta); !s.ok()) return s;
  if (auto s = ReadDouble(block, "factor", &rope->factor); !s.ok()) return s;
  if (auto s = ReadDouble(block, "low_freq_factor", &rope->low_freq_factor); !s.ok()) return s;
  if (auto s = ReadDouble(block, "high_freq_factor", &rope->high_freq_factor); !s.ok()) return s;
  if (auto s = ReadInt(block, "original_max_position_embeddings", false,
                       &rope->original_max_position_embeddings);
      !s.ok()) {
    return s;
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateModelConfig(const ModelConfig& c) {
  if (c.model_type != "llama" && c.model_type != "mistral" && c.model_type != "qwen2") {
    return absl::UnimplementedError(absl::StrCat("model_type \"", c.model_type,
                                                 "\" is not supported (llama, mistral, qwen2)"));
  }
  if (c.rope.type != "default" && c.rope.type != "linear" && c.rope.type != "llama3") {
    return absl::UnimplementedError(absl::StrCat(
        "rope type \"", c.rope.type, "\" is not supported (default, linear, llama3)"));
  }
  if (c.hidden_act != "silu") {
    return absl::UnimplementedError(
        absl::StrCat("hidden_act \"", c.hidden_act, "\" is not supported (silu)"));
  }
  auto positive = [](const char* name, int64_t v) -> absl::Status {
    if (v <= 0) return absl::InvalidArgumentError(absl::StrCat(name, " is ", v, ", expected > 0"));
    return absl::OkStatus();
  };
  for (auto [name, v] : {std::pair<const char*, int64_t>{"vocab_size", c.vocab_size},
                         {"hidden_size", c.hidden_size},
                         {"intermediate_size", c.intermediate_size},
                         {"num_hidden_layers", c.num_hidden_layers},
                         {"num_attention_heads", c.num_attention_heads},
                         {"num_key_value_heads", c.num_key_value_heads},
                         {"head_dim", c.head_dim}}) {
    if (auto s = positive(name, v); !s.ok()) return s;
  }
  if (c.num_attention_heads % c.num_key_value_heads != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("num_attention_heads ", c.num_attention_heads,
                     " is not divisible by num_key_value_heads ", c.num_key_value_heads));
  }
  if (c.head_dim % 2 != 0) {
    return absl::InvalidArgumentError(absl::StrCat("head_dim ", c.head_dim, " is odd; rope needs even"));
  }
  if (!(c.rms_norm_eps > 0)) {
    return absl::InvalidArgumentError(absl::StrCat("rms_norm_eps ", c.rms_norm_eps, " must be > 0"));
  }
  if (!(c.rope.theta > 0) || !(c.rope.factor > 0)) {
    return absl::InvalidArgumentError(absl::StrCat("rope theta ", c.rope.theta, " and factor ",
                                                   c.rope.factor, " must be > 0"));
  }
  if (c.rope.type == "llama3" && !(c.rope.high_freq_factor > c.rope.low_freq_factor)) {
    return absl::InvalidArgumentError(absl::StrCat("llama3 rope: high_freq_factor ", c.rope.high_freq_factor,
                                                   " must exceed low_freq_factor ", c.rope.low_freq_factor));
  }
  if (static_cast<int64_t>(c.layer_sliding_window.size()) != c.num_hidden_layers) {
    return absl::InvalidArgumentError(absl::StrCat("layer_sliding_window has ", c.layer_sliding_window.size(),
                                                   " entries, expected num_hidden_layers = ",
                                                   c.num_hidden_layers));
  }
  return absl::OkStatus();
}

absl::StatusOr<ModelConfig> ParseModelConfig(const std::string& json_text) {
  Json j = Json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::InvalidArgumentError("config.json is not a JSON object");
  }
  ModelConfig c;
  if (!Has(j, "model_type") || !j["model_type"].is_string()) {
    return absl::InvalidArgumentError("config.json: missing \"model_type\"");
  }
  c.model_type = j["model_type"].get<std::string>();
  if (c.model_type != "llama" && c.model_type != "mistral" && c.model_type != "qwen2") {
    return absl::UnimplementedError(absl::StrCat("model_type \"", c.model_type,
                                                 "\" is not supported (llama, mistral, qwen2)"));
  }
  for (auto [key, out] : {std::pair<const char*, int64_t*>{"vocab_size", &c.vocab_size},
                          {"hidden_size", &c.hidden_size},
                          {"intermediate_size", &c.intermediate_size},
                          {"num_hidden_layers", &c.num_hidden_layers},
                          {"num_attention_heads", &c.num_attention_heads}}) {
    if (auto s = ReadInt(j, key, /*required=*/true, out); !s.ok()) return s;
  }
  c.num_key_value_heads = c.num_attention_heads;
  if (auto s = ReadInt(j, "num_key_value_heads", false, &c.num_key_value_heads); !s.ok()) return s;
  if (c.num_attention_heads > 0 && !Has(j, "head_dim") && c.hidden_size % c.num_attention_heads != 0) {
    return absl::InvalidArgumentError(absl::StrCat("hidden_size ", c.hidden_size,
                                                   " is not divisible by num_attention_heads ",
                                                   c.num_attention_heads, " and no head_dim is given"));
  }
  c.head_dim = c.num_attention_heads > 0 ? c.hidden_size / c.num_attention_heads : 0;
  if (auto s = ReadInt(j, "head_dim", false, &c.head_dim); !s.ok()) return s;
  c.max_position_embeddings = 2048;
  if (auto s = ReadInt(j, "max_position_embeddings", false, &c.max_position_embeddings); !s.ok()) return s;
  if (auto s = ReadDouble(j, "rms_norm_eps", &c.rms_norm_eps); !s.ok()) return s;
  if (auto s = ReadDouble(j, "initializer_range", &c.initializer_range); !s.ok()) return s;
  if (Has(j, "hidden_act")) c.hidden_act = j["hidden_act"].is_string() ? j["hidden_act"].get<std::string>() : j["hidden_act"].dump();
  c.tie_word_embeddings = false;
  if (auto s = ReadBool(j, "tie_word_embeddings", &c.tie_word_embeddings); !s.ok()) return s;
  if (auto s = ReadBool(j, "attention_bias", &c.attention_bias); !s.ok()) return s;
  if (auto s = ReadBool(j, "mlp_bias", &c.mlp_bias); !s.ok()) return s;
  c.qkv_bias = c.model_type == "qwen2";
  if (Has(j, "torch_dtype") && j["torch_dtype"].is_string()) c.torch_dtype = j["torch_dtype"].get<std::string>();
  if (Has(j, "dtype") && j["dtype"].is_string()) c.torch_dtype = j["dtype"].get<std::string>();
  if (auto s = ReadIdList(j, "bos_token_id", &c.bos_token_ids); !s.ok()) return s;
  if (auto s = ReadIdList(j, "eos_token_id", &c.eos_token_ids); !s.ok()) return s;
  if (auto s = ReadInt(j, "pad_token_id", false, &c.pad_token_id); !s.ok()) return s;

  // Rope: classic fields first, then the transformers-5 block overrides them.
  if (auto s = ReadDouble(j, "rope_theta", &c.rope.theta); !s.ok()) return s;
  if (Has(j, "rope_scaling")) {
    if (auto s = ReadRopeBlock(j["rope_scaling"], "rope_scaling", &c.rope); !s.ok()) return s;
  }
  if (Has(j, "rope_parameters")) {
    if (auto s = ReadRopeBlock(j["rope_parameters"], "rope_parameters", &c.rope); !s.ok()) return s;
  }

  // Sliding windows per layer.
  int64_t window = 0;
  if (auto s = ReadInt(j, "sliding_window", false, &window); !s.ok()) return s;
  c.layer_sliding_window.assign(c.num_hidden_layers > 0 ? c.num_hidden_layers : 0, 0);
  if (Has(j, "layer_types")) {
    const Json& types = j["layer_types"];
    if (!types.is_array() || static_cast<int64_t>(types.size()) != c.num_hidden_layers) {
      return absl::InvalidArgumentError(absl::StrCat("config.json: layer_types ", types.dump(),
                                                     " must list num_hidden_layers = ",
                                                     c.num_hidden_layers, " entries"));
    }
    for (size_t i = 0; i < types.size(); ++i) {
      const std::string t = types[i].is_string() ? types[i].get<std::string>() : "";
      if (t == "full_attention") continue;
      if (t != "sliding_attention") {
        return absl::UnimplementedError(absl::StrCat("layer_types[", i, "] = ", types[i].dump(),
                                                     " is not supported (full_attention, sliding_attention)"));
      }
      if (window <= 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("layer_types[", i, "] is sliding_attention but sliding_window is not set"));
      }
      c.layer_sliding_window[i] = window;
    }
  } else if (c.model_type == "mistral" && window > 0) {
    for (auto& w : c.layer_sliding_window) w = window;
  } else if (c.model_type == "qwen2" && window > 0) {
    bool use_sliding = false;
    if (auto s = ReadBool(j, "use_sliding_window", &use_sliding); !s.ok()) return s;
    int64_t max_window_layers = c.num_hidden_layers;
    if (auto s = ReadInt(j, "max_window_layers", false, &max_window_layers); !s.ok()) return s;
    if (use_sliding) {
      for (int64_t i = max_window_layers; i < c.num_hidden_layers; ++i) c.layer_sliding_window[i] = window;
    }
  }
  if (auto s = ValidateModelConfig(c); !s.ok()) return s;
  return c;
}

absl::StatusOr<ModelConfig> ReadModelConfig(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("config file not found: ", path));
  std::stringstream ss;
  ss << in.rdbuf();
  absl::StatusOr<ModelConfig> c = ParseModelConfig(ss.str());
  if (!c.ok()) {
    return absl::Status(c.status().code(), absl::StrCat(path, ": ", c.status().message()));
  }
  return c;
}

}  // namespace lip
