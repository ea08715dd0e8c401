// One encoder, many receivers: JointReceiverTrainer on tiny random models with real tokenizers.
// The tiny llama serves as the sender and as the second receiver (as the demo's sender-llama does).
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "bridge/latent/bridge_checkpoint.h"
#include "bridge/train/joint_receiver_trainer.h"

#include <cmath>
#include "gtest/gtest.h"
#include "tests/latent/test_models.h"
#include "tests/train/tiny_train_config.h"

namespace lip {
namespace {

namespace fs = std::filesystem;

std::string FileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

class JointReceiverTrainerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    torch::set_num_threads(1);
    sender_ = new testing_models::ModelAndTokenizer(testing_models::TinySender());
    receiver_ = new testing_models::ModelAndTokenizer(testing_models::TinyReceiver());
  }
  static void TearDownTestSuite() {
    delete sender_;
    delete receiver_;
  }

  // The trainer tests' tiny recipe, steered by the label cross-entropy alone, 40 steps.
  static TrainConfig Config(const std::string& name) {
    TrainConfig c = testing_models::TinySst2TrainConfig(name);
    c.steps = 40;
    c.warmup_steps = 0;
    c.min_learning_rate_ratio = 1.0;
    c.first_token_weight = 0;
    c.label_ce_weight = 1;
    c.energy_mode = EnergyMode::kNone;
    return c;
  }

  // Receiver 0: the tiny qwen2; receiver 1: the tiny llama that is also the sender.
  static std::vector<JointReceiver> Receivers() {
    std::vector<JointReceiver> receivers(2);
    receivers[0].config = Config("joint-qwen2");
    receivers[1].config = Config("joint-llama");
    for (JointReceiver& r : receivers) {
      r.endpoints.sender_model = sender_->model;
      r.endpoints.sender_tokenizer = sender_->tokenizer;
      r.endpoints.sender_id.name = "tiny-sender";
    }
    receivers[0].endpoints.receiver_model = receiver_->model;
    receivers[0].endpoints.receiver_tokenizer = receiver_->tokenizer;
    receivers[0].endpoints.receiver_id.name = "tiny-receiver";
    receivers[1].endpoints.receiver_model = sender_->model;
    receivers[1].endpoints.receiver_tokenizer = sender_->tokenizer;
    receivers[1].endpoints.receiver_id.name = "tiny-sender";
    return receivers;
  }

  // 4 training examples of each class (small enough to fit) and 6 validation rows.
  static void Data(TextDataset* train, TextDataset* validation) {
    auto all = ReadJsonlDataset("tests/data/sst2-train-head100.jsonl", {"negative", "positive"}, 60);
    ASSERT_TRUE(all.ok()) << all.status();
    ASSERT_TRUE(SplitValidation(*all, 6, 1, train, validation).ok());
    std::vector<LabelledText> tiny;
    int per_class[2] = {0, 0};
    for (const LabelledText& e : train->examples) {
      if (per_class[e.label] < 4) {
        tiny.push_back(e);
        ++per_class[e.label];
      }
    }
    train->examples = tiny;
  }

  std::string TempDir(const std::string& name) {
    std::string dir = (fs::temp_directory_path() / ("lip_joint_test_" + std::to_string(::getpid()) + "_" + name)).string();
    fs::remove_all(dir);
    dirs_.push_back(dir);
    return dir;
  }
  void TearDown() override {
    for (const std::string& dir : dirs_) fs::remove_all(dir);
  }

  static testing_models::ModelAndTokenizer* sender_;
  static testing_models::ModelAndTokenizer* receiver_;
  std::vector<std::string> dirs_;
};
testing_models::ModelAndTokenizer* JointReceiverTrainerTest::sender_ = nullptr;
testing_models::ModelAndTokenizer* JointReceiverTrainerTest::receiver_ = nullptr;

TEST_F(JointReceiverTrainerTest, JointTrainingLowersBothReceiversLossesAndSavesOneSenderHalf) {
  TextDataset train, validation;
  Data(&train, &validation);
  auto trainer = JointReceiverTrainer::Create(Receivers(), train, validation);
  ASSERT_TRUE(trainer.ok()) << trainer.status();
  JointReceiverTrainer& joint = **trainer;
  ASSERT_EQ(joint.receivers(), 2);
  // One encoder module behind both bridges; each receiver has its own adapter.
  EXPECT_EQ(joint.receiver(0).trainable_bridge().encoder.get(), joint.receiver(1).trainable_bridge().encoder.get());
  EXPECT_NE(joint.receiver(0).trainable_bridge().adapter.get(), joint.receiver(1).trainable_bridge().adapter.get());

  auto first = joint.Step();
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_EQ(first->receiver_task_losses.size(), 2u);
  std::vector<double> late(2, 0.0);
  for (int i = 2; i <= 40; ++i) {
    auto r = joint.Step();
    ASSERT_TRUE(r.ok()) << r.status();
    if (i > 30) {
      for (int k = 0; k < 2; ++k) late[k] += r->receiver_task_losses[k] / 10;
    }
  }
  for (int k = 0; k < 2; ++k) {
    EXPECT_LT(late[k], first->receiver_task_losses[k] * 0.8)
        << "receiver " << k << ": first " << first->receiver_task_losses[k] << " late mean " << late[k];
  }

  auto eval = joint.Evaluate(validation);
  ASSERT_TRUE(eval.ok()) << eval.status();
  EXPECT_EQ(eval->examples, int64_t(validation.examples.size()));
  ASSERT_EQ(eval->receiver_accuracies.size(), 2u);
  EXPECT_GE(eval->joint_accuracy, 0.0);
  EXPECT_LE(eval->joint_accuracy, 1.0);
  // Agreement: the examples split into agreements and disagreements; where one receiver is right,
  // at least as often as either receiver alone.
  EXPECT_GE(eval->receivers_agree, 0.0);
  EXPECT_LE(eval->receivers_agree, 1.0);
  EXPECT_EQ(eval->disagreements, eval->examples - std::llround(eval->receivers_agree * eval->examples));
  for (double accuracy : eval->receiver_accuracies) EXPECT_GE(eval->any_receiver_right + 1e-9, accuracy);
  EXPECT_LE(eval->any_receiver_right, 1.0);
  EXPECT_GE(eval->joint_accuracy_on_disagreements, 0.0);
  EXPECT_LE(eval->joint_accuracy_on_disagreements, 1.0);

  const std::string a = TempDir("qwen2"), b = TempDir("llama");
  ASSERT_TRUE(joint.SaveBridges({a, b}, {nlohmann::json::object(), nlohmann::json::object()}).ok());
  auto ma = ReadBridgeMetadata(a);
  auto mb = ReadBridgeMetadata(b);
  ASSERT_TRUE(ma.ok() && mb.ok());
  // The same sender half, byte for byte; different receivers and adapters.
  EXPECT_EQ(FileBytes(a + "/sender.safetensors"), FileBytes(b + "/sender.safetensors"));
  EXPECT_EQ(ma->sender_file_digest, mb->sender_file_digest);
  EXPECT_NE(ma->receiver_file_digest, mb->receiver_file_digest);
  EXPECT_EQ(ma->name, "joint-qwen2");
  EXPECT_EQ(mb->name, "joint-llama");
  EXPECT_EQ(ma->receiver_model.name, "tiny-receiver");
  EXPECT_EQ(mb->receiver_model.name, "tiny-sender");
  EXPECT_EQ(ma->training.value("steps_done", int64_t(0)), 40);
  // Each is an ordinary bridge: both halves load.
  for (const std::string& dir : {a, b}) {
    EXPECT_TRUE(LoadSenderHalf(dir).ok()) << dir;
    EXPECT_TRUE(LoadReceiverHalf(dir).ok()) << dir;
  }
}

TEST_F(JointReceiverTrainerTest, ValidationDrivesEarlyStoppingOverAllModules) {
  TextDataset train, validation;
  Data(&train, &validation);
  std::vector<JointReceiver> receivers = Receivers();
  for (JointReceiver& r : receivers) {
    r.config.steps = 6;
    r.config.eval_every = 2;
  }
  auto trainer = JointReceiverTrainer::Create(receivers, train, validation);
  ASSERT_TRUE(trainer.ok()) << trainer.status();
  auto last = (*trainer)->Train(6, nullptr);
  ASSERT_TRUE(last.ok()) << last.status();
  const nlohmann::json& history = (*trainer)->validation_history();
  ASSERT_GE(history.size(), 3u);
  for (const nlohmann::json& entry : history) {
    ASSERT_TRUE(entry.contains("receiver_accuracies")) << entry.dump();
    const double mean = (entry["receiver_accuracies"][0].get<double>() + entry["receiver_accuracies"][1].get<double>()) / 2;
    EXPECT_NEAR(entry["accuracy"].get<double>(), mean, 1e-9);
  }
  // The weights kept are those of the best mean validation accuracy.
  double best = 0;
  for (const nlohmann::json& entry : history) best = std::max(best, entry["accuracy"].get<double>());
  EXPECT_DOUBLE_EQ(history.back()["accuracy"].get<double>(), best);
}

TEST_F(JointReceiverTrainerTest, CreateRejectsWhatCannotShareOneEncoder) {
  TextDataset train, validation;
  Data(&train, &validation);
  std::vector<JointReceiver> one = Receivers();
  one.pop_back();
  EXPECT_EQ(JointReceiverTrainer::Create(one, train, validation).status().code(), absl::StatusCode::kInvalidArgument);

  std::vector<JointReceiver> other_rate = Receivers();
  other_rate[1].config.learning_rate = 1e-2;
  EXPECT_EQ(JointReceiverTrainer::Create(other_rate, train, validation).status().code(),
            absl::StatusCode::kInvalidArgument);

  std::vector<JointReceiver> other_sender = Receivers();
  other_sender[1].endpoints.sender_model = receiver_->model;
  other_sender[1].endpoints.sender_tokenizer = receiver_->tokenizer;
  EXPECT_EQ(JointReceiverTrainer::Create(other_sender, train, validation).status().code(),
            absl::StatusCode::kInvalidArgument);

  std::vector<JointReceiver> same_name = Receivers();
  same_name[1].config.name = same_name[0].config.name;
  EXPECT_EQ(JointReceiverTrainer::Create(same_name, train, validation).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace lip
