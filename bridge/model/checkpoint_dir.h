// A Hugging Face checkpoint directory: config.json, generation_config.json and the
// weights in model.safetensors or shards listed by model.safetensors.index.json.
#ifndef LIP_BRIDGE_MODEL_CHECKPOINT_DIR_H_
#define LIP_BRIDGE_MODEL_CHECKPOINT_DIR_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "bridge/model/model_config.h"
#include "bridge/model/safetensors.h"

namespace lip {

// generation_config.json: only the fields LIP uses. Missing file -> defaults from config.json.
struct GenerationDefaults {
  std::vector<int64_t> eos_token_ids;  // stop tokens
  std::vector<int64_t> bos_token_ids;
  int64_t pad_token_id = -1;
  bool do_sample = false;
  double temperature = 1.0;
  double top_p = 1.0;
  int64_t max_new_tokens = -1;  // -1: not given
};

// An opened checkpoint directory. Opening reads config.json (required), generation_config.json
// (optional) and maps every weight shard (no tensor data is copied). Tensor() finds a weight
// by name in whichever shard holds it.
//
// Errors: NOT_FOUND when config.json or all weight files are missing; INVALID_ARGUMENT for a
// malformed index (naming the shard/tensor), plus everything ParseModelConfig and
// SafetensorsFile::Open return. Thread-safety: const methods are safe after Open.
class CheckpointDir {
 public:
  static absl::StatusOr<std::unique_ptr<CheckpointDir>> Open(const std::string& dir);

  const std::string& dir() const { return dir_; }
  const ModelConfig& config() const { return config_; }
  const GenerationDefaults& generation() const { return generation_; }
  // Shard paths in index order (a single file for unsharded checkpoints).
  const std::vector<std::string>& shard_paths() const { return shard_paths_; }
  bool Contains(const std::string& name) const { return where_.count(name) > 0; }
  // Zero-copy CPU view of a weight (see SafetensorsFile::Tensor). NOT_FOUND naming the tensor.
  absl::StatusOr<torch::Tensor> Tensor(const std::string& name) const;

 private:
  CheckpointDir() = default;

  std::string dir_;
  ModelConfig config_;
  GenerationDefaults generation_;
  std::vector<std::string> shard_paths_;
  std::vector<std::unique_ptr<SafetensorsFile>> shards_;
  std::map<std::string, size_t> where_;  // tensor name -> shard index
};

// Parses generation_config.json text on top of `defaults`. INVALID_ARGUMENT on malformed JSON.
absl::StatusOr<GenerationDefaults> ParseGenerationConfig(const std::string& json_text,
                                                         GenerationDefaults defaults);

}  // namespace lip

#endif  // LIP_BRIDGE_MODEL_CHECKPOINT_DIR_H_
