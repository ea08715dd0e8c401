// lip-eval's measures: classification scores (accuracy, macro-F1) and the progress line.
#include <string>

#include "bridge/eval/classification_scores.h"
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

}  // namespace
}  // namespace lip
