// The trainer end to end on tiny random models with real tokenizers and SST-2 training rows:
// a run resumed from step N/2 reaches exactly the step-N loss and weights of an uninterrupted run.
#include <unistd.h>

#include <cmath>
#include <filesystem>

#include "bridge/latent/bridge_checkpoint.h"
#include "bridge/train/bridge_trainer.h"
#include "bridge/train/early_stopping.h"
#include "bridge/train/sender_ceiling.h"
#include "gtest/gtest.h"
#include "tests/latent/test_models.h"
#include "tests/train/tiny_train_config.h"

namespace lip {
namespace {

namespace fs = std::filesystem;

class BridgeTrainerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    torch::set_num_threads(1);  // deterministic reductions
    auto sender = testing_models::TinySender();
    auto receiver = testing_models::TinyReceiver();
    endpoints_ = new BridgeEndpoints;
    endpoints_->sender_model = sender.model;
    endpoints_->sender_tokenizer = sender.tokenizer;
    endpoints_->sender_id.name = "tiny-sender";
    endpoints_->receiver_model = receiver.model;
    endpoints_->receiver_tokenizer = receiver.tokenizer;
    endpoints_->receiver_id.name = "tiny-receiver";
  }
  static void TearDownTestSuite() { delete endpoints_; }

  static TrainConfig Config() { return testing_models::TinySst2TrainConfig("resume-test"); }

  static void Data(TextDataset* train, TextDataset* validation) {
    auto all = ReadJsonlDataset("tests/data/sst2-train-head100.jsonl", {"negative", "positive"}, 60);
    ASSERT_TRUE(all.ok()) << all.status();
    ASSERT_TRUE(SplitValidation(*all, 6, 1, train, validation).ok());
  }

  // The first 4 training examples of each of the 2 classes: a set small enough to fit.
  static std::vector<LabelledText> FourPerClass(const TextDataset& train) {
    std::vector<LabelledText> tiny;
    int per_class[2] = {0, 0};
    for (const LabelledText& e : train.examples) {
      if (per_class[e.label] < 4) {
        tiny.push_back(e);
        ++per_class[e.label];
      }
    }
    return tiny;
  }

  static std::unique_ptr<BridgeTrainer> MakeTrainer(const TrainConfig& config) {
    TextDataset train, validation;
    Data(&train, &validation);
    auto trainer = BridgeTrainer::Create(config, *endpoints_, train, validation);
    EXPECT_TRUE(trainer.ok()) << trainer.status();
    return trainer.ok() ? std::move(*trainer) : nullptr;
  }

  std::string TempDir(const std::string& name) {
    std::string dir = (fs::temp_directory_path() / ("lip_trainer_test_" + std::to_string(::getpid()) + "_" + name)).string();
    fs::remove_all(dir);
    dirs_.push_back(dir);
    return dir;
  }
  void TearDown() override {
    for (const std::string& dir : dirs_) fs::remove_all(dir);
  }

  static BridgeEndpoints* endpoints_;
  std::vector<std::string> dirs_;
};
BridgeEndpoints* BridgeTrainerTest::endpoints_ = nullptr;

TEST_F(BridgeTrainerTest, ResumedRunReachesTheSameStepNLossAsAnUninterruptedRun) {
  const TrainConfig config = Config();
  auto uninterrupted = MakeTrainer(config);
  ASSERT_NE(uninterrupted, nullptr);
  auto full = uninterrupted->Train(6, nullptr, "");
  ASSERT_TRUE(full.ok()) << full.status();
  EXPECT_EQ(full->step, 6);

  const std::string checkpoint = TempDir("resume");
  auto first_half = MakeTrainer(config);
  ASSERT_TRUE(first_half->Train(3, nullptr, "").ok());
  ASSERT_TRUE(first_half->SaveTrainingCheckpoint(checkpoint).ok());
  first_half.reset();

  auto resumed = MakeTrainer(config);
  ASSERT_TRUE(resumed->RestoreTrainingCheckpoint(checkpoint).ok());
  EXPECT_EQ(resumed->step(), 3);
  auto second_half = resumed->Train(6, nullptr, "");
  ASSERT_TRUE(second_half.ok()) << second_half.status();
  EXPECT_EQ(second_half->step, 6);
  EXPECT_DOUBLE_EQ(second_half->loss, full->loss);
  EXPECT_DOUBLE_EQ(second_half->accuracy, full->accuracy);

  // And the weights are identical.
  const std::string a = TempDir("a"), b = TempDir("b");
  ASSERT_TRUE(uninterrupted->SaveBridge(a, {}).ok());
  ASSERT_TRUE(resumed->SaveBridge(b, {}).ok());
  EXPECT_EQ(ReadBridgeMetadata(a)->digest, ReadBridgeMetadata(b)->digest);

}

TEST_F(BridgeTrainerTest, ResumeRefusesAnotherConfigAndTheBridgeLoadsAsHalves) {
  const std::string checkpoint = TempDir("config");
  auto trainer = MakeTrainer(Config());
  ASSERT_TRUE(trainer->Train(2, nullptr, "").ok());
  ASSERT_TRUE(trainer->SaveTrainingCheckpoint(checkpoint).ok());

  TrainConfig other = Config();
  other.learning_rate = 1e-2;
  auto different = MakeTrainer(other);
  EXPECT_EQ(different->RestoreTrainingCheckpoint(checkpoint).code(), absl::StatusCode::kFailedPrecondition);
  TrainConfig longer = Config();
  longer.steps = 12;  // extending a run is allowed
  EXPECT_TRUE(MakeTrainer(longer)->RestoreTrainingCheckpoint(checkpoint).ok());

  auto sender_half = LoadSenderHalf(checkpoint + "/bridge");
  ASSERT_TRUE(sender_half.ok()) << sender_half.status();
  EXPECT_EQ(sender_half->metadata.labels, (std::vector<std::string>{" negative", " positive"}));
  EXPECT_EQ(sender_half->metadata.sender_model.weights_digest, endpoints_->sender_model->weights_digest());
  EXPECT_GT(sender_half->metadata.receiver.energy.reference_energy, 0);
  EXPECT_TRUE(LoadReceiverHalf(checkpoint + "/bridge").ok());
}

TEST_F(BridgeTrainerTest, TrainingLowersTheLossOnARepeatedBatch) {
  TrainConfig config = Config();
  config.steps = 40;
  // The label cross-entropy alone (2 classes, starts near ln 2) and unscaled soft tokens: the tiny
  // random receiver must still be steerable through the bridge.
  config.first_token_weight = 0;
  config.label_ce_weight = 1;
  config.energy_mode = EnergyMode::kNone;
  config.learning_rate = 3e-3;
  config.warmup_steps = 0;
  config.min_learning_rate_ratio = 1.0;
  TextDataset train, validation;
  Data(&train, &validation);
  // A tiny training set the bridge can fit: 4 examples of each class.
  const std::vector<LabelledText> tiny = FourPerClass(train);
  ASSERT_EQ(tiny.size(), 8u);
  train.examples = tiny;
  auto trainer = BridgeTrainer::Create(config, *endpoints_, train, validation);
  ASSERT_TRUE(trainer.ok());
  auto first = (*trainer)->Step();
  ASSERT_TRUE(first.ok());
  double late_loss = 0;
  for (int i = 2; i <= 40; ++i) {
    auto r = (*trainer)->Step();
    ASSERT_TRUE(r.ok()) << r.status();
    if (i > 30) late_loss += r->loss / 10;
  }
  EXPECT_LT(late_loss, first->loss * 0.8) << "first " << first->loss << " late mean " << late_loss;
}

TEST_F(BridgeTrainerTest, VerbalizersSharingTheirFirstTokenAreTrainedOnWholeVerbalizers) {
  TrainConfig config = Config();
  config.verbalizers = {" very bad", " very good"};  // the same first receiver token
  config.first_token_weight = 0;
  config.label_ce_weight = 1;
  config.energy_mode = EnergyMode::kNone;
  config.warmup_steps = 0;
  config.min_learning_rate_ratio = 1.0;
  TextDataset train, validation;
  Data(&train, &validation);
  const std::vector<LabelledText> tiny = FourPerClass(train);
  train.examples = tiny;
  auto trainer = BridgeTrainer::Create(config, *endpoints_, train, validation);
  ASSERT_TRUE(trainer.ok()) << trainer.status();
  EXPECT_TRUE((*trainer)->scores_whole_verbalizers());
  auto first = (*trainer)->Step();
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(std::isfinite(first->first_token_loss));
  double late_loss = 0;
  for (int i = 2; i <= 40; ++i) {
    auto r = (*trainer)->Step();
    ASSERT_TRUE(r.ok()) << r.status();
    if (i > 30) late_loss += r->loss / 10;
  }
  EXPECT_LT(late_loss, first->loss * 0.8) << "first " << first->loss << " late mean " << late_loss;
  // Evaluation scores the same whole verbalizers through the pipelines.
  auto eval = (*trainer)->Evaluate(validation);
  ASSERT_TRUE(eval.ok()) << eval.status();
  EXPECT_EQ(eval->examples, static_cast<int64_t>(validation.examples.size()));

  // Distinct first tokens keep the one-token objective.
  EXPECT_FALSE(MakeTrainer(Config())->scores_whole_verbalizers());
  // Two verbalizers with the same tokens can never be told apart.
  config.verbalizers = {" very good", " very good"};
  auto same = BridgeTrainer::Create(config, *endpoints_, train, validation);
  ASSERT_FALSE(same.ok());
  EXPECT_EQ(same.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(BridgeTrainerTest, SenderCeilingLearnsTheLabelsFromTheSendersStatesAlone) {
  TrainConfig config = Config();
  config.steps = 40;
  config.warmup_steps = 0;
  config.min_learning_rate_ratio = 1.0;
  TextDataset train, validation;
  Data(&train, &validation);
  const std::vector<LabelledText> tiny = FourPerClass(train);
  train.examples = tiny;
  auto ceiling = SenderCeiling::Create(config, endpoints_->sender_model, endpoints_->sender_tokenizer, train,
                                       validation);
  ASSERT_TRUE(ceiling.ok()) << ceiling.status();
  auto first = (*ceiling)->Step();
  ASSERT_TRUE(first.ok()) << first.status();
  double late_loss = 0;
  for (int i = 2; i <= 40; ++i) {
    auto r = (*ceiling)->Step();
    ASSERT_TRUE(r.ok()) << r.status();
    if (i > 30) late_loss += r->loss / 10;
  }
  EXPECT_LT(late_loss, first->loss * 0.8) << "first " << first->loss << " late mean " << late_loss;
  TextDataset seen;
  seen.label_names = train.label_names;
  seen.examples = tiny;
  auto eval = (*ceiling)->Evaluate(seen);
  ASSERT_TRUE(eval.ok()) << eval.status();
  EXPECT_EQ(eval->examples, 8);
  EXPECT_GE(eval->accuracy, 0.75);  // the 8 training examples, after 40 steps on them

  TrainConfig deep = config;
  deep.source_layer = 99;
  EXPECT_EQ(SenderCeiling::Create(deep, endpoints_->sender_model, endpoints_->sender_tokenizer, train, validation)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(BridgeTrainerTest, ReceiverSelfBridgeTrainsTheSameBridgeOnTheReceiversOwnStates) {
  TrainConfig base = Config();
  base.sender_model_dir = "models/tiny-sender";
  base.receiver_model_dir = "models/tiny-receiver";
  base.receiver_model_name = "tiny-receiver";
  const TrainConfig config = ReceiverSelfBridgeConfig(base);
  EXPECT_EQ(config.sender_model_dir, "models/tiny-receiver");
  EXPECT_EQ(config.sender_model_name, "tiny-receiver");
  EXPECT_EQ(config.name, "resume-test-receiver-self-bridge");
  EXPECT_EQ(config.perceiver.num_queries, base.perceiver.num_queries);
  EXPECT_EQ(config.steps, base.steps);
  EXPECT_EQ(config.learning_rate, base.learning_rate);

  BridgeEndpoints self = *endpoints_;  // as lip-train builds it: the receiver is its own source
  self.sender_model = endpoints_->receiver_model;
  self.sender_tokenizer = endpoints_->receiver_tokenizer;
  self.sender_id.name = config.sender_model_name;
  TextDataset train, validation;
  Data(&train, &validation);
  auto trainer = BridgeTrainer::Create(config, self, train, validation);
  ASSERT_TRUE(trainer.ok()) << trainer.status();
  const BridgeMetadata m = (*trainer)->metadata();
  EXPECT_EQ(m.sender_model.weights_digest, endpoints_->receiver_model->weights_digest());
  EXPECT_NE(m.sender_model.weights_digest, endpoints_->sender_model->weights_digest());
  EXPECT_EQ(m.sender_model.weights_digest, m.receiver_model.weights_digest);
  EXPECT_EQ(m.sender.perceiver.input_width, endpoints_->receiver_model->hidden_size());
  auto step = (*trainer)->Step();
  ASSERT_TRUE(step.ok()) << step.status();
  EXPECT_TRUE(std::isfinite(step->loss));
}

TEST_F(BridgeTrainerTest, TrainingStopsEarlyOnValidationAndKeepsTheBestWeights) {
  TrainConfig config = Config();
  config.steps = 12;
  config.eval_every = 1;
  config.early_stopping_patience = 2;
  auto trainer = MakeTrainer(config);
  ASSERT_NE(trainer, nullptr);
  auto last = trainer->Train(config.steps, nullptr, "");
  ASSERT_TRUE(last.ok()) << last.status();
  const nlohmann::json history = trainer->metadata().training["validation_history"];
  ASSERT_GE(history.size(), 2u);
  double best = -1;
  int64_t best_step = 0;
  for (size_t i = 0; i + 1 < history.size(); ++i) {
    if (history[i]["accuracy"].get<double>() > best) {
      best = history[i]["accuracy"].get<double>();
      best_step = history[i]["step"].get<int64_t>();
    }
  }
  const nlohmann::json& kept = history.back();
  if (kept.contains("restored_from_step")) {
    EXPECT_EQ(kept["restored_from_step"].get<int64_t>(), best_step);
    EXPECT_EQ(kept["accuracy"].get<double>(), best);
    // The weights kept are the best step's: validation gives its accuracy again.
    auto again = trainer->Evaluate(trainer->validation());
    ASSERT_TRUE(again.ok()) << again.status();
    EXPECT_DOUBLE_EQ(again->accuracy, best);
  } else {
    EXPECT_GE(kept["accuracy"].get<double>(), best);  // the last evaluation was the best
  }
  // Stopped after `patience` evaluations without improvement, or ran every step.
  EXPECT_TRUE(trainer->step() == config.steps || trainer->step() - best_step == config.early_stopping_patience)
      << "step " << trainer->step() << ", best step " << best_step;
}

TEST(EarlyStoppingTest, StopsAfterPatienceAndRestoresTheBestTensors) {
  torch::Tensor w = torch::zeros({2});
  EarlyStopping stopping(2);
  w.fill_(1);
  EXPECT_FALSE(stopping.Observe(1, 0.5, {w}));
  w.fill_(2);
  EXPECT_FALSE(stopping.Observe(2, 0.7, {w}));
  w.fill_(3);
  EXPECT_FALSE(stopping.Observe(3, 0.7, {w}));  // not strictly better
  w.fill_(4);
  EXPECT_TRUE(stopping.Observe(4, 0.6, {w}));
  nlohmann::json history = nlohmann::json::array();
  stopping.RestoreBest(4, {w}, &history);
  EXPECT_EQ(w[0].item<float>(), 2.0f);
  ASSERT_EQ(history.size(), 1u);
  EXPECT_EQ(history[0]["restored_from_step"], 2);
  EXPECT_EQ(history[0]["accuracy"], 0.7);

  EarlyStopping off(0);
  EXPECT_FALSE(off.Observe(1, 0.9, {w}));
  w.fill_(5);
  EXPECT_FALSE(off.Observe(2, 0.1, {w}));
  off.RestoreBest(2, {w}, &history);
  EXPECT_EQ(w[0].item<float>(), 5.0f);
  EXPECT_EQ(history.size(), 1u);
}

}  // namespace
}  // namespace lip
