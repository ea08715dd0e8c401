// One measured run of the evaluation suite: one trained thing (or one baseline) measured on one
// held-out test split. Every tool of the suite (lip-train for prompt tuning, lip-eval for bridges
// and baselines, lip-vector-bridge) writes one such JSON file per run into a results directory;
// `lip-eval report` aggregates the directory into docs/results.md. Keeping measurement apart from
// rendering lets the runs of a matrix go in parallel (and on other machines) and lets a failed run
// show up as a note instead of stopping the rest. No LibTorch. Plain data; thread-compatible.
#ifndef LIP_BRIDGE_EVAL_RUN_RESULT_H_
#define LIP_BRIDGE_EVAL_RUN_RESULT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "bridge/train/learning_rate_search.h"
#include "nlohmann/json.hpp"

namespace lip {

// Methods, as written in RunResult::method.
inline constexpr char kMethodZeroShot[] = "zero_shot";          // receiver reads the text
inline constexpr char kMethodLinearProbe[] = "linear_probe";    // sender states, logistic regression
inline constexpr char kMethodTextRelay[] = "text_relay";        // sender writes text, receiver reads it
inline constexpr char kMethodPromptTuning[] = "prompt_tuning";  // receiver-only soft prompt + text
inline constexpr char kMethodSenderCeiling[] = "sender_ceiling";  // bridge's sender half + linear head
inline constexpr char kMethodPerceiver[] = "perceiver";         // the bridge
// The same bridge with the receiver as its own source (lip-train --method=receiver_self_bridge).
inline constexpr char kMethodReceiverSelfBridge[] = "receiver_self_bridge";
inline constexpr char kMethodBottleneck[] = "bottleneck";       // single-vector bottleneck adapter
inline constexpr char kMethodDualTranslator[] = "dual_translator";  // translator + blending

struct RunResult {
  std::string task;       // "ag_news", "sst2", "trec"
  std::string method;     // one of kMethod*
  std::string direction;  // "forward" (the demo pair as shipped) or "reverse" (models swapped)
  std::string sender;     // model names
  std::string receiver;
  int64_t num_soft_tokens = 0;  // M (0 where it does not apply)
  int64_t width = 0;            // d_z of the wire (0 where it does not apply)
  // An ablation: the JSON merge patch the run applied to its task's config (lip-train
  // --config_patch), e.g. {"source_layer":5}. "" = the config as is (the main tables' runs).
  std::string variant;
  uint64_t seed = 0;
  std::string device;           // where it was measured: "cpu" or "cuda"
  std::string train_device;     // where it was trained, when that differs or is not `device` ("" = device)
  int64_t threads = 0;

  // Training (absent for untrained baselines).
  int64_t steps = 0;
  int64_t batch_size = 0;
  int64_t train_examples = 0;
  double train_seconds = 0;
  std::optional<double> validation_accuracy;  // on the validation set carved from train
  std::optional<double> learning_rate;        // peak rate of the run (absent: not recorded)
  // Every rate tried when the rate was chosen on validation (bridge/train/learning_rate_search.h);
  // empty when the run trained at one given rate. With trials, the JSON also says whether the
  // chosen rate is an edge of the grid ("learning_rate_at_grid_edge", ChosenRateAtGridEdge; derived
  // on writing, not read back).
  std::vector<LearningRateTrial> learning_rate_trials;
  // The linear probe: the L2 penalty chosen on validation among its grid.
  std::optional<double> regularization;

  // Test.
  std::string test_file;
  int64_t test_examples = 0;
  std::optional<double> accuracy;       // fp32 (the method's own output)
  std::optional<double> macro_f1;       // of the same predictions (bridge/eval/classification_scores.h)
  // Calibrated label scores (bridge/eval/calibrated_scores.h): log p(label | input) minus
  // log p(label | the bare frame without the input); accuracy and macro-F1 of their argmax.
  std::optional<double> calibrated_accuracy;
  std::optional<double> calibrated_macro_f1;
  std::optional<double> accuracy_fp16;  // soft tokens through the real packet codec
  std::optional<double> accuracy_int8;
  std::optional<double> fp16_packet_bytes;  // mean bytes of a serialized packet
  std::optional<double> int8_packet_bytes;
  // Mean bytes of a LIP 1.1 CompactPacket of the int8 message on a stream (docs/protocol.md §12).
  std::optional<double> compact_int8_bytes;
  std::optional<double> text_bytes;         // mean UTF-8 bytes of the test texts
  std::optional<double> relayed_text_bytes; // text relay: mean UTF-8 bytes the sender wrote

  // Single-vector bridges (lip-vector-bridge) as their papers measure them, on the test texts:
  // mean cosine between the mapped sender vector and the receiver's own vector of the same text
  // (and, for the dual translator, of the reverse map B -> A against the sender's vector); the
  // accuracy with the receiver's own vector injected instead (the oracle: the method's ceiling);
  // the mean shift of the gold label's log-probability against the bare frame, mapped and oracle.
  std::optional<double> alignment_cosine;
  std::optional<double> alignment_cosine_centered;  // both sides minus the receiver's mean training vector
  std::optional<double> alignment_cosine_reverse;
  std::optional<double> oracle_accuracy;
  std::optional<double> gold_logprob_shift;
  std::optional<double> oracle_gold_logprob_shift;

  // Per-message latency, one message at a time, same process and threads.
  int64_t latency_messages = 0;
  std::optional<double> bridge_latency_ms;  // encode + fp16 packet + decode + answer
  std::optional<double> relay_latency_ms;   // generate + answer the text

  std::string error;  // non-empty: the run failed; what failed
  std::string note;   // free text shown in the report's notes
};

nlohmann::json RunResultToJson(const RunResult& result);
// INVALID_ARGUMENT naming the key for a missing task/method or a mistyped value.
absl::StatusOr<RunResult> RunResultFromJson(const nlohmann::json& json);

// Writes through a temporary file renamed into place (creating the parent directory).
absl::Status WriteRunResult(const std::string& path, const RunResult& result);
// Reads every *.json in `dir` (sorted by name). Unreadable files are reported in `problems`
// (path: reason) and skipped. NOT_FOUND when `dir` does not exist.
absl::StatusOr<std::vector<RunResult>> ReadRunResults(const std::string& dir,
                                                      std::vector<std::string>* problems);
// Appends `later` to `results`; a later result with the same task, direction, method, M, variant and seed
// replaces the earlier one in place (a run completed or redone elsewhere supersedes it).
void MergeRunResults(std::vector<RunResult> later, std::vector<RunResult>* results);
// Extends the learning-rate grids of `results` by `extensions`: runs of the same recipe at rates a
// grid did not hold (e.g. one step below its bottom, to see whether the optimum lies beyond it). Each
// extension's trials join the trials of the result with its task, direction, method, M, variant, seed
// and training device, where that result chose its rate among a grid (has trials) lacking them; the
// result's chosen rate and scores stay as they are (a better extension shows in the report as a
// better rate on validation). An extension that extends nothing is described in `unmatched`. Returns
// how many trials were added.
int ExtendLearningRateGrids(const std::vector<RunResult>& extensions, std::vector<RunResult>* results,
                            std::vector<std::string>* unmatched);

}  // namespace lip

#endif  // LIP_BRIDGE_EVAL_RUN_RESULT_H_
