// The evaluation suite's run results (JSON round trip, reading a directory) and their
// aggregation into the report of docs/results.md (mean ± std over seeds, targets, missing and
// failed runs).
#include <filesystem>
#include <map>
#include <fstream>

#include "bridge/eval/results_writer.h"
#include "bridge/eval/run_result.h"
#include "bridge/eval/suite_report.h"
#include "gtest/gtest.h"

namespace lip {
namespace {

RunResult MakeResult(const std::string& method, int64_t m, uint64_t seed, double accuracy) {
  RunResult r;
  r.task = "sst2";
  r.method = method;
  r.direction = "forward";
  r.sender = "s";
  r.receiver = "r";
  r.num_soft_tokens = m;
  r.seed = seed;
  r.test_examples = 100;
  r.accuracy = accuracy;
  return r;
}

const ResultsTable* Table(const ResultsReport& report, const std::string& prefix) {
  for (const ResultsTable& t : report.tables) {
    if (t.title.rfind(prefix, 0) == 0) return &t;
  }
  return nullptr;
}

std::string Cell(const ResultsTable& table, size_t row, const std::string& column) {
  for (size_t c = 0; c < table.header.size(); ++c) {
    if (table.header[c] == column) return table.rows.at(row).at(c);
  }
  return "<no column " + column + ">";
}

TEST(RunResultTest, JsonRoundTripKeepsMeasuredAndAbsentValuesApart) {
  RunResult r = MakeResult(kMethodPerceiver, 8, 2, 0.75);
  r.accuracy_int8 = 0.5;
  r.train_seconds = 12.5;
  r.device = "cpu";          // measured here ...
  r.train_device = "cuda";   // ... trained there
  r.learning_rate = 0.003;
  r.learning_rate_trials = {{0.001, 0.5, 1.25}, {0.003, 0.75, 0.5}};
  auto back = RunResultFromJson(RunResultToJson(r));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->method, kMethodPerceiver);
  EXPECT_EQ(back->num_soft_tokens, 8);
  EXPECT_EQ(back->seed, 2u);
  EXPECT_DOUBLE_EQ(*back->accuracy, 0.75);
  EXPECT_DOUBLE_EQ(*back->accuracy_int8, 0.5);
  EXPECT_FALSE(back->accuracy_fp16.has_value());
  EXPECT_DOUBLE_EQ(back->train_seconds, 12.5);
  EXPECT_EQ(back->device, "cpu");
  EXPECT_EQ(back->train_device, "cuda");
  EXPECT_DOUBLE_EQ(*back->learning_rate, 0.003);
  ASSERT_EQ(back->learning_rate_trials.size(), 2u);
  EXPECT_DOUBLE_EQ(back->learning_rate_trials[1].validation_accuracy, 0.75);
  EXPECT_DOUBLE_EQ(back->learning_rate_trials[0].final_train_loss, 1.25);
  nlohmann::json bad = RunResultToJson(r);
  bad["learning_rate_trials"] = {{{"learning_rate", "fast"}}};
  EXPECT_FALSE(RunResultFromJson(bad).ok());
  EXPECT_FALSE(RunResultFromJson(nlohmann::json{{"method", "perceiver"}}).ok());  // no task
  EXPECT_FALSE(RunResultFromJson(nlohmann::json{{"task", "x"}, {"method", "y"}, {"accuracy", "high"}}).ok());
}

TEST(RunResultTest, MergeReplacesTheSameRunAndAppendsNewOnes) {
  std::vector<RunResult> results = {MakeResult(kMethodPerceiver, 8, 1, 0.70), MakeResult(kMethodPerceiver, 8, 2, 0.72)};
  RunResult redone = MakeResult(kMethodPerceiver, 8, 2, 0.75);
  redone.device = "cpu";
  MergeRunResults({redone, MakeResult(kMethodPerceiver, 8, 3, 0.74), MakeResult(kMethodPerceiver, 4, 2, 0.60)},
                  &results);
  ASSERT_EQ(results.size(), 4u);
  EXPECT_DOUBLE_EQ(*results[1].accuracy, 0.75);  // seed 2 at M=8 replaced in place
  EXPECT_EQ(results[1].device, "cpu");
  EXPECT_EQ(results[2].seed, 3u);
  EXPECT_EQ(results[3].num_soft_tokens, 4);  // same seed, other M: a different run
}

TEST(RunResultTest, ReadsADirectoryAndReportsUnreadableFiles) {
  const std::string dir = ::testing::TempDir() + "/lip_run_results";
  std::filesystem::remove_all(dir);
  ASSERT_TRUE(WriteRunResult(dir + "/a.json", MakeResult(kMethodZeroShot, 0, 0, 0.5)).ok());
  ASSERT_TRUE(WriteRunResult(dir + "/b.json", MakeResult(kMethodPerceiver, 8, 1, 0.7)).ok());
  std::ofstream(dir + "/c.json") << "{not json";
  std::vector<std::string> problems;
  auto results = ReadRunResults(dir, &problems);
  ASSERT_TRUE(results.ok()) << results.status();
  ASSERT_EQ(results->size(), 2u);
  EXPECT_EQ((*results)[0].method, kMethodZeroShot);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("c.json"), std::string::npos);
  EXPECT_EQ(ReadRunResults(dir + "/missing", nullptr).status().code(), absl::StatusCode::kNotFound);
}

TEST(SuiteReportTest, AggregatesSeedsChecksTargetsAndNotesFailures) {
  std::vector<RunResult> results = {MakeResult(kMethodZeroShot, 0, 0, 0.5),       MakeResult(kMethodLinearProbe, 0, 1, 0.80),
                                    MakeResult(kMethodPerceiver, 8, 1, 0.78),     MakeResult(kMethodPerceiver, 8, 2, 0.80),
                                    MakeResult(kMethodPromptTuning, 8, 1, 0.82),  MakeResult(kMethodPerceiver, 4, 1, 0.70)};
  RunResult failed = MakeResult(kMethodPerceiver, 8, 3, 0);
  failed.accuracy.reset();
  failed.error = "exit 1: out of memory";
  results.push_back(failed);
  const ResultsReport report = BuildSuiteReport(results, {});

  const ResultsTable* accuracy = Table(report, "Accuracy");
  ASSERT_NE(accuracy, nullptr);
  ASSERT_EQ(accuracy->rows.size(), 1u);
  EXPECT_EQ(Cell(*accuracy, 0, "bridge M=8"), "79.00 ± 1.00 (2 runs)");  // the failed seed is not averaged
  EXPECT_EQ(Cell(*accuracy, 0, "bridge M=4"), "70.00");
  EXPECT_EQ(Cell(*accuracy, 0, "text relay"), "—");
  EXPECT_EQ(Cell(*accuracy, 0, "prompt tuning M=8"), "82.00");

  const ResultsTable* targets = Table(report, "Targets");
  ASSERT_NE(targets, nullptr);
  ASSERT_EQ(targets->rows.size(), 2u);  // M=4 and M=8
  const size_t m8 = Cell(*targets, 0, "bridge M") == "8" ? 0 : 1;
  EXPECT_EQ(Cell(*targets, m8, "bridge / probe"), "0.988");
  EXPECT_EQ(Cell(*targets, m8, "≥ 0.98"), "yes");
  EXPECT_EQ(Cell(*targets, m8, "bridge − prompt tuning (pp)"), "-3.00");
  EXPECT_EQ(Cell(*targets, m8, "within 1 pp"), "**no**");
  EXPECT_EQ(Cell(*targets, 1 - m8, "prompt tuning"), "—");

  bool failure_noted = false, relay_noted = false;
  for (const std::string& note : report.notes) {
    failure_noted |= note.find("seed 3 FAILED: exit 1: out of memory") != std::string::npos;
    relay_noted |= note.find("no successful text relay") != std::string::npos;
  }
  EXPECT_TRUE(failure_noted);
  EXPECT_FALSE(relay_noted);  // text relay never ran in this suite: not a per-cell note
  EXPECT_NE(RenderResultsMarkdown(report).find("| sst2 |"), std::string::npos);
}

TEST(SuiteReportTest, LatencyOnlyRunsAddLatencyRowsWithoutChangingAccuracies) {
  RunResult suite_run = MakeResult(kMethodPerceiver, 8, 1, 0.80);
  suite_run.device = "cuda";
  suite_run.bridge_latency_ms = 50.0;
  suite_run.relay_latency_ms = 250.0;
  suite_run.latency_messages = 20;
  RunResult cpu_run = MakeResult(kMethodPerceiver, 8, 1, 0.60);  // same seed, another device, a subset
  cpu_run.device = "cpu";
  cpu_run.threads = 2;
  cpu_run.test_examples = 40;
  cpu_run.bridge_latency_ms = 100.0;
  cpu_run.relay_latency_ms = 1500.0;
  cpu_run.latency_messages = 20;
  RunResult no_latency = MakeResult(kMethodPerceiver, 8, 1, 0.70);
  SuiteReportOptions options;
  options.latency_only = {cpu_run, no_latency};
  const ResultsReport report = BuildSuiteReport({suite_run}, options);

  const ResultsTable* accuracy = Table(report, "Accuracy");
  ASSERT_NE(accuracy, nullptr);
  EXPECT_EQ(Cell(*accuracy, 0, "bridge M=8"), "80.00");  // the re-measurement is not averaged in
  const ResultsTable* latency = Table(report, "Per-message latency");
  ASSERT_NE(latency, nullptr);
  ASSERT_EQ(latency->rows.size(), 2u);
  EXPECT_EQ(Cell(*latency, 0, "device, threads"), "cuda, 0");
  EXPECT_EQ(Cell(*latency, 0, "relay / bridge"), "5.0×");
  EXPECT_EQ(Cell(*latency, 1, "device, threads"), "cpu, 2");
  EXPECT_EQ(Cell(*latency, 1, "relay / bridge"), "15.0×");
  EXPECT_NE(Cell(*latency, 1, "run").find("accuracy 60.00 % on 40 test ex."), std::string::npos);
  bool noted = false;
  for (const std::string& note : report.notes) noted |= note.find("latency-only run sst2 / forward on") != std::string::npos;
  EXPECT_TRUE(noted);  // the run without a latency measurement is named, not dropped silently
}

TEST(SuiteReportTest, TrainingTableShowsGivenAndChosenLearningRates) {
  std::vector<RunResult> results;
  for (uint64_t seed : {1, 2}) {
    RunResult fixed = MakeResult(kMethodPerceiver, 8, seed, 0.8);
    fixed.steps = 10;
    fixed.learning_rate = 0.001;
    results.push_back(fixed);
    RunResult chosen = MakeResult(kMethodPromptTuning, 8, seed, 0.7);
    chosen.steps = 10;
    chosen.learning_rate = seed == 1 ? 0.01 : 0.003;  // each seed's best on validation
    chosen.learning_rate_trials = {{0.001, 0.5, 1.0}, {0.003, seed == 1 ? 0.6 : 0.75, 0.9}, {0.01, 0.7, 0.8}};
    results.push_back(chosen);
  }
  RunResult unrecorded = MakeResult(kMethodPerceiver, 4, 1, 0.8);
  unrecorded.steps = 10;
  results.push_back(unrecorded);
  const ResultsReport report = BuildSuiteReport(results, {});
  const ResultsTable* training = Table(report, "Training runs");
  ASSERT_NE(training, nullptr);
  std::map<std::string, std::string> rate_of;
  for (size_t row = 0; row < training->rows.size(); ++row) {
    rate_of[Cell(*training, row, "method") + " M=" + Cell(*training, row, "M")] = Cell(*training, row, "learning rate");
  }
  EXPECT_EQ(rate_of["bridge (Perceiver) M=8"], "0.001");
  // Seed 1 chose the top of its grid: the report flags it.
  EXPECT_EQ(rate_of["prompt tuning M=8"],
            "0.01, 0.003 of {0.001, 0.003, 0.01} on validation — **at a grid edge in 1 of 2 runs**");
  EXPECT_EQ(rate_of["bridge (Perceiver) M=4"], "—");
}

// A grid whose chosen rate sat at its bottom, extended afterwards one step lower: the edge flag goes
// when the new rate did worse, and a new rate that did better is flagged instead; the chosen rate and
// the accuracy stay the original run's.
TEST(SuiteReportTest, GridExtensionsMoveTheEdgeAndShowABetterRate) {
  RunResult bottom = MakeResult(kMethodSenderCeiling, 8, 1, 0.8);
  bottom.steps = 10;
  bottom.learning_rate = 0.0003;
  bottom.learning_rate_trials = {{0.0003, 0.83, 0.4}, {0.001, 0.80, 0.3}, {0.003, 0.72, 0.2}};
  RunResult other_seed = MakeResult(kMethodSenderCeiling, 8, 2, 0.7);
  other_seed.steps = 10;
  other_seed.learning_rate = 0.0003;  // trained at seed 1's rate: no grid of its own
  RunResult lower = MakeResult(kMethodSenderCeiling, 8, 1, 0.75);
  lower.learning_rate = 0.0001;
  lower.learning_rate_trials = {{0.0001, 0.75, 0.5}};
  RunResult unmatched = lower;
  unmatched.seed = 2;

  auto rate_cell = [](const std::vector<RunResult>& results) {
    const ResultsReport report = BuildSuiteReport(results, {});
    const ResultsTable* training = Table(report, "Training runs");
    return training == nullptr ? std::string("<no table>") : Cell(*training, 0, "learning rate");
  };
  std::vector<RunResult> results = {bottom, other_seed};
  EXPECT_EQ(rate_cell(results),
            "0.0003, 0.0003 of {0.0003, 0.001, 0.003} on validation — **at a grid edge in 1 of 2 runs**");

  RunResult elsewhere = lower;  // the same rate trained on another device: another recipe
  elsewhere.train_device = "cuda";
  std::vector<std::string> problems;
  EXPECT_EQ(ExtendLearningRateGrids({elsewhere, lower, unmatched}, &results, &problems), 1);
  ASSERT_EQ(problems.size(), 2u);  // the GPU's run and seed 2 (no grid) extend nothing
  EXPECT_NE(problems[0].find("trained on cuda"), std::string::npos) << problems[0];
  EXPECT_NE(problems[1].find("seed 2"), std::string::npos) << problems[1];
  EXPECT_EQ(results[0].learning_rate_trials.front().learning_rate, 0.0001);  // sorted by rate
  EXPECT_EQ(*results[0].learning_rate, 0.0003);
  EXPECT_EQ(*results[0].accuracy, 0.8);
  EXPECT_EQ(rate_cell(results), "0.0003, 0.0003 of {0.0001, 0.0003, 0.001, 0.003} on validation");
  // Extending twice adds nothing: the rate is in the grid now.
  EXPECT_EQ(ExtendLearningRateGrids({lower}, &results, nullptr), 0);

  std::vector<RunResult> beaten = {bottom, other_seed};
  RunResult better = lower;
  better.learning_rate_trials = {{0.0001, 0.9, 0.5}};
  ExtendLearningRateGrids({better}, &beaten, nullptr);
  EXPECT_EQ(rate_cell(beaten), "0.0003, 0.0003 of {0.0001, 0.0003, 0.001, 0.003} on validation — "
                               "**another rate did better on validation in 1 of 2 runs**");
}

TEST(SuiteReportTest, AblationRunsGetTheirOwnTableBesideTheUnchangedConfig) {
  std::vector<RunResult> results = {MakeResult(kMethodPerceiver, 8, 1, 0.80), MakeResult(kMethodPerceiver, 8, 2, 0.82)};
  for (uint64_t seed : {1, 2}) {
    RunResult patched = MakeResult(kMethodPerceiver, 8, seed, seed == 1 ? 0.70 : 0.74);
    patched.variant = "{\"source_layer\":5}";
    results.push_back(patched);
  }
  // A later result of the same variant and seed replaces the earlier one; another variant does not.
  RunResult redone = results.back();
  redone.accuracy = 0.76;
  RunResult other = results.back();
  other.variant = "{\"energy_mode\":\"rms\"}";
  MergeRunResults({redone, other}, &results);
  ASSERT_EQ(results.size(), 5u);

  const ResultsReport report = BuildSuiteReport(results, {});
  const ResultsTable* accuracy = Table(report, "Accuracy");
  ASSERT_NE(accuracy, nullptr);
  EXPECT_EQ(Cell(*accuracy, 0, "bridge M=8"), "81.00 ± 1.00 (2 runs)");  // patched runs stay out
  const ResultsTable* ablations = Table(report, "Ablations");
  ASSERT_NE(ablations, nullptr);
  ASSERT_EQ(ablations->rows.size(), 2u);
  const size_t layer = Cell(*ablations, 0, "change") == "`{\"source_layer\":5}`" ? 0 : 1;
  EXPECT_EQ(Cell(*ablations, layer, "accuracy"), "73.00 ± 3.00 (2 runs)");
  EXPECT_EQ(Cell(*ablations, layer, "unchanged config"), "81.00 ± 1.00 (2 runs)");
  EXPECT_EQ(Cell(*ablations, layer, "Δ (pp)"), "-8.00");
  EXPECT_EQ(Cell(*ablations, 1 - layer, "seeds"), "2");
  // Without ablation runs there is no such table.
  EXPECT_EQ(Table(BuildSuiteReport({results[0]}, {}), "Ablations"), nullptr);
}

TEST(SuiteReportTest, ReferencesTableShowsCapacityMatchedReferencesCalibratedScoresAndTheirDefinitions) {
  RunResult zero = MakeResult(kMethodZeroShot, 0, 0, 0.51);
  zero.calibrated_accuracy = 0.62;
  RunResult bridge = MakeResult(kMethodPerceiver, 8, 1, 0.80);
  bridge.calibrated_accuracy = 0.81;
  bridge.macro_f1 = 0.79;
  const std::vector<RunResult> results = {zero,
                                          MakeResult(kMethodLinearProbe, 0, 1, 0.83),
                                          MakeResult(kMethodSenderCeiling, 8, 1, 0.83),
                                          MakeResult(kMethodReceiverSelfBridge, 8, 1, 0.78),
                                          MakeResult(kMethodPromptTuning, 8, 1, 0.75),
                                          bridge};
  const ResultsReport report = BuildSuiteReport(results, {});
  const ResultsTable* references = Table(report, "References with the bridge's capacity");
  ASSERT_NE(references, nullptr);
  ASSERT_EQ(references->rows.size(), 1u);
  EXPECT_EQ(Cell(*references, 0, "zero-shot raw"), "51.00");
  EXPECT_EQ(Cell(*references, 0, "zero-shot calibrated"), "62.00");
  EXPECT_EQ(Cell(*references, 0, "receiver self-bridge"), "78.00");
  EXPECT_EQ(Cell(*references, 0, "sender ceiling"), "83.00");
  EXPECT_EQ(Cell(*references, 0, "bridge calibrated"), "81.00");
  EXPECT_EQ(Cell(*references, 0, "bridge − ceiling (pp)"), "-3.00");
  EXPECT_EQ(Cell(*references, 0, "≥ ceiling − 2 pp"), "**no**");
  EXPECT_EQ(Cell(*references, 0, "bridge − self-bridge (pp)"), "+2.00");
  const std::string markdown = RenderResultsMarkdown(report);
  for (const char* defined : {"*Sender ceiling*", "*Receiver self-bridge*", "*Sender linear probe*", "*Prompt tuning*",
                              "*Text relay*", "*Zero-shot raw*", "*calibrated*"}) {
    EXPECT_NE(markdown.find(defined), std::string::npos) << defined;
  }
}

TEST(SuiteReportTest, SingleVectorBridgesGetTheirPapersMeasuresBesideTheOracle) {
  std::vector<RunResult> results;
  for (uint64_t seed : {1, 2}) {
    RunResult r = MakeResult(kMethodDualTranslator, 0, seed, 0.50);
    r.oracle_accuracy = 0.50;
    r.alignment_cosine = seed == 1 ? 0.80 : 0.90;
    r.alignment_cosine_centered = 0.30;
    r.alignment_cosine_reverse = 0.70;
    r.gold_logprob_shift = 0.01;
    r.oracle_gold_logprob_shift = 0.02;
    results.push_back(r);
  }
  results.push_back(MakeResult(kMethodBottleneck, 1, 1, 0.5));  // measured before these measures: no row
  auto back = RunResultFromJson(RunResultToJson(results[0]));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_DOUBLE_EQ(*back->alignment_cosine_centered, 0.30);
  EXPECT_DOUBLE_EQ(*back->oracle_gold_logprob_shift, 0.02);
  EXPECT_FALSE(RunResultFromJson(RunResultToJson(results[2]))->alignment_cosine.has_value());
  const ResultsReport report = BuildSuiteReport(results, {});
  const ResultsTable* table = Table(report, "Single-vector bridges measured as their papers do");
  ASSERT_NE(table, nullptr);
  ASSERT_EQ(table->rows.size(), 1u);
  EXPECT_EQ(Cell(*table, 0, "seeds"), "1,2");
  EXPECT_EQ(Cell(*table, 0, "oracle: receiver's own vector (%)"), "50.00 ± 0.00 (2 runs)");
  EXPECT_EQ(Cell(*table, 0, "cosine A→B (held out)"), "0.850 ± 0.050 (2 runs)");
  EXPECT_EQ(Cell(*table, 0, "cosine B→A (held out)"), "0.700 ± 0.000 (2 runs)");
}

TEST(RunResultTest, ChosenRateAtTheEdgeOfItsGridIsWrittenDown) {
  RunResult r = MakeResult(kMethodPerceiver, 8, 1, 0.8);
  r.learning_rate = 3e-4;
  r.learning_rate_trials = {{3e-4, 0.7, 1.0}, {1e-3, 0.6, 1.0}, {3e-3, 0.5, 1.0}};
  EXPECT_TRUE(RunResultToJson(r)["learning_rate_at_grid_edge"].get<bool>());
  r.learning_rate = 1e-3;
  EXPECT_FALSE(RunResultToJson(r)["learning_rate_at_grid_edge"].get<bool>());
  r.learning_rate_trials.clear();
  EXPECT_FALSE(RunResultToJson(r).contains("learning_rate_at_grid_edge"));
  r.calibrated_accuracy = 0.6;
  r.regularization = 1e-3;
  auto back = RunResultFromJson(RunResultToJson(r));
  ASSERT_TRUE(back.ok()) << back.status();
  ASSERT_TRUE(back->calibrated_accuracy.has_value());
  EXPECT_EQ(*back->calibrated_accuracy, 0.6);
  ASSERT_TRUE(back->regularization.has_value());
  EXPECT_EQ(*back->regularization, 1e-3);
}

}  // namespace
}  // namespace lip
