// The run config of lip-train (one JSON file per run, e.g. configs/demo_ag_news.json): data,
// models, bridge shape, losses and optimizer. Plain struct with documented defaults; no LibTorch.
// Unknown keys are refused so a typo never silently falls back to a default.
#ifndef LIP_BRIDGE_TRAIN_TRAIN_CONFIG_H_
#define LIP_BRIDGE_TRAIN_TRAIN_CONFIG_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "bridge/latent/bridge_config.h"
#include "nlohmann/json.hpp"

namespace lip {

struct TrainConfig {
  // What is trained.
  std::string name = "bridge";               // bridge name in bridge.json
  std::string task;                          // e.g. "ag_news"
  std::string train_file;                    // JSONL {"text","label"}; never a test split
  int64_t train_limit = 0;                   // > 0: a stratified sample of N rows of train_file
  std::vector<std::string> label_names;      // label strings as in the file, in class order
  std::vector<std::string> verbalizers;      // what the receiver should say; empty = " " + label
  std::string sender_model_dir;              // relative to the working directory
  std::string receiver_model_dir;
  std::string sender_model_name;             // ModelId.name; empty = the directory's base name
  std::string receiver_model_name;
  PrimingConfig priming = {"", "\nAnswer:"};

  // The bridge.
  int64_t source_layer = -1;                 // -1 = the sender's middle layer (num_layers / 2 + 1)
  int64_t max_text_tokens = 64;
  PerceiverConfig perceiver;                 // input_width is taken from the sender
  AdapterConfig adapter;                     // input/output widths are derived
  EnergyMode energy_mode = EnergyMode::kPerVectorNorm;

  // Optimization.
  int64_t steps = 300;
  int64_t batch_size = 16;
  double learning_rate = 1e-3;
  double weight_decay = 0.01;
  int64_t warmup_steps = 30;                 // linear warm-up, then cosine decay
  double min_learning_rate_ratio = 0.1;      // cosine floor as a fraction of learning_rate
  double max_grad_norm = 1.0;                // 0 = no clipping
  uint64_t seed = 1;

  // Losses (weights; 0 turns a term off).
  double first_token_weight = 1.0;   // CE over the whole vocabulary on the answer's first token
  double label_ce_weight = 1.0;      // CE over the labels' first tokens only
  double diversity_weight = 0.1;     // mean cosine similarity between messages; off for 2 classes
  double scale_reg_weight = 0.01;    // (s - 1)^2 on the adapter's learned scale

  // Bookkeeping.
  // Held out of train_file (never from a test split), stratified by label; lip-train takes at most
  // a fifth of the file (ValidationSizeFor).
  int64_t validation_size = 500;
  int64_t eval_every = 100;          // 0 = only at the end
  // Early stopping on validation (evaluated every eval_every steps): training stops after this many
  // evaluations without a better validation accuracy, and the weights of the best evaluation are
  // restored (its accuracy is the last entry of the validation history). 0 = train every step and
  // keep the final weights.
  int64_t early_stopping_patience = 3;
  int64_t checkpoint_every = 0;      // 0 = only at the end
  int64_t normalizer_texts = 512;    // training texts used to fit the statistical normalizer
  int64_t log_every = 10;            // plain-log cadence when stderr is not a terminal
};

// INVALID_ARGUMENT naming the key for a mistyped or unknown key or an out-of-range value.
absl::StatusOr<TrainConfig> TrainConfigFromJson(const nlohmann::json& json);
nlohmann::json TrainConfigToJson(const TrainConfig& config);
// Reads a JSON file. NOT_FOUND when missing.
absl::StatusOr<TrainConfig> ReadTrainConfig(const std::string& path);

// The verbalizer of each label (config.verbalizers, else " " + the label name with '_' as spaces).
std::vector<std::string> Verbalizers(const TrainConfig& config);

// A run config for a labelled JSONL file alone: the defaults above, the shipped demo pair
// (demo/models/sender-llama -> demo/models/receiver-qwen2), `labels` as the classes (in that
// order) with verbalizers from their names, task = the file's directory name (e.g. "trec" for
// data/trec/train.jsonl), name = "<task>-bridge".
TrainConfig TrainConfigForFile(const std::string& train_file, std::vector<std::string> labels);

// The receiver self-bridge of `config`: the same bridge (normalizer, Perceiver, adapter, frame,
// data, steps, tuning) with the receiver as its own source — sender_model_dir/name become the
// receiver's, so the Perceiver reads the receiver's states of the text. The reference that tells
// the sender's information from the Perceiver's capacity. The name gets "-receiver-self-bridge".
TrainConfig ReceiverSelfBridgeConfig(TrainConfig config);

}  // namespace lip

#endif  // LIP_BRIDGE_TRAIN_TRAIN_CONFIG_H_
