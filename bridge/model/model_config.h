// The architecture of a Llama-family decoder (llama, mistral, qwen2) as a Hugging Face
// `config.json` describes it. No LibTorch here: parsing and validation only.
#ifndef LIP_BRIDGE_MODEL_MODEL_CONFIG_H_
#define LIP_BRIDGE_MODEL_MODEL_CONFIG_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace lip {

// Rotary position embedding parameters. Read from the classic `rope_theta` + `rope_scaling`
// fields or from the transformers-5 `rope_parameters` block (which wins when both exist).
struct RopeConfig {
  std::string type = "default";  // "default", "linear" or "llama3"; others are refused at parse time
  double theta = 10000.0;
  double factor = 1.0;                               // linear, llama3
  double low_freq_factor = 1.0;                      // llama3
  double high_freq_factor = 4.0;                     // llama3
  int64_t original_max_position_embeddings = 8192;   // llama3
};

struct ModelConfig {
  std::string model_type = "llama";  // "llama", "mistral" or "qwen2"
  int64_t vocab_size = 32000;
  int64_t hidden_size = 4096;
  int64_t intermediate_size = 11008;
  int64_t num_hidden_layers = 32;
  int64_t num_attention_heads = 32;
  int64_t num_key_value_heads = 32;  // < num_attention_heads: GQA; 1: MQA
  int64_t head_dim = 128;            // explicit `head_dim`, else hidden_size / num_attention_heads
  double rms_norm_eps = 1e-6;
  int64_t max_position_embeddings = 2048;
  RopeConfig rope;
  bool tie_word_embeddings = false;
  bool attention_bias = false;  // bias on q/k/v/o (llama `attention_bias`)
  bool qkv_bias = false;        // bias on q/k/v only (qwen2 always)
  bool mlp_bias = false;
  std::string hidden_act = "silu";  // only silu is supported
  // Per layer: 0 = full causal attention, > 0 = sliding window of that many tokens
  // (mistral `sliding_window`; qwen2 `use_sliding_window` from `max_window_layers` on;
  // or an explicit transformers-5 `layer_types` list). Size num_hidden_layers.
  std::vector<int64_t> layer_sliding_window;
  double initializer_range = 0.02;  // std of RandomInit's normal weights
  std::string torch_dtype = "float32";  // the dtype the checkpoint declares ("dtype" in transformers 5)
  std::vector<int64_t> bos_token_ids;
  std::vector<int64_t> eos_token_ids;
  int64_t pad_token_id = -1;  // -1 when none
};

// Parses config.json text. INVALID_ARGUMENT for malformed JSON, missing/invalid sizes
// (naming the field and value, e.g. "hidden_size 100 is not divisible by num_attention_heads 3"),
// UNIMPLEMENTED for an unknown model_type, an unsupported rope type or hidden_act.
absl::StatusOr<ModelConfig> ParseModelConfig(const std::string& json_text);

// Reads and parses a config.json file. NOT_FOUND when missing.
absl::StatusOr<ModelConfig> ReadModelConfig(const std::string& path);

// Checks the invariants Parse enforces on a hand-built config (RandomInit uses it).
absl::Status ValidateModelConfig(const ModelConfig& config);

}  // namespace lip

#endif  // LIP_BRIDGE_MODEL_MODEL_CONFIG_H_
