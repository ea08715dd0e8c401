#include "bridge/train/train_config.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "common/wire/status_macros.h"

namespace lip {
namespace {

using nlohmann::json;

template <typename T>
absl::Status Read(const json& j, const char* key, T* out) {
  if (!j.contains(key)) return absl::OkStatus();
  const json& v = j.at(key);
  bool ok = false;
  if constexpr (std::is_same_v<T, std::string>) ok = v.is_string();
  else if constexpr (std::is_same_v<T, bool>) ok = v.is_boolean();
  else if constexpr (std::is_integral_v<T>) ok = v.is_number_integer();
  else if constexpr (std::is_floating_point_v<T>) ok = v.is_number();
  else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
    ok = v.is_array();
    if (ok) for (const json& e : v) ok = ok && e.is_string();
  }
  if (!ok) {
    return absl::InvalidArgumentError(absl::StrCat("train config key \"", key, "\" has the wrong type: ", v.dump()));
  }
  *out = v.get<T>();
  return absl::OkStatus();
}

}  // namespace

std::vector<std::string> Verbalizers(const TrainConfig& config) {
  if (!config.verbalizers.empty()) return config.verbalizers;
  std::vector<std::string> out;
  for (std::string label : config.label_names) {
    std::replace(label.begin(), label.end(), '_', ' ');
    out.push_back(" " + label);
  }
  return out;
}

TrainConfig TrainConfigForFile(const std::string& train_file, std::vector<std::string> labels) {
  TrainConfig c;
  c.train_file = train_file;
  std::filesystem::path dir = std::filesystem::path(train_file).lexically_normal().parent_path();
  c.task = dir.filename().empty() ? "task" : dir.filename().string();
  c.name = c.task + "-bridge";
  c.label_names = std::move(labels);
  c.sender_model_dir = "demo/models/sender-llama";
  c.receiver_model_dir = "demo/models/receiver-qwen2";
  c.sender_model_name = "lip-demo/sender-llama";
  c.receiver_model_name = "lip-demo/receiver-qwen2";
  return c;
}

TrainConfig ReceiverSelfBridgeConfig(TrainConfig config) {
  config.sender_model_dir = config.receiver_model_dir;
  config.sender_model_name = config.receiver_model_name;
  config.name += "-receiver-self-bridge";
  return config;
}

absl::StatusOr<TrainConfig> TrainConfigFromJson(const json& j) {
  if (!j.is_object()) return absl::InvalidArgumentError("train config must be a JSON object");
  static const std::set<std::string> kKeys = {
      "name", "task", "train_file", "train_limit", "label_names", "verbalizers", "sender_model_dir",
      "receiver_model_dir", "sender_model_name", "receiver_model_name", "priming", "source_layer",
      "max_text_tokens", "perceiver", "adapter", "energy_mode", "steps", "batch_size", "learning_rate",
      "weight_decay", "warmup_steps", "min_learning_rate_ratio", "max_grad_norm", "seed",
      "first_token_weight", "label_ce_weight", "diversity_weight", "scale_reg_weight", "validation_size", "early_stopping_patience",
      "eval_every", "checkpoint_every", "normalizer_texts", "log_every", "comment"};
  for (const auto& item : j.items()) {
    if (!kKeys.count(item.key())) {
      return absl::InvalidArgumentError(absl::StrCat("unknown train config key \"", item.key(), "\""));
    }
  }
  TrainConfig c;
  LIP_RETURN_IF_ERROR(Read(j, "name", &c.name));
  LIP_RETURN_IF_ERROR(Read(j, "task", &c.task));
  LIP_RETURN_IF_ERROR(Read(j, "train_file", &c.train_file));
  LIP_RETURN_IF_ERROR(Read(j, "train_limit", &c.train_limit));
  LIP_RETURN_IF_ERROR(Read(j, "label_names", &c.label_names));
  LIP_RETURN_IF_ERROR(Read(j, "verbalizers", &c.verbalizers));
  LIP_RETURN_IF_ERROR(Read(j, "sender_model_dir", &c.sender_model_dir));
  LIP_RETURN_IF_ERROR(Read(j, "receiver_model_dir", &c.receiver_model_dir));
  LIP_RETURN_IF_ERROR(Read(j, "sender_model_name", &c.sender_model_name));
  LIP_RETURN_IF_ERROR(Read(j, "receiver_model_name", &c.receiver_model_name));
  if (j.contains("priming")) {
    const json& p = j.at("priming");
    if (!p.is_object()) return absl::InvalidArgumentError("train config \"priming\" must be an object");
    LIP_RETURN_IF_ERROR(Read(p, "context_prefix", &c.priming.context_prefix));
    LIP_RETURN_IF_ERROR(Read(p, "anchor", &c.priming.anchor));
  }
  LIP_RETURN_IF_ERROR(Read(j, "source_layer", &c.source_layer));
  LIP_RETURN_IF_ERROR(Read(j, "max_text_tokens", &c.max_text_tokens));
  if (j.contains("perceiver")) {
    LIP_ASSIGN_OR_RETURN(c.perceiver, PerceiverConfigFromJson(j.at("perceiver"), c.perceiver));
  }
  if (j.contains("adapter")) {
    LIP_ASSIGN_OR_RETURN(c.adapter, AdapterConfigFromJson(j.at("adapter"), c.adapter));
  }
  std::string energy_mode = EnergyModeName(c.energy_mode);
  LIP_RETURN_IF_ERROR(Read(j, "energy_mode", &energy_mode));
  LIP_ASSIGN_OR_RETURN(c.energy_mode, ParseEnergyMode(energy_mode));
  LIP_RETURN_IF_ERROR(Read(j, "steps", &c.steps));
  LIP_RETURN_IF_ERROR(Read(j, "batch_size", &c.batch_size));
  LIP_RETURN_IF_ERROR(Read(j, "learning_rate", &c.learning_rate));
  LIP_RETURN_IF_ERROR(Read(j, "weight_decay", &c.weight_decay));
  LIP_RETURN_IF_ERROR(Read(j, "warmup_steps", &c.warmup_steps));
  LIP_RETURN_IF_ERROR(Read(j, "min_learning_rate_ratio", &c.min_learning_rate_ratio));
  LIP_RETURN_IF_ERROR(Read(j, "max_grad_norm", &c.max_grad_norm));
  LIP_RETURN_IF_ERROR(Read(j, "seed", &c.seed));
  LIP_RETURN_IF_ERROR(Read(j, "first_token_weight", &c.first_token_weight));
  LIP_RETURN_IF_ERROR(Read(j, "label_ce_weight", &c.label_ce_weight));
  LIP_RETURN_IF_ERROR(Read(j, "diversity_weight", &c.diversity_weight));
  LIP_RETURN_IF_ERROR(Read(j, "scale_reg_weight", &c.scale_reg_weight));
  LIP_RETURN_IF_ERROR(Read(j, "validation_size", &c.validation_size));
  LIP_RETURN_IF_ERROR(Read(j, "early_stopping_patience", &c.early_stopping_patience));
  LIP_RETURN_IF_ERROR(Read(j, "eval_every", &c.eval_every));
  LIP_RETURN_IF_ERROR(Read(j, "checkpoint_every", &c.checkpoint_every));
  LIP_RETURN_IF_ERROR(Read(j, "normalizer_texts", &c.normalizer_texts));
  LIP_RETURN_IF_ERROR(Read(j, "log_every", &c.log_every));

  if (c.label_names.size() < 2) return absl::InvalidArgumentError("train config needs at least 2 label_names");
  if (!c.verbalizers.empty() && c.verbalizers.size() != c.label_names.size()) {
    return absl::InvalidArgumentError(absl::StrCat("train config has ", c.verbalizers.size(),
                                                   " verbalizers for ", c.label_names.size(), " labels"));
  }
  if (c.steps < 1 || c.batch_size < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("steps (", c.steps, ") and batch_size (", c.batch_size, ") must be >= 1"));
  }
  if (!(c.learning_rate > 0) || c.warmup_steps < 0 || c.max_grad_norm < 0 || c.weight_decay < 0) {
    return absl::InvalidArgumentError("learning_rate must be > 0; warmup_steps, max_grad_norm, weight_decay >= 0");
  }
  if (c.max_text_tokens < 1) return absl::InvalidArgumentError("max_text_tokens must be >= 1");
  return c;
}

json TrainConfigToJson(const TrainConfig& c) {
  return json{{"name", c.name},
              {"task", c.task},
              {"train_file", c.train_file},
              {"train_limit", c.train_limit},
              {"label_names", c.label_names},
              {"verbalizers", Verbalizers(c)},
              {"sender_model_dir", c.sender_model_dir},
              {"receiver_model_dir", c.receiver_model_dir},
              {"sender_model_name", c.sender_model_name},
              {"receiver_model_name", c.receiver_model_name},
              {"priming", {{"context_prefix", c.priming.context_prefix}, {"anchor", c.priming.anchor}}},
              {"source_layer", c.source_layer},
              {"max_text_tokens", c.max_text_tokens},
              {"perceiver", PerceiverConfigToJson(c.perceiver)},
              {"adapter", AdapterConfigToJson(c.adapter)},
              {"energy_mode", EnergyModeName(c.energy_mode)},
              {"steps", c.steps},
              {"batch_size", c.batch_size},
              {"learning_rate", c.learning_rate},
              {"weight_decay", c.weight_decay},
              {"warmup_steps", c.warmup_steps},
              {"min_learning_rate_ratio", c.min_learning_rate_ratio},
              {"max_grad_norm", c.max_grad_norm},
              {"seed", c.seed},
              {"first_token_weight", c.first_token_weight},
              {"label_ce_weight", c.label_ce_weight},
              {"diversity_weight", c.diversity_weight},
              {"scale_reg_weight", c.scale_reg_weight},
              {"validation_size", c.validation_size},
              {"early_stopping_patience", c.early_stopping_patience},
              {"eval_every", c.eval_every},
              {"checkpoint_every", c.checkpoint_every},
              {"normalizer_texts", c.normalizer_texts},
              {"log_every", c.log_every}};
}

absl::StatusOr<TrainConfig> ReadTrainConfig(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("train config ", path, " does not exist"));
  std::stringstream text;
  text << in.rdbuf();
  json j = json::parse(text.str(), nullptr, /*allow_exceptions=*/false, /*ignore_comments=*/true);
  if (j.is_discarded()) return absl::InvalidArgumentError(absl::StrCat(path, " is not valid JSON"));
  auto config = TrainConfigFromJson(j);
  if (!config.ok()) return absl::Status(config.status().code(), absl::StrCat(path, ": ", config.status().message()));
  return config;
}

}  // namespace lip
