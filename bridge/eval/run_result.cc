#include "bridge/eval/run_result.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace lip {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

void PutOptional(json& j, const char* key, const std::optional<double>& value) {
  if (value.has_value()) j[key] = *value;
}

template <typename T>
absl::Status Get(const json& j, const char* key, T* out) {
  if (!j.contains(key) || j[key].is_null()) return absl::OkStatus();
  try {
    *out = j[key].get<T>();
  } catch (const json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("result key \"", key, "\": ", e.what()));
  }
  return absl::OkStatus();
}

absl::Status GetOptional(const json& j, const char* key, std::optional<double>* out) {
  if (!j.contains(key) || j[key].is_null()) return absl::OkStatus();
  if (!j[key].is_number()) return absl::InvalidArgumentError(absl::StrCat("result key \"", key, "\" is not a number"));
  *out = j[key].get<double>();
  return absl::OkStatus();
}

absl::Status GetLearningRateTrials(const json& j, std::vector<LearningRateTrial>* out) {
  if (!j.contains("learning_rate_trials") || j["learning_rate_trials"].is_null()) return absl::OkStatus();
  absl::StatusOr<std::vector<LearningRateTrial>> trials = LearningRateTrialsFromJson(j["learning_rate_trials"]);
  if (!trials.ok()) return absl::InvalidArgumentError(absl::StrCat("result key \"learning_rate_trials\": ",
                                                                   trials.status().message()));
  *out = *std::move(trials);
  return absl::OkStatus();
}

}  // namespace

json RunResultToJson(const RunResult& r) {
  json j = {{"format", "lip-run-result"},
            {"format_version", 1},
            {"task", r.task},
            {"method", r.method},
            {"direction", r.direction},
            {"sender", r.sender},
            {"receiver", r.receiver},
            {"num_soft_tokens", r.num_soft_tokens},
            {"width", r.width},
            {"variant", r.variant},
            {"seed", r.seed},
            {"device", r.device},
            {"train_device", r.train_device},
            {"threads", r.threads},
            {"steps", r.steps},
            {"batch_size", r.batch_size},
            {"train_examples", r.train_examples},
            {"train_seconds", r.train_seconds},
            {"test_file", r.test_file},
            {"test_examples", r.test_examples},
            {"latency_messages", r.latency_messages},
            {"error", r.error},
            {"note", r.note}};
  PutOptional(j, "validation_accuracy", r.validation_accuracy);
  PutOptional(j, "learning_rate", r.learning_rate);
  if (!r.learning_rate_trials.empty()) {
    j["learning_rate_trials"] = LearningRateTrialsToJson(r.learning_rate_trials);
    if (r.learning_rate) j["learning_rate_at_grid_edge"] = ChosenRateAtGridEdge(r.learning_rate_trials, *r.learning_rate);
  }
  PutOptional(j, "regularization", r.regularization);
  PutOptional(j, "accuracy", r.accuracy);
  PutOptional(j, "macro_f1", r.macro_f1);
  PutOptional(j, "calibrated_accuracy", r.calibrated_accuracy);
  PutOptional(j, "calibrated_macro_f1", r.calibrated_macro_f1);
  PutOptional(j, "accuracy_fp16", r.accuracy_fp16);
  PutOptional(j, "accuracy_int8", r.accuracy_int8);
  PutOptional(j, "fp16_packet_bytes", r.fp16_packet_bytes);
  PutOptional(j, "int8_packet_bytes", r.int8_packet_bytes);
  PutOptional(j, "compact_int8_bytes", r.compact_int8_bytes);
  PutOptional(j, "text_bytes", r.text_bytes);
  PutOptional(j, "relayed_text_bytes", r.relayed_text_bytes);
  PutOptional(j, "alignment_cosine", r.alignment_cosine);
  PutOptional(j, "alignment_cosine_centered", r.alignment_cosine_centered);
  PutOptional(j, "alignment_cosine_reverse", r.alignment_cosine_reverse);
  PutOptional(j, "oracle_accuracy", r.oracle_accuracy);
  PutOptional(j, "gold_logprob_shift", r.gold_logprob_shift);
  PutOptional(j, "oracle_gold_logprob_shift", r.oracle_gold_logprob_shift);
  PutOptional(j, "bridge_latency_ms", r.bridge_latency_ms);
  PutOptional(j, "relay_latency_ms", r.relay_latency_ms);
  return j;
}

absl::StatusOr<RunResult> RunResultFromJson(const json& j) {
  if (!j.is_object()) return absl::InvalidArgumentError("a run result is a JSON object");
  RunResult r;
  for (auto status : {Get(j, "task", &r.task), Get(j, "method", &r.method), Get(j, "direction", &r.direction),
                      Get(j, "sender", &r.sender), Get(j, "receiver", &r.receiver),
                      Get(j, "num_soft_tokens", &r.num_soft_tokens), Get(j, "width", &r.width), Get(j, "variant", &r.variant),
                      Get(j, "seed", &r.seed), Get(j, "device", &r.device), Get(j, "train_device", &r.train_device),
                      Get(j, "threads", &r.threads),
                      Get(j, "steps", &r.steps), Get(j, "batch_size", &r.batch_size),
                      Get(j, "train_examples", &r.train_examples), Get(j, "train_seconds", &r.train_seconds),
                      Get(j, "test_file", &r.test_file), Get(j, "test_examples", &r.test_examples),
                      Get(j, "latency_messages", &r.latency_messages), Get(j, "error", &r.error),
                      Get(j, "note", &r.note), GetOptional(j, "validation_accuracy", &r.validation_accuracy),
                      GetOptional(j, "accuracy", &r.accuracy), GetOptional(j, "macro_f1", &r.macro_f1),
                      GetOptional(j, "calibrated_accuracy", &r.calibrated_accuracy),
                      GetOptional(j, "calibrated_macro_f1", &r.calibrated_macro_f1),
                      GetOptional(j, "regularization", &r.regularization),
                      GetOptional(j, "accuracy_fp16", &r.accuracy_fp16),
                      GetOptional(j, "accuracy_int8", &r.accuracy_int8),
                      GetOptional(j, "fp16_packet_bytes", &r.fp16_packet_bytes),
                      GetOptional(j, "int8_packet_bytes", &r.int8_packet_bytes),
                      GetOptional(j, "compact_int8_bytes", &r.compact_int8_bytes),
                      GetOptional(j, "text_bytes", &r.text_bytes),
                      GetOptional(j, "relayed_text_bytes", &r.relayed_text_bytes),
                      GetOptional(j, "alignment_cosine", &r.alignment_cosine),
                      GetOptional(j, "alignment_cosine_centered", &r.alignment_cosine_centered),
                      GetOptional(j, "alignment_cosine_reverse", &r.alignment_cosine_reverse),
                      GetOptional(j, "oracle_accuracy", &r.oracle_accuracy),
                      GetOptional(j, "gold_logprob_shift", &r.gold_logprob_shift),
                      GetOptional(j, "oracle_gold_logprob_shift", &r.oracle_gold_logprob_shift),
                      GetOptional(j, "bridge_latency_ms", &r.bridge_latency_ms),
                      GetOptional(j, "relay_latency_ms", &r.relay_latency_ms),
                      GetOptional(j, "learning_rate", &r.learning_rate),
                      GetLearningRateTrials(j, &r.learning_rate_trials)}) {
    if (!status.ok()) return status;
  }
  if (r.task.empty()) return absl::InvalidArgumentError("run result has no \"task\"");
  if (r.method.empty()) return absl::InvalidArgumentError("run result has no \"method\"");
  if (r.direction.empty()) r.direction = "forward";
  return r;
}

absl::Status WriteRunResult(const std::string& path, const RunResult& result) {
  std::error_code error;
  const fs::path parent = fs::path(path).parent_path();
  if (!parent.empty()) fs::create_directories(parent, error);
  if (error) return absl::InternalError(absl::StrCat("cannot create ", parent.string(), ": ", error.message()));
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    if (!out) return absl::InternalError(absl::StrCat("cannot write ", tmp));
    out << RunResultToJson(result).dump(2) << "\n";
    if (!out.good()) return absl::InternalError(absl::StrCat("failed writing ", tmp));
  }
  fs::rename(tmp, path, error);
  if (error) return absl::InternalError(absl::StrCat("cannot rename ", tmp, ": ", error.message()));
  return absl::OkStatus();
}

absl::StatusOr<std::vector<RunResult>> ReadRunResults(const std::string& dir, std::vector<std::string>* problems) {
  std::error_code error;
  if (!fs::is_directory(dir, error)) return absl::NotFoundError(absl::StrCat(dir, " is not a directory"));
  std::vector<fs::path> paths;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir, error)) {
    if (entry.is_regular_file() && entry.path().extension() == ".json") paths.push_back(entry.path());
  }
  std::sort(paths.begin(), paths.end());
  std::vector<RunResult> results;
  for (const fs::path& path : paths) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    json j = json::parse(text.str(), nullptr, false);
    absl::StatusOr<RunResult> result =
        j.is_discarded() ? absl::InvalidArgumentError("not JSON") : RunResultFromJson(j);
    if (!result.ok()) {
      if (problems != nullptr) problems->push_back(absl::StrCat(path.filename().string(), ": ", result.status().message()));
      continue;
    }
    results.push_back(std::move(*result));
  }
  return results;
}

namespace {

bool SameRun(const RunResult& a, const RunResult& b) {
  return a.task == b.task && a.direction == b.direction && a.method == b.method &&
         a.num_soft_tokens == b.num_soft_tokens && a.variant == b.variant && a.seed == b.seed;
}

}  // namespace

void MergeRunResults(std::vector<RunResult> later, std::vector<RunResult>* results) {
  for (RunResult& r : later) {
    auto it = std::find_if(results->begin(), results->end(), [&](const RunResult& e) { return SameRun(e, r); });
    if (it != results->end()) {
      *it = std::move(r);
    } else {
      results->push_back(std::move(r));
    }
  }
}

int ExtendLearningRateGrids(const std::vector<RunResult>& extensions, std::vector<RunResult>* results,
                            std::vector<std::string>* problems) {
  // The same recipe includes where it trained: a GPU's bf16 frozen models score otherwise than the CPU's.
  auto trained_on = [](const RunResult& r) { return r.train_device.empty() ? r.device : r.train_device; };
  int added = 0;
  for (const RunResult& extension : extensions) {
    auto it = std::find_if(results->begin(), results->end(), [&](const RunResult& r) {
      return SameRun(r, extension) && trained_on(r) == trained_on(extension) && !r.learning_rate_trials.empty();
    });
    int added_here = 0;
    if (it != results->end()) {
      for (const LearningRateTrial& trial : extension.learning_rate_trials) {
        const bool held = std::any_of(it->learning_rate_trials.begin(), it->learning_rate_trials.end(),
                                      [&](const LearningRateTrial& t) { return t.learning_rate == trial.learning_rate; });
        if (held) continue;
        it->learning_rate_trials.push_back(trial);
        ++added_here;
      }
      std::sort(it->learning_rate_trials.begin(), it->learning_rate_trials.end(),
                [](const LearningRateTrial& a, const LearningRateTrial& b) { return a.learning_rate < b.learning_rate; });
    }
    if (added_here == 0 && problems != nullptr) {
      problems->push_back(absl::StrCat(extension.task, " / ", extension.direction, " / ", extension.method,
                                       " M=", extension.num_soft_tokens, " seed ", extension.seed, " (trained on ",
                                       trained_on(extension), "): no result of that recipe chose its rate "
                                       "among a grid lacking these rates"));
    }
    added += added_here;
  }
  return added;
}

}  // namespace lip
