#include "bridge/eval/suite_report.h"

#include <algorithm>
#include <map>
#include <set>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace lip {
namespace {

// The runs of one (task, direction).
struct TaskRuns {
  std::vector<const RunResult*> runs;

  std::vector<const RunResult*> Of(const std::string& method, int64_t m = -1) const {
    std::vector<const RunResult*> out;
    for (const RunResult* r : runs) {
      if (r->method == method && r->error.empty() && (m < 0 || r->num_soft_tokens == m)) out.push_back(r);
    }
    return out;
  }
  std::set<int64_t> Ms(const std::string& method) const {
    std::set<int64_t> out;
    for (const RunResult* r : runs) {
      if (r->method == method) out.insert(r->num_soft_tokens);
    }
    return out;
  }
};

MeasuredValue Collect(const std::vector<const RunResult*>& runs, std::optional<double> RunResult::*field) {
  MeasuredValue value;
  for (const RunResult* r : runs) {
    if ((r->*field).has_value()) value.runs.push_back(*(r->*field));
  }
  return value;
}

std::string Percent(const MeasuredValue& v) { return v.Format(100, 2); }

std::string Number(const MeasuredValue& v, int decimals) {
  if (v.runs.empty()) return "—";
  return absl::StrFormat("%.*f", decimals, v.mean());
}

// "sender → receiver" of the first run that names them.
std::string Direction(const std::string& direction, const TaskRuns& runs) {
  for (const RunResult* r : runs.runs) {
    if (!r->sender.empty() && !r->receiver.empty() && r->method != kMethodZeroShot) {
      return absl::StrCat(direction, ": ", r->sender, " → ", r->receiver);
    }
  }
  return direction;
}

std::string MethodName(const std::string& method) {
  if (method == kMethodZeroShot) return "receiver zero-shot";
  if (method == kMethodLinearProbe) return "sender linear probe";
  if (method == kMethodTextRelay) return "text relay";
  if (method == kMethodPromptTuning) return "prompt tuning";
  if (method == kMethodPerceiver) return "bridge (Perceiver)";
  if (method == kMethodSenderCeiling) return "sender ceiling";
  if (method == kMethodReceiverSelfBridge) return "receiver self-bridge";
  if (method == kMethodBottleneck) return "bottleneck adapter";
  if (method == kMethodDualTranslator) return "dual translator + blend";
  return method;
}

// A latency-table row of a run that measured both paths; `run` says which run it is.
std::vector<std::string> LatencyRow(const RunResult& r, const std::string& dir_name, const std::string& run) {
  return {r.task, dir_name, absl::StrCat(r.device, ", ", r.threads), std::to_string(r.latency_messages),
          absl::StrFormat("%.1f", *r.bridge_latency_ms), absl::StrFormat("%.1f", *r.relay_latency_ms),
          absl::StrFormat("%.1f×", *r.relay_latency_ms / std::max(1e-9, *r.bridge_latency_ms)), run};
}

std::string RunName(const RunResult& r) {
  return absl::StrCat(MethodName(r.method), " M=", r.num_soft_tokens, " seed ", r.seed);
}

// The peak learning rates of a configuration's runs, in seed order: "0.001" when all share one given
// rate; "0.01, 0.003, 0.01 of {0.001, 0.003, 0.01, 0.03} on validation" when each run chose its rate;
// "—" when the runs did not record it.
std::string LearningRates(const std::vector<const RunResult*>& runs) {
  std::vector<std::string> rates, candidates;
  bool searched = false;
  for (const RunResult* r : runs) {
    rates.push_back(r->learning_rate ? absl::StrFormat("%g", *r->learning_rate) : std::string("—"));
    if (!r->learning_rate_trials.empty()) {
      searched = true;
      if (candidates.empty()) {
        for (const LearningRateTrial& t : r->learning_rate_trials) candidates.push_back(absl::StrFormat("%g", t.learning_rate));
      }
    }
  }
  if (!searched) {
    const bool same = std::all_of(rates.begin(), rates.end(), [&](const std::string& x) { return x == rates.front(); });
    return same ? rates.front() : absl::StrJoin(rates, ", ");
  }
  int edges = 0, beaten = 0;
  for (const RunResult* r : runs) {
    if (!r->learning_rate) continue;
    edges += ChosenRateAtGridEdge(r->learning_rate_trials, *r->learning_rate);
    // A grid extended afterwards (ExtendLearningRateGrids) may hold a rate that did better.
    double chosen_validation = -1, best_validation = -1;
    for (const LearningRateTrial& t : r->learning_rate_trials) {
      if (t.learning_rate == *r->learning_rate) chosen_validation = t.validation_accuracy;
      best_validation = std::max(best_validation, t.validation_accuracy);
    }
    beaten += chosen_validation >= 0 && best_validation > chosen_validation;
  }
  std::string text = absl::StrCat(absl::StrJoin(rates, ", "), " of {", absl::StrJoin(candidates, ", "), "} on validation");
  if (edges > 0) absl::StrAppend(&text, " — **at a grid edge in ", edges, " of ", runs.size(), " runs**");
  if (beaten > 0) absl::StrAppend(&text, " — **another rate did better on validation in ", beaten, " of ", runs.size(), " runs**");
  return text;
}

// One row per (task, direction, method, M, variant) of the ablation runs, beside the same
// configuration without the patch (the main tables' runs in `by_key`).
ResultsTable AblationTable(const std::vector<const RunResult*>& ablation_runs,
                           const std::map<std::pair<std::string, std::string>, TaskRuns>& by_key,
                           std::vector<std::string>* notes) {
  ResultsTable table{"Ablations: one change to the task's config (a JSON merge patch), same seeds",
                     {"task", "direction", "method", "M", "change", "accuracy", "unchanged config", "Δ (pp)",
                      "seeds", "steps", "train s (mean)", "validation acc (%)"},
                     {}};
  std::map<std::tuple<std::string, std::string, std::string, int64_t, std::string>, std::vector<const RunResult*>>
      groups;
  for (const RunResult* r : ablation_runs) {
    if (!r->error.empty()) {
      notes->push_back(absl::StrCat(r->task, " / ", r->direction, " / ", MethodName(r->method), " ", r->variant,
                                    " seed ", r->seed, " FAILED: ", r->error));
      continue;
    }
    groups[{r->task, r->direction, r->method, r->num_soft_tokens, r->variant}].push_back(r);
  }
  for (const auto& [key, of] : groups) {
    const auto& [task, direction, method, m, variant] = key;
    MeasuredValue base;
    std::string dir_name = direction;
    if (auto it = by_key.find({task, direction}); it != by_key.end()) {
      base = Collect(it->second.Of(method, m), &RunResult::accuracy);
      dir_name = Direction(direction, it->second);
    }
    const MeasuredValue accuracy = Collect(of, &RunResult::accuracy);
    std::vector<std::string> seeds;
    MeasuredValue seconds;
    for (const RunResult* r : of) {
      seeds.push_back(std::to_string(r->seed));
      seconds.runs.push_back(r->train_seconds);
    }
    table.rows.push_back(
        {task, dir_name, MethodName(method), m > 0 ? std::to_string(m) : std::string("—"),
         absl::StrCat("`", variant, "`"), Percent(accuracy), Percent(base),
         accuracy.runs.empty() || base.runs.empty() ? std::string("—")
                                                    : absl::StrFormat("%+.2f", 100 * (accuracy.mean() - base.mean())),
         absl::StrJoin(seeds, ","), std::to_string(of.front()->steps), absl::StrFormat("%.0f", seconds.mean()),
         Percent(Collect(of, &RunResult::validation_accuracy))});
  }
  return table;
}

// One row per (task, direction, method, M, d_z, variant) of the runs that measured the LIP 1.1
// compact wire (RunResult::compact_int8_bytes): its bytes per message on a stream against the text
// it replaces, and its accuracy (int8 through the compact form) against fp32, of the same runs and
// of the unchanged M=8 bridge.
ResultsTable CompactWireTable(const std::vector<RunResult>& results,
                              const std::map<std::pair<std::string, std::string>, TaskRuns>& by_key) {
  ResultsTable table{"Compact wire (LIP 1.1, docs/protocol.md §12): bytes per message on a stream, int8",
                     {"task", "direction", "method", "M × d_z", "change", "seeds", "compact bytes / message",
                      "full int8 packet bytes", "UTF-8 text bytes", "≤ text", "acc fp32", "acc int8 (compact)",
                      "int8 − fp32 (pp)", "bridge M=8 fp32 (unchanged)", "int8 − M=8 fp32 (pp)"},
                     {}};
  std::map<std::tuple<std::string, std::string, std::string, int64_t, int64_t, std::string>,
           std::vector<const RunResult*>>
      groups;
  for (const RunResult& r : results) {
    if (r.error.empty() && r.compact_int8_bytes) {
      groups[{r.task, r.direction, r.method, r.num_soft_tokens, r.width, r.variant}].push_back(&r);
    }
  }
  auto pp = [](const MeasuredValue& a, const MeasuredValue& b) {
    return a.runs.empty() || b.runs.empty() ? std::string("—") : absl::StrFormat("%+.2f", 100 * (a.mean() - b.mean()));
  };
  for (const auto& [key, of] : groups) {
    const auto& [task, direction, method, m, width, variant] = key;
    MeasuredValue reference;
    std::string dir_name = direction;
    if (auto it = by_key.find({task, direction}); it != by_key.end()) {
      reference = Collect(it->second.Of(kMethodPerceiver, 8), &RunResult::accuracy);
      dir_name = Direction(direction, it->second);
    }
    std::vector<std::string> seeds;
    for (const RunResult* r : of) seeds.push_back(std::to_string(r->seed));
    const MeasuredValue bytes = Collect(of, &RunResult::compact_int8_bytes);
    const MeasuredValue text = Collect(of, &RunResult::text_bytes);
    const MeasuredValue fp32 = Collect(of, &RunResult::accuracy);
    const MeasuredValue int8 = Collect(of, &RunResult::accuracy_int8);
    table.rows.push_back(
        {task, dir_name, MethodName(method), absl::StrCat(m, " × ", width),
         variant.empty() ? std::string("—") : absl::StrCat("`", variant, "`"), absl::StrJoin(seeds, ","),
         Number(bytes, 0), Number(Collect(of, &RunResult::int8_packet_bytes), 0), Number(text, 0),
         bytes.runs.empty() || text.runs.empty() ? std::string("—") : (bytes.mean() <= text.mean() ? "yes" : "**no**"),
         Percent(fp32), Percent(int8), pp(int8, fp32), Percent(reference), pp(int8, reference)});
  }
  return table;
}

// One row per (task, direction, method) of the single-vector bridges that measured themselves as
// their papers do (RunResult::alignment_cosine): accuracy beside the oracle (the receiver's own
// vector injected), the held-out cosine alignment in both directions and the gold label's
// log-probability shift against the bare frame.
ResultsTable VectorBridgeTable(const std::vector<RunResult>& results,
                               const std::map<std::pair<std::string, std::string>, TaskRuns>& by_key) {
  ResultsTable table{"Single-vector bridges measured as their papers do (test texts; mean ± std over seeds)",
                     {"task", "direction", "method", "seeds", "accuracy (%)", "oracle: receiver's own vector (%)",
                      "cosine A→B (held out)", "centered cosine A→B", "cosine B→A (held out)",
                      "gold log-prob shift (nats)",
                      "oracle shift (nats)"},
                     {}};
  std::map<std::tuple<std::string, std::string, std::string>, std::vector<const RunResult*>> groups;
  for (const RunResult& r : results) {
    if (r.error.empty() && r.alignment_cosine) groups[{r.task, r.direction, r.method}].push_back(&r);
  }
  for (const auto& [key, of] : groups) {
    const auto& [task, direction, method] = key;
    std::string dir_name = direction;
    if (auto it = by_key.find({task, direction}); it != by_key.end()) dir_name = Direction(direction, it->second);
    std::vector<std::string> seeds;
    for (const RunResult* r : of) seeds.push_back(std::to_string(r->seed));
    table.rows.push_back({task, dir_name, MethodName(method), absl::StrJoin(seeds, ","),
                          Percent(Collect(of, &RunResult::accuracy)), Percent(Collect(of, &RunResult::oracle_accuracy)),
                          Collect(of, &RunResult::alignment_cosine).Format(1, 3),
                          Collect(of, &RunResult::alignment_cosine_centered).Format(1, 3),
                          Collect(of, &RunResult::alignment_cosine_reverse).Format(1, 3),
                          Collect(of, &RunResult::gold_logprob_shift).Format(1, 3),
                          Collect(of, &RunResult::oracle_gold_logprob_shift).Format(1, 3)});
  }
  return table;
}

// How each column of the references table is measured (the report states it with the numbers).
const char* const kReferenceDefinitions[] = {
    "**How the references are defined.** *Sender ceiling*: the bridge's sender half (statistical normalizer and the "
    "same Perceiver on the same source layer of the same frozen sender) plus a linear head over the mean of its M "
    "outputs, trained on the labels directly with the bridge's data, sampler, steps, schedule, seed, learning-rate "
    "choice and early stopping — what the sender side can carry with no receiver in the way.",
    "*Receiver self-bridge*: the same bridge (Perceiver, adapter, frame, training) with the receiver as its own "
    "source, reading the receiver's states of the text — a bridge above it gets something from the sender beyond "
    "the Perceiver's capacity; one at or below it does not show that.",
    "*Sender linear probe*: logistic regression on the mean-pooled source-layer states of the sender over the "
    "whole train split (or the sample the run names), its L2 penalty chosen on a stratified validation set carved "
    "from train, with early stopping on that set. *Prompt tuning*: M soft tokens learned in front of the text in the "
    "receiver's own frame (receiver only). *Text relay*: the sender writes a message, the receiver classifies it. "
    "*Zero-shot raw*: the receiver reads the text, argmax of log p(label | frame with the text); *calibrated*: "
    "argmax of log p(label | frame with the input) − log p(label | the bare frame without it), which removes the "
    "receiver's label prior (a constant predictor's raw accuracy is the majority share). The bridge is reported "
    "both ways too. Validation sets are carved from train, never from test.",
};

// One row per (task, direction, M) with a bridge, ceiling or self-bridge run: every reference of the
// same task beside the bridge's raw and calibrated accuracy, and the target bridge >=
// sender ceiling - 2 pp.
void AddReferenceRows(const std::string& task, const std::string& dir_name, const TaskRuns& runs,
                      int64_t test_examples, ResultsTable* table) {
  std::set<int64_t> ms;
  for (const char* method : {kMethodPerceiver, kMethodSenderCeiling, kMethodReceiverSelfBridge}) {
    for (int64_t m : runs.Ms(method)) ms.insert(m);
  }
  const MeasuredValue zero_raw = Collect(runs.Of(kMethodZeroShot), &RunResult::accuracy);
  const MeasuredValue zero_calibrated = Collect(runs.Of(kMethodZeroShot), &RunResult::calibrated_accuracy);
  const MeasuredValue probe = Collect(runs.Of(kMethodLinearProbe), &RunResult::accuracy);
  const MeasuredValue relay = Collect(runs.Of(kMethodTextRelay), &RunResult::accuracy);
  auto pp = [](const MeasuredValue& a, const MeasuredValue& b) {
    return a.runs.empty() || b.runs.empty() ? std::string("—") : absl::StrFormat("%+.2f", 100 * (a.mean() - b.mean()));
  };
  for (int64_t m : ms) {
    const MeasuredValue ceiling = Collect(runs.Of(kMethodSenderCeiling, m), &RunResult::accuracy);
    const MeasuredValue self = Collect(runs.Of(kMethodReceiverSelfBridge, m), &RunResult::accuracy);
    const MeasuredValue prompt = Collect(runs.Of(kMethodPromptTuning, m), &RunResult::accuracy);
    const MeasuredValue bridge = Collect(runs.Of(kMethodPerceiver, m), &RunResult::accuracy);
    const MeasuredValue bridge_calibrated = Collect(runs.Of(kMethodPerceiver, m), &RunResult::calibrated_accuracy);
    const MeasuredValue bridge_f1 = Collect(runs.Of(kMethodPerceiver, m), &RunResult::macro_f1);
    std::string target = "—";
    if (!bridge.runs.empty() && !ceiling.runs.empty()) {
      target = bridge.mean() >= ceiling.mean() - 0.02 ? "yes" : "**no**";
    }
    table->rows.push_back({task, dir_name, std::to_string(m), std::to_string(test_examples), Percent(zero_raw),
                           Percent(zero_calibrated), Percent(relay), Percent(probe), Percent(prompt), Percent(self),
                           Percent(ceiling), Percent(bridge), Percent(bridge_calibrated),
                           bridge_f1.runs.empty() ? std::string("—") : absl::StrFormat("%.3f", bridge_f1.mean()),
                           pp(bridge, ceiling), target, pp(bridge, self)});
  }
}

}  // namespace

ResultsReport BuildSuiteReport(const std::vector<RunResult>& results, const SuiteReportOptions& options) {
  ResultsReport report;
  report.title = "LIP results";
  report.preamble = options.preamble;
  for (const char* paragraph : kReferenceDefinitions) report.preamble.push_back(paragraph);

  // (task, direction) -> runs; "forward" before "reverse".
  std::map<std::pair<std::string, std::string>, TaskRuns> by_key;
  std::set<int64_t> bridge_ms, prompt_ms;
  std::set<std::pair<std::string, std::string>> methods_run;  // (direction, method) with any run
  std::vector<const RunResult*> ablation_runs;  // runs with a config patch: only the ablation table
  for (const RunResult& r : results) {
    if (!r.variant.empty()) {
      ablation_runs.push_back(&r);
      continue;
    }
    methods_run.insert({r.direction, r.method});
    by_key[{r.task, r.direction}].runs.push_back(&r);
    if (r.method == kMethodPerceiver) bridge_ms.insert(r.num_soft_tokens);
    if (r.method == kMethodPromptTuning) prompt_ms.insert(r.num_soft_tokens);
  }

  ResultsTable accuracy{"Accuracy on the held-out test splits (%, mean ± std over seeds)", {}, {}};
  accuracy.header = {"task", "direction", "test examples", "receiver zero-shot (text)", "sender linear probe",
                     "text relay"};
  for (int64_t m : prompt_ms) accuracy.header.push_back(absl::StrCat("prompt tuning M=", m));
  for (int64_t m : bridge_ms) accuracy.header.push_back(absl::StrCat("bridge M=", m));
  accuracy.header.push_back("bottleneck adapter");
  accuracy.header.push_back("dual translator + blend");

  ResultsTable targets{"Targets: bridge ≥ 98% of the sender probe, and within 1 pp of prompt tuning (same M)",
                       {"task", "direction", "bridge M", "bridge", "probe", "bridge / probe", "≥ 0.98",
                        "prompt tuning", "bridge − prompt tuning (pp)", "within 1 pp"},
                       {}};
  ResultsTable wire{"Wire dtype (soft tokens through the real packet codec) and bytes per message",
                    {"task", "direction", "method", "M × d_z", "acc fp32", "acc fp16", "acc int8", "fp16 packet bytes",
                     "int8 packet bytes", "UTF-8 text bytes", "relayed text bytes (text relay)"},
                    {}};
  ResultsTable latency{"Per-message latency, one message at a time, bridge and relay measured in the same run",
                       {"task", "direction", "device, threads", "messages", "bridge path ms (encode + fp16 packet + answer)",
                        "text relay ms (generate + answer)", "relay / bridge", "run"},
                       {}};
  ResultsTable training{"Training runs", {"task", "direction", "method", "M", "seeds", "steps", "batch",
                                          "train examples", "train s (mean)", "device", "learning rate",
                                          "validation acc (%)"},
                        {}};
  ResultsTable references{
      "References with the bridge's capacity, and calibrated scores (%, mean ± std over seeds; target: bridge ≥ "
      "sender ceiling − 2 pp)",
      {"task", "direction", "M", "test examples", "zero-shot raw", "zero-shot calibrated", "text relay",
       "sender probe (tuned L2)", "prompt tuning", "receiver self-bridge", "sender ceiling", "bridge raw",
       "bridge calibrated", "bridge macro-F1", "bridge − ceiling (pp)", "≥ ceiling − 2 pp", "bridge − self-bridge (pp)"},
      {}};
  std::vector<std::string> notes;

  for (const auto& [key, runs] : by_key) {
    const auto& [task, direction] = key;
    const std::string dir_name = Direction(direction, runs);
    // Test examples: the largest count among the accuracy runs (text relay may use fewer).
    int64_t test_examples = 0;
    for (const RunResult* r : runs.runs) {
      if (r->method != kMethodTextRelay) test_examples = std::max(test_examples, r->test_examples);
    }
    std::vector<std::string> row = {task, dir_name, std::to_string(test_examples)};
    auto cell = [&, &runs = runs, &task = task, &direction = direction](const std::string& method, int64_t m = -1) {
      std::vector<const RunResult*> of = runs.Of(method, m);
      std::string text = Percent(Collect(of, &RunResult::accuracy));
      if (!of.empty() && of.front()->test_examples != test_examples && of.front()->test_examples > 0) {
        absl::StrAppend(&text, " (", of.front()->test_examples, " ex.)");
      }
      if (of.empty() && methods_run.count({direction, method}) > 0) {
        notes.push_back(absl::StrCat(task, " / ", direction, ": no successful ", MethodName(method),
                                     m >= 0 ? absl::StrCat(" M=", m) : std::string(), " run"));
      }
      return text;
    };
    row.push_back(cell(kMethodZeroShot));
    row.push_back(cell(kMethodLinearProbe));
    row.push_back(cell(kMethodTextRelay));
    for (int64_t m : prompt_ms) row.push_back(cell(kMethodPromptTuning, m));
    for (int64_t m : bridge_ms) row.push_back(cell(kMethodPerceiver, m));
    row.push_back(cell(kMethodBottleneck));
    row.push_back(cell(kMethodDualTranslator));
    accuracy.rows.push_back(row);
    AddReferenceRows(task, dir_name, runs, test_examples, &references);

    const MeasuredValue probe = Collect(runs.Of(kMethodLinearProbe), &RunResult::accuracy);
    for (int64_t m : bridge_ms) {
      const MeasuredValue bridge = Collect(runs.Of(kMethodPerceiver, m), &RunResult::accuracy);
      const MeasuredValue prompt = Collect(runs.Of(kMethodPromptTuning, m), &RunResult::accuracy);
      std::vector<std::string> t = {task, dir_name, std::to_string(m), Percent(bridge), Percent(probe)};
      if (!bridge.runs.empty() && !probe.runs.empty()) {
        const double ratio = bridge.mean() / std::max(1e-9, probe.mean());
        t.push_back(absl::StrFormat("%.3f", ratio));
        t.push_back(ratio >= 0.98 ? "yes" : "**no**");
      } else {
        t.insert(t.end(), {"—", "—"});
      }
      t.push_back(Percent(prompt));
      if (!bridge.runs.empty() && !prompt.runs.empty()) {
        const double gap = 100 * (bridge.mean() - prompt.mean());
        t.push_back(absl::StrFormat("%+.2f", gap));
        t.push_back(gap >= -1.0 ? "yes" : "**no**");
      } else {
        t.insert(t.end(), {"—", "—"});
      }
      targets.rows.push_back(t);
    }

    // Wire: every method with soft tokens through the codec.
    std::set<std::pair<std::string, int64_t>> wired;
    for (const RunResult* r : runs.runs) {
      if (r->error.empty() && (r->accuracy_fp16 || r->accuracy_int8)) wired.insert({r->method, r->num_soft_tokens});
    }
    const MeasuredValue relay_bytes = Collect(runs.Of(kMethodTextRelay), &RunResult::relayed_text_bytes);
    for (const auto& [method, m] : wired) {
      std::vector<const RunResult*> of = runs.Of(method, m);
      MeasuredValue text_bytes = Collect(of, &RunResult::text_bytes);
      wire.rows.push_back({task, dir_name, MethodName(method), absl::StrCat(m, " × ", of.front()->width),
                           Percent(Collect(of, &RunResult::accuracy)), Percent(Collect(of, &RunResult::accuracy_fp16)),
                           Percent(Collect(of, &RunResult::accuracy_int8)),
                           Number(Collect(of, &RunResult::fp16_packet_bytes), 0),
                           Number(Collect(of, &RunResult::int8_packet_bytes), 0), Number(text_bytes, 0),
                           Number(relay_bytes, 0)});
    }

    for (const RunResult* r : runs.runs) {
      if (r->error.empty() && r->bridge_latency_ms && r->relay_latency_ms) {
        latency.rows.push_back(LatencyRow(*r, dir_name, absl::StrCat("suite, ", RunName(*r))));
      }
    }

    // Training cost per trained configuration.
    std::map<std::pair<std::string, int64_t>, std::vector<const RunResult*>> trained;
    for (const RunResult* r : runs.runs) {
      if (r->error.empty() && r->steps > 0) trained[{r->method, r->num_soft_tokens}].push_back(r);
    }
    for (const auto& [config, of] : trained) {
      std::vector<std::string> seeds;
      MeasuredValue seconds;
      for (const RunResult* r : of) {
        seeds.push_back(std::to_string(r->seed));
        seconds.runs.push_back(r->train_seconds);
      }
      training.rows.push_back({task, dir_name, MethodName(config.first),
                               config.second > 0 ? std::to_string(config.second) : std::string("—"),
                               absl::StrJoin(seeds, ","), std::to_string(of.front()->steps),
                               std::to_string(of.front()->batch_size), std::to_string(of.front()->train_examples),
                               absl::StrFormat("%.0f", seconds.mean()),
                               of.front()->train_device.empty() ? of.front()->device : of.front()->train_device,
                               LearningRates(of), Percent(Collect(of, &RunResult::validation_accuracy))});
    }

    for (const RunResult* r : runs.runs) {
      const std::string what = absl::StrCat(task, " / ", direction, " / ", MethodName(r->method),
                                            r->num_soft_tokens > 0 ? absl::StrCat(" M=", r->num_soft_tokens) : "",
                                            r->seed > 0 ? absl::StrCat(" seed ", r->seed) : "");
      if (!r->error.empty()) notes.push_back(absl::StrCat(what, " FAILED: ", r->error));
      if (!r->note.empty()) notes.push_back(absl::StrCat(what, ": ", r->note));
    }
  }
  for (const RunResult& r : options.latency_only) {
    if (!r.error.empty() || !r.bridge_latency_ms || !r.relay_latency_ms) {
      notes.push_back(absl::StrCat("latency-only run ", r.task, " / ", r.direction, " on ", r.device,
                                   r.error.empty() ? ": no latency measured" : absl::StrCat(" FAILED: ", r.error)));
      continue;
    }
    latency.rows.push_back(LatencyRow(
        r, Direction(r.direction, TaskRuns{{&r}}),
        absl::StrCat("re-measured: ", RunName(r), "; accuracy ",
                     r.accuracy ? absl::StrFormat("%.2f", 100 * *r.accuracy) : std::string("—"), " % on ",
                     r.test_examples, " test ex.")));
  }
  ResultsTable ablations = AblationTable(ablation_runs, by_key, &notes);
  report.tables = {accuracy, targets, wire, latency, training};
  if (!references.rows.empty()) report.tables.insert(report.tables.begin() + 1, references);
  if (!ablation_runs.empty()) report.tables.push_back(ablations);
  ResultsTable compact = CompactWireTable(results, by_key);
  if (!compact.rows.empty()) report.tables.push_back(compact);
  ResultsTable vector_bridges = VectorBridgeTable(results, by_key);
  if (!vector_bridges.rows.empty()) report.tables.push_back(vector_bridges);
  for (const std::string direction : {"forward", "reverse"}) {
    std::vector<std::string> absent;
    for (const char* method : {kMethodPromptTuning, kMethodPerceiver, kMethodBottleneck, kMethodDualTranslator}) {
      if (methods_run.count({direction, method}) == 0) absent.push_back(MethodName(method));
    }
    bool any = false;
    for (const auto& [direction_run, method] : methods_run) any |= direction_run == direction;
    if (any && !absent.empty()) {
      notes.push_back(absl::StrCat(direction, " direction: not in this suite: ", absl::StrJoin(absent, ", ")));
    }
  }
  for (const std::string& problem : options.problems) notes.push_back(absl::StrCat("unreadable result ", problem));
  // The same missing cell may be noted once per table lookup; keep each note once, in order.
  std::set<std::string> seen;
  for (const std::string& note : notes) {
    if (seen.insert(note).second) report.notes.push_back(note);
  }
  return report;
}

}  // namespace lip
