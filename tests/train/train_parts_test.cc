// The trainer's parts: class-balanced sampler, run config, dataset reading, losses, progress bar.
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bridge/train/class_balanced_sampler.h"
#include "bridge/train/learning_rate_search.h"
#include "bridge/train/losses.h"
#include "bridge/train/progress_bar.h"
#include "bridge/train/text_dataset.h"
#include "bridge/train/train_config.h"
#include "gtest/gtest.h"

namespace lip {
namespace {

TEST(ClassBalancedSamplerTest, EveryClassIsDrawnEquallyOftenPerEpoch) {
  // 8 examples of class 0, 2 of class 1, 1 of class 2.
  std::vector<int32_t> labels = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 2};
  auto sampler = ClassBalancedSampler::Create(labels, 3, /*seed=*/5);
  ASSERT_TRUE(sampler.ok()) << sampler.status();
  EXPECT_EQ(sampler->epoch_length(), 24);
  std::map<int32_t, int> per_class;
  std::set<int64_t> class0_seen;
  for (int64_t index : sampler->Next(24)) {
    ++per_class[labels[index]];
    if (labels[index] == 0) class0_seen.insert(index);
  }
  EXPECT_EQ(per_class[0], 8);
  EXPECT_EQ(per_class[1], 8);
  EXPECT_EQ(per_class[2], 8);
  EXPECT_EQ(class0_seen.size(), 8u);  // the largest class is covered exactly once
  EXPECT_EQ(sampler->state().epoch, 0);
  EXPECT_EQ(sampler->state().position, 24);
}

TEST(ClassBalancedSamplerTest, EpochsAreReshuffledAndRestoreContinuesExactly) {
  std::vector<int32_t> labels;
  for (int i = 0; i < 40; ++i) labels.push_back(i % 2);
  auto a = ClassBalancedSampler::Create(labels, 2, 9);
  ASSERT_TRUE(a.ok());
  std::vector<int64_t> epoch0 = a->Next(40);
  std::vector<int64_t> epoch1 = a->Next(40);
  EXPECT_NE(epoch0, epoch1);
  EXPECT_EQ(a->state().epoch, 1);

  auto b = ClassBalancedSampler::Create(labels, 2, 9);
  ASSERT_TRUE(b.ok());
  std::vector<int64_t> first = b->Next(13);
  SamplerState saved = b->state();
  std::vector<int64_t> rest_uninterrupted = b->Next(50);
  auto c = ClassBalancedSampler::Create(labels, 2, 9);
  ASSERT_TRUE(c->Restore(saved).ok());
  EXPECT_EQ(c->Next(50), rest_uninterrupted);
  EXPECT_EQ(std::vector<int64_t>(epoch0.begin(), epoch0.begin() + 13), first);

  SamplerState bad = saved;
  bad.position = 1000;
  EXPECT_EQ(c->Restore(bad).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ClassBalancedSampler::Create({0, 0}, 2, 1).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(TrainConfigTest, ParsesKnownKeysAndRefusesUnknownOnes) {
  nlohmann::json j = {{"name", "x"},
                      {"label_names", {"negative", "positive"}},
                      {"steps", 7},
                      {"energy_mode", "rms"},
                      {"perceiver", {{"num_queries", 16}}},
                      {"priming", {{"anchor", "\nSentiment:"}}}};
  auto config = TrainConfigFromJson(j);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->steps, 7);
  EXPECT_EQ(config->energy_mode, EnergyMode::kRms);
  EXPECT_EQ(config->perceiver.num_queries, 16);
  EXPECT_EQ(config->perceiver.width, PerceiverConfig().width);
  EXPECT_EQ(Verbalizers(*config), (std::vector<std::string>{" negative", " positive"}));
  auto round_trip = TrainConfigFromJson(TrainConfigToJson(*config));
  ASSERT_TRUE(round_trip.ok()) << round_trip.status();
  EXPECT_EQ(TrainConfigToJson(*round_trip), TrainConfigToJson(*config));

  j["learning_rte"] = 0.1;
  absl::Status status = TrainConfigFromJson(j).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("learning_rte"), std::string::npos);
  j.erase("learning_rte");
  j["steps"] = "many";
  EXPECT_EQ(TrainConfigFromJson(j).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(TextDatasetTest, ReadsJsonlAndSplitsValidationDisjointly) {
  auto data = ReadJsonlDataset("tests/data/sst2-train-head100.jsonl", {"negative", "positive"}, 100);
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(data->examples.size(), 100u);
  EXPECT_EQ(data->examples[0].text, "hide new secretions from the parental units");
  EXPECT_EQ(data->examples[0].label, 0);
  TextDataset train, validation;
  ASSERT_TRUE(SplitValidation(*data, 10, 3, &train, &validation).ok());
  EXPECT_EQ(train.examples.size(), 90u);
  EXPECT_EQ(validation.examples.size(), 10u);
  std::set<std::string> train_texts;
  for (const auto& e : train.examples) train_texts.insert(e.text);
  for (const auto& e : validation.examples) EXPECT_EQ(train_texts.count(e.text), 0u) << e.text;

  EXPECT_EQ(ReadJsonlDataset("tests/data/sst2-train-head100.jsonl", {"negative"}, 10).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ReadJsonlDataset("missing.jsonl", {"a", "b"}).status().code(), absl::StatusCode::kNotFound);
}

TEST(TextDatasetTest, LimitsSampleEveryLabelInProportionNotTheFirstRows) {
  // A label-sorted file: 90 "a" rows, then 10 "b" rows. The first 20 rows would all be "a".
  TextDataset sorted;
  sorted.label_names = {"a", "b"};
  for (int i = 0; i < 100; ++i) sorted.examples.push_back({absl::StrCat("text ", i), i < 90 ? 0 : 1});
  const TextDataset sample = StratifiedSample(sorted, 20, 7);
  ASSERT_EQ(sample.examples.size(), 20u);
  EXPECT_EQ(sample.LabelCounts(), (std::vector<int64_t>{18, 2}));
  std::set<std::string> distinct;
  int last = -1;
  for (const auto& e : sample.examples) {
    const int index = std::stoi(e.text.substr(5));
    EXPECT_GT(index, last) << "kept examples stay in file order";
    last = index;
    distinct.insert(e.text);
  }
  EXPECT_EQ(distinct.size(), 20u);
  // Seeded: the same seed gives the same sample, another seed another one.
  auto texts = [](const TextDataset& d) {
    std::vector<std::string> t;
    for (const auto& e : d.examples) t.push_back(e.text);
    return t;
  };
  EXPECT_EQ(texts(StratifiedSample(sorted, 20, 7)), texts(sample));
  EXPECT_NE(texts(StratifiedSample(sorted, 20, 8)), texts(sample));
  // Rounding: 3 of 100 at 90/10 gives 3 "a" (2.7 rounds up, 0.3 does not); every label can appear.
  EXPECT_EQ(StratifiedSample(sorted, 3, 1).LabelCounts(), (std::vector<int64_t>{3, 0}));
  EXPECT_EQ(StratifiedSample(sorted, 10, 1).LabelCounts(), (std::vector<int64_t>{9, 1}));
  // No limit, or a limit past the size: everything, unchanged.
  EXPECT_EQ(texts(StratifiedSample(sorted, 0, 1)), texts(sorted));
  EXPECT_EQ(texts(StratifiedSample(sorted, 500, 1)), texts(sorted));
}

TEST(TrainConfigTest, ALabelledFileAloneMakesARunConfig) {
  auto labels = ReadJsonlLabels("tests/data/sst2-train-head100.jsonl");
  ASSERT_TRUE(labels.ok()) << labels.status();
  EXPECT_EQ(*labels, (std::vector<std::string>{"negative", "positive"}));
  EXPECT_EQ(ReadJsonlLabels("missing.jsonl").status().code(), absl::StatusCode::kNotFound);

  TrainConfig c = TrainConfigForFile("../shared/data/my_intents/train.jsonl", {"book_flight", "cancel"});
  EXPECT_EQ(c.task, "my_intents");
  EXPECT_EQ(c.name, "my_intents-bridge");
  EXPECT_EQ(c.train_file, "../shared/data/my_intents/train.jsonl");
  EXPECT_EQ(Verbalizers(c), (std::vector<std::string>{" book flight", " cancel"}));
  EXPECT_EQ(c.receiver_model_dir, "demo/models/receiver-qwen2");
  // What it makes passes the config's own checks.
  EXPECT_TRUE(TrainConfigFromJson(TrainConfigToJson(c)).ok());
}

TEST(LossesTest, FirstTokenLabelAndDiversityLosses) {
  torch::Tensor logits = torch::full({2, 10}, -5.0);
  logits[0][3] = 5.0;
  logits[1][7] = 5.0;
  torch::Tensor right = FirstTokenLoss(logits, torch::tensor({3, 7}, torch::kInt64));
  torch::Tensor wrong = FirstTokenLoss(logits, torch::tensor({7, 3}, torch::kInt64));
  EXPECT_LT(right.item<float>(), 0.01f);
  EXPECT_GT(wrong.item<float>(), 9.0f);
  torch::Tensor label_tokens = torch::tensor({3, 7}, torch::kInt64);
  EXPECT_NEAR(LabelCrossEntropy(logits, label_tokens, torch::tensor({0, 1}, torch::kInt64)).item<float>(),
              std::log1p(std::exp(-10.0)), 1e-6);

  torch::Tensor same = torch::ones({3, 4, 5});
  EXPECT_NEAR(DiversityLoss(same).item<float>(), 1.0f, 1e-5);
  torch::Tensor opposite = torch::stack({torch::ones({4, 5}), -torch::ones({4, 5})});
  EXPECT_NEAR(DiversityLoss(opposite).item<float>(), -1.0f, 1e-5);
  EXPECT_EQ(DiversityLoss(torch::ones({1, 4, 5})).item<float>(), 0.0f);
}

TEST(LearningRateSearchTest, ParsesCandidatesAndChoosesTheBestValidationAccuracy) {
  auto rates = ParseLearningRates("0.001, 3e-3,0.01");
  ASSERT_TRUE(rates.ok()) << rates.status();
  EXPECT_EQ(*rates, (std::vector<double>{0.001, 0.003, 0.01}));
  for (const char* bad : {"", " ", "0.001,fast", "0.001,,0.01", "0", "-0.01", "inf", "nan", "0.01,1e-2"}) {
    EXPECT_EQ(ParseLearningRates(bad).status().code(), absl::StatusCode::kInvalidArgument) << "'" << bad << "'";
  }
  // Highest validation accuracy wins, whatever the loss; a tie goes to the earlier candidate.
  EXPECT_EQ(BestLearningRateTrial({{0.001, 0.60, 0.1}, {0.003, 0.72, 0.9}, {0.01, 0.70, 0.05}}), 1u);
  EXPECT_EQ(BestLearningRateTrial({{0.001, 0.70, 0.5}, {0.003, 0.70, 0.1}}), 0u);
  EXPECT_EQ(BestLearningRateTrial({{0.01, 0.4, 0.5}}), 0u);
}

TEST(ProgressBarTest, LineShowsStepLossAccuracyAndEta) {
  const std::string line = ProgressBar::FormatLine(50, 200, 0.6931, 0.625, 3e-4, 2.0, 10);
  EXPECT_NE(line.find("[##........]"), std::string::npos) << line;
  EXPECT_NE(line.find("step 50/200"), std::string::npos) << line;
  EXPECT_NE(line.find("loss 0.6931"), std::string::npos) << line;
  EXPECT_NE(line.find("acc 0.625"), std::string::npos) << line;
  EXPECT_NE(line.find("ETA 1m15s"), std::string::npos) << line;  // 150 steps at 2 it/s
  EXPECT_EQ(FormatDuration(3725), "1h02m");
}

TEST(TextDatasetTest, ValidationIsStratifiedAndAtMostAFifthOfTheRows) {
  // A label-sorted file: 90 "a" rows, then 10 "b" rows.
  TextDataset all;
  all.label_names = {"a", "b"};
  for (int i = 0; i < 100; ++i) all.examples.push_back({"t" + std::to_string(i), i < 90 ? 0 : 1});
  TextDataset train, validation;
  ASSERT_TRUE(SplitValidation(all, 20, 7, &train, &validation).ok());
  EXPECT_EQ(validation.LabelCounts(), (std::vector<int64_t>{18, 2}));
  EXPECT_EQ(train.LabelCounts(), (std::vector<int64_t>{72, 8}));
  EXPECT_EQ(ValidationSizeFor(500, 100), 20);
  EXPECT_EQ(ValidationSizeFor(500, 5452), 500);
  EXPECT_EQ(ValidationSizeFor(500, 3), 0);
  ASSERT_TRUE(SplitValidation(all, 0, 7, &train, &validation).ok());
  EXPECT_EQ(train.examples.size(), 100u);
  EXPECT_TRUE(validation.examples.empty());
}

TEST(LearningRateSearchTest, DefaultGridBracketsAndEdgesAreFlagged) {
  auto grid = ParseLearningRates("default");
  ASSERT_TRUE(grid.ok()) << grid.status();
  EXPECT_EQ(*grid, (std::vector<double>{3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1}));
  const std::vector<LearningRateTrial> trials = {{3e-4, 0.5, 1}, {1e-3, 0.6, 1}, {3e-3, 0.55, 1}};
  EXPECT_TRUE(ChosenRateAtGridEdge(trials, 3e-4));
  EXPECT_TRUE(ChosenRateAtGridEdge(trials, 3e-3));
  EXPECT_FALSE(ChosenRateAtGridEdge(trials, 1e-3));
  EXPECT_FALSE(ChosenRateAtGridEdge({{1e-3, 0.6, 1}}, 1e-3));  // one rate: no grid
}

}  // namespace
}  // namespace lip
