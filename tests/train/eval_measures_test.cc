// lip-eval's measures: classification scores (accuracy, macro-F1) and the progress line.
#include <algorithm>
#include <string>

#include "bridge/eval/calibrated_scores.h"
#include "bridge/eval/classification_scores.h"
#include "bridge/eval/linear_probe.h"
#include "bridge/eval/progress_meter.h"
#include "gtest/gtest.h"

namespace lip {
namespace {

TEST(ClassificationScoresTest, ConstantPredictorHasAccuracyButLowMacroF1) {
  // SST-2's test split: 428 negative, 444 positive; always answering "positive" (label 1).
  ClassificationScores scores(2);
  for (int i = 0; i < 428; ++i) scores.Add(0, 1);
  for (int i = 0; i < 444; ++i) scores.Add(1, 1);
  EXPECT_EQ(scores.examples(), 872);
  EXPECT_NEAR(scores.Accuracy(), 444.0 / 872, 1e-12);
  EXPECT_DOUBLE_EQ(scores.F1(0), 0.0);
  EXPECT_NEAR(scores.F1(1), 2.0 * 444 / (444 + 872), 1e-12);
  EXPECT_NEAR(scores.MacroF1(), (2.0 * 444 / (444 + 872)) / 2, 1e-12);
}

TEST(ClassificationScoresTest, PerfectAndMixedPredictions) {
  ClassificationScores perfect(3);
  for (int l = 0; l < 3; ++l) perfect.Add(l, l);
  EXPECT_DOUBLE_EQ(perfect.Accuracy(), 1.0);
  EXPECT_DOUBLE_EQ(perfect.MacroF1(), 1.0);

  // gold 0,0,1,2 predicted 0,1,1,1: label 0 F1 2/3, label 1 F1 2*1/(1+3) = 0.5, label 2 F1 0.
  ClassificationScores mixed(3);
  mixed.Add(0, 0);
  mixed.Add(0, 1);
  mixed.Add(1, 1);
  mixed.Add(2, 1);
  EXPECT_DOUBLE_EQ(mixed.Accuracy(), 0.5);
  EXPECT_NEAR(mixed.F1(0), 2.0 / 3, 1e-12);
  EXPECT_NEAR(mixed.F1(1), 0.5, 1e-12);
  EXPECT_DOUBLE_EQ(mixed.F1(2), 0.0);
  EXPECT_NEAR(mixed.MacroF1(), (2.0 / 3 + 0.5) / 3, 1e-12);
}

TEST(ClassificationScoresTest, OutOfRangeLabelsAreCountedApartAndNothingIsDividedByZero) {
  ClassificationScores scores(2);
  EXPECT_DOUBLE_EQ(scores.Accuracy(), 0.0);
  EXPECT_DOUBLE_EQ(scores.MacroF1(), 0.0);
  scores.Add(5, 0);
  scores.Add(0, -1);
  EXPECT_EQ(scores.invalid(), 2);
  EXPECT_EQ(scores.examples(), 0);
  EXPECT_DOUBLE_EQ(scores.F1(7), 0.0);
}

TEST(ProgressMeterTest, LineShowsCountShareRateAndEta) {
  EXPECT_EQ(ProgressMeter::FormatLine("ag_news zero-shot", 1200, 7600, 30.0),
            "lip-eval: ag_news zero-shot 1200/7600 (15.8 %)  40.0 ex/s  ETA 2m40s");
  EXPECT_EQ(ProgressMeter::FormatLine("trec relay", 0, 500, 0.0),
            "lip-eval: trec relay 0/500 (0.0 %)  0.0 ex/s  ETA ?");
}

TEST(ProgressMeterTest, PrintsAtMostEveryIntervalAndAFinalLine) {
  std::FILE* out = std::tmpfile();
  ASSERT_NE(out, nullptr);
  {
    ProgressMeter meter("sst2 bridge", 100, out, std::chrono::hours(1));
    for (int i = 1; i <= 100; ++i) meter.Update(i);  // within the hour: no line yet
    meter.Finish();
  }
  std::rewind(out);
  std::string text;
  char buffer[256];
  while (std::fgets(buffer, sizeof buffer, out) != nullptr) text += buffer;
  std::fclose(out);
  EXPECT_EQ(text.find("ETA"), std::string::npos) << text;
  EXPECT_NE(text.find("lip-eval: sst2 bridge 100/100 done in"), std::string::npos) << text;
}

TEST(CalibratedScoresTest, ConstantRawPredictorIsNotConstantOnceTheFramesPriorIsRemoved) {
  // A receiver that prefers label 1 by 2 nats whatever it reads, and reads the input a little:
  // label 0 examples get +1 on label 0, label 1 examples +1 on label 1.
  const std::vector<float> bare = {-3.0f, -1.0f};
  ClassificationScores raw(2), calibrated(2);
  for (int gold : {0, 0, 0, 1, 1, 1}) {
    std::vector<float> log_probs = bare;
    log_probs[gold] += 1.0f;
    int64_t raw_prediction = log_probs[1] > log_probs[0] ? 1 : 0;
    raw.Add(gold, raw_prediction);
    calibrated.Add(gold, CalibratedPrediction(log_probs, bare));
  }
  EXPECT_DOUBLE_EQ(raw.Accuracy(), 0.5);  // always label 1
  EXPECT_DOUBLE_EQ(calibrated.Accuracy(), 1.0);
  EXPECT_GT(calibrated.MacroF1(), raw.MacroF1());
  EXPECT_EQ(CalibratedPrediction({-1.0f}, {-1.0f, -2.0f}), -1);
  EXPECT_EQ(CalibratedPrediction({}, {}), -1);
}

// Two classes separated by feature 0; features 1.. are noise. The probe trains once per penalty
// and keeps the one with the best validation accuracy.
TEST(LinearProbeTest, ChoosesItsL2PenaltyFromTheGridOnValidation) {
  torch::manual_seed(3);
  auto make = [](int64_t n, torch::Tensor* x, torch::Tensor* y) {
    *y = torch::randint(0, 2, {n}, torch::kInt64);
    *x = torch::randn({n, 64});
    x->select(1, 0).add_((*y).to(torch::kFloat32) * 4 - 2);
  };
  torch::Tensor train_x, train_y, validation_x, validation_y, test_x, test_y;
  make(100, &train_x, &train_y);
  make(200, &validation_x, &validation_y);
  make(200, &test_x, &test_y);
  LinearProbeOptions options;
  options.l2_grid = {1e-6, 1e-2, 1e3};
  options.max_epochs = 200;
  auto result = FitTunedLinearProbe(train_x, train_y, validation_x, validation_y, test_x, test_y, 2, options);
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->trials.size(), 3u);
  double best = 0;
  for (const ProbeTrial& t : result->trials) best = std::max(best, t.validation_accuracy);
  EXPECT_EQ(result->validation_accuracy, best);
  bool chosen_in_grid = false;
  for (const ProbeTrial& t : result->trials) {
    chosen_in_grid |= t.l2 == result->l2 && t.validation_accuracy == best;
    EXPECT_GT(t.best_epoch, 0);
  }
  EXPECT_TRUE(chosen_in_grid);
  // Ties go to the larger penalty.
  for (const ProbeTrial& t : result->trials) {
    if (t.validation_accuracy == best) EXPECT_LE(t.l2, result->l2);
  }
  EXPECT_GT(result->test_accuracy, 0.6);
  EXPECT_EQ(result->train_examples, 100);
  EXPECT_EQ(result->validation_examples, 200);

  options.l2_grid.clear();
  EXPECT_EQ(FitTunedLinearProbe(train_x, train_y, validation_x, validation_y, test_x, test_y, 2, options).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace lip
