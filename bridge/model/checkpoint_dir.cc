#include "bridge/model/checkpoint_dir.h"

#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace lip {
namespace {

using Json = nlohmann::json;

bool FileExists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

absl::StatusOr<std::string> ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("file not found: ", path));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

absl::Status ReadIds(const Json& j, const char* key, std::vector<int64_t>* out) {
  if (!j.contains(key) || j[key].is_null()) return absl::OkStatus();
  out->clear();
  if (j[key].is_number_integer()) {
    out->push_back(j[key].get<int64_t>());
  } else if (j[key].is_array()) {
    for (const Json& e : j[key]) {
      if (!e.is_number_integer()) {
        return absl::InvalidArgumentError(absl::StrCat("\"", key, "\" is ", j[key].dump(), ", expected integers"));
      }
      out->push_back(e.get<int64_t>());
    }
  } else {
    return absl::InvalidArgumentError(absl::StrCat("\"", key, "\" is ", j[key].dump(), ", expected ids"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<GenerationDefaults> ParseGenerationConfig(const std::string& json_text,
                                                         GenerationDefaults defaults) {
  Json j = Json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::InvalidArgumentError("generation_config.json is not a JSON object");
  }
  GenerationDefaults g = std::move(defaults);
  if (auto s = ReadIds(j, "eos_token_id", &g.eos_token_ids); !s.ok()) return s;
  if (auto s = ReadIds(j, "bos_token_id", &g.bos_token_ids); !s.ok()) return s;
  std::vector<int64_t> pad;
  if (auto s = ReadIds(j, "pad_token_id", &pad); !s.ok()) return s;
  if (!pad.empty()) g.pad_token_id = pad[0];
  if (j.contains("do_sample") && j["do_sample"].is_boolean()) g.do_sample = j["do_sample"].get<bool>();
  if (j.contains("temperature") && j["temperature"].is_number()) g.temperature = j["temperature"].get<double>();
  if (j.contains("top_p") && j["top_p"].is_number()) g.top_p = j["top_p"].get<double>();
  if (j.contains("max_new_tokens") && j["max_new_tokens"].is_number_integer()) {
    g.max_new_tokens = j["max_new_tokens"].get<int64_t>();
  }
  return g;
}

absl::StatusOr<std::unique_ptr<CheckpointDir>> CheckpointDir::Open(const std::string& dir) {
  std::unique_ptr<CheckpointDir> ckpt(new CheckpointDir());
  ckpt->dir_ = dir;
  absl::StatusOr<ModelConfig> config = ReadModelConfig(dir + "/config.json");
  if (!config.ok()) return config.status();
  ckpt->config_ = *std::move(config);

  GenerationDefaults gen;
  gen.eos_token_ids = ckpt->config_.eos_token_ids;
  gen.bos_token_ids = ckpt->config_.bos_token_ids;
  gen.pad_token_id = ckpt->config_.pad_token_id;
  const std::string gen_path = dir + "/generation_config.json";
  if (FileExists(gen_path)) {
    absl::StatusOr<std::string> text = ReadText(gen_path);
    if (!text.ok()) return text.status();
    absl::StatusOr<GenerationDefaults> parsed = ParseGenerationConfig(*text, gen);
    if (!parsed.ok()) {
      return absl::Status(parsed.status().code(), absl::StrCat(gen_path, ": ", parsed.status().message()));
    }
    gen = *std::move(parsed);
  }
  ckpt->generation_ = std::move(gen);

  // Weights: the sharded index wins when present, as in transformers.
  const std::string index_path = dir + "/model.safetensors.index.json";
  const std::string single_path = dir + "/model.safetensors";
  std::map<std::string, std::string> weight_map;  // tensor -> shard file name
  if (FileExists(index_path)) {
    absl::StatusOr<std::string> text = ReadText(index_path);
    if (!text.ok()) return text.status();
    Json index = Json::parse(*text, nullptr, /*allow_exceptions=*/false);
    if (index.is_discarded() || !index.is_object() || !index.contains("weight_map") ||
        !index["weight_map"].is_object()) {
      return absl::InvalidArgumentError(absl::StrCat(index_path, ": expected an object with \"weight_map\""));
    }
    for (auto it = index["weight_map"].begin(); it != index["weight_map"].end(); ++it) {
      if (!it.value().is_string()) {
        return absl::InvalidArgumentError(
            absl::StrCat(index_path, ": weight_map[\"", it.key(), "\"] is not a file name"));
      }
      const std::string shard = it.value().get<std::string>();
      if (shard.find('/') != std::string::npos || shard == "..") {
        return absl::InvalidArgumentError(
            absl::StrCat(index_path, ": shard name \"", shard, "\" must be a plain file name"));
      }
      weight_map[it.key()] = shard;
      if (std::find(ckpt->shard_paths_.begin(), ckpt->shard_paths_.end(), dir + "/" + shard) ==
          ckpt->shard_paths_.end()) {
        ckpt->shard_paths_.push_back(dir + "/" + shard);
      }
    }
    std::sort(ckpt->shard_paths_.begin(), ckpt->shard_paths_.end());
  } else if (FileExists(single_path)) {
    ckpt->shard_paths_.push_back(single_path);
  } else {
    return absl::NotFoundError(absl::StrCat("no model.safetensors or model.safetensors.index.json in ", dir));
  }

  for (size_t s = 0; s < ckpt->shard_paths_.size(); ++s) {
    absl::StatusOr<std::unique_ptr<SafetensorsFile>> file = SafetensorsFile::Open(ckpt->shard_paths_[s]);
    if (!file.ok()) return file.status();
    for (const std::string& name : (*file)->names()) {
      if (ckpt->where_.count(name)) {
        return absl::InvalidArgumentError(absl::StrCat("tensor \"", name, "\" appears in both ",
                                                       ckpt->shard_paths_[ckpt->where_[name]], " and ",
                                                       ckpt->shard_paths_[s]));
      }
      ckpt->where_[name] = s;
    }
    ckpt->shards_.push_back(*std::move(file));
  }
  for (const auto& [name, shard] : weight_map) {
    auto it = ckpt->where_.find(name);
    if (it == ckpt->where_.end() || ckpt->shard_paths_[it->second] != dir + "/" + shard) {
      return absl::InvalidArgumentError(
          absl::StrCat(index_path, ": tensor \"", name, "\" is not in its listed shard ", shard));
    }
  }
  return ckpt;
}

absl::StatusOr<torch::Tensor> CheckpointDir::Tensor(const std::string& name) const {
  auto it = where_.find(name);
  if (it == where_.end()) {
    return absl::NotFoundError(absl::StrCat("weight \"", name, "\" not found in checkpoint ", dir_));
  }
  return shards_[it->second]->Tensor(name);
}

}  // namespace lip
