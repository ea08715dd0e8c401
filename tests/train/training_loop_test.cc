// The train-until loop every trainer runs (bridge/train/training_loop.h), with a scripted trainer:
// one tensor holding the number of the last step, validation accuracies from a list.
#include "bridge/train/training_loop.h"

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"

namespace lip {
namespace {

// A trainer whose single weight is the step it last took, validated with accuracies[step - 1].
struct ScriptedTrainer {
  explicit ScriptedTrainer(std::vector<double> accuracies) : accuracies(std::move(accuracies)) {}

  TrainingLoop Loop(int64_t until_step, int64_t final_step) {
    TrainingLoop loop;
    loop.steps_done = step;
    loop.until_step = until_step;
    loop.final_step = final_step;
    loop.step = [this]() -> absl::StatusOr<LoopStep> {
      ++step;
      weight.fill_(double(step));
      return LoopStep{step, /*loss=*/1.0 / step, /*accuracy=*/0.5, /*learning_rate=*/1e-3};
    };
    loop.validate = [this](int64_t at) -> absl::StatusOr<LoopValidation> {
      validated.push_back(at);
      LoopValidation v;
      v.accuracy = accuracies.at(at - 1);
      v.examples = 10;
      v.details["weight"] = weight.item<double>();
      return v;
    };
    loop.parameters = [this] { return std::vector<torch::Tensor>{weight}; };
    loop.history = [this]() -> nlohmann::json& { return history; };
    return loop;
  }

  std::vector<double> accuracies;
  int64_t step = 0;
  torch::Tensor weight = torch::zeros({1});
  std::vector<int64_t> validated;
  nlohmann::json history = nlohmann::json::array();
};

TrainConfig Config(int64_t steps, int64_t eval_every, int64_t patience) {
  TrainConfig config;
  config.steps = steps;
  config.eval_every = eval_every;
  config.early_stopping_patience = patience;
  return config;
}

TEST(TrainingLoopTest, ValidatesEveryEvalEveryStepsAndAtTheFinalStep) {
  ScriptedTrainer trainer(std::vector<double>(10, 0.5));
  ASSERT_TRUE(RunTrainingLoop(Config(10, 4, /*patience=*/0), nullptr, trainer.Loop(10, 10)).ok());
  EXPECT_EQ(trainer.step, 10);
  EXPECT_EQ(trainer.validated, (std::vector<int64_t>{4, 8, 10}));
  ASSERT_EQ(trainer.history.size(), 3u);
  EXPECT_EQ(trainer.history[2], (nlohmann::json{{"step", 10}, {"accuracy", 0.5}, {"weight", 10.0}}));
}

TEST(TrainingLoopTest, StopsAfterPatienceAndRestoresTheBestWeightsWithTheirDetails) {
  ScriptedTrainer trainer({0.5, 0.7, 0.6, 0.6, 0.9, 0.9, 0.9, 0.9});
  ASSERT_TRUE(RunTrainingLoop(Config(8, 1, /*patience=*/2), nullptr, trainer.Loop(8, 8)).ok());
  EXPECT_EQ(trainer.step, 4);  // steps 3 and 4 did not improve on step 2
  EXPECT_EQ(trainer.weight.item<double>(), 2.0);
  ASSERT_EQ(trainer.history.size(), 5u);
  EXPECT_EQ(trainer.history.back(),
            (nlohmann::json{{"step", 4}, {"accuracy", 0.7}, {"restored_from_step", 2}, {"weight", 2.0}}));
}

TEST(TrainingLoopTest, AfterStepRunsEveryStepEvenTheStoppingOne) {
  ScriptedTrainer trainer({0.9, 0.1, 0.1, 0.1});
  TrainingLoop loop = trainer.Loop(4, 4);
  std::vector<int64_t> after;
  loop.after_step = [&](int64_t step) {
    after.push_back(step);
    return absl::OkStatus();
  };
  ASSERT_TRUE(RunTrainingLoop(Config(4, 1, /*patience=*/1), nullptr, loop).ok());
  EXPECT_EQ(after, (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(trainer.weight.item<double>(), 1.0);
}

TEST(TrainingLoopTest, ARunPausedBeforeItsFinalStepKeepsItsCurrentWeights) {
  ScriptedTrainer trainer({0.9, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1});
  ASSERT_TRUE(RunTrainingLoop(Config(10, 1, /*patience=*/9), nullptr, trainer.Loop(5, 10)).ok());
  EXPECT_EQ(trainer.step, 5);
  EXPECT_EQ(trainer.weight.item<double>(), 5.0);
  EXPECT_EQ(trainer.history.size(), 5u);  // no restore entry
  // Resumed to the end, only this call's validations count: the best is step 6's 0.1.
  ASSERT_TRUE(RunTrainingLoop(Config(10, 1, /*patience=*/9), nullptr, trainer.Loop(10, 10)).ok());
  EXPECT_EQ(trainer.weight.item<double>(), 6.0);
  EXPECT_EQ(trainer.history.back()["restored_from_step"], 6);
}

TEST(TrainingLoopTest, RefusesToRunBeyondTheConfigsStepsUnlessAllowed) {
  ScriptedTrainer trainer(std::vector<double>(6, 0.5));
  TrainingLoop loop = trainer.Loop(6, 6);
  EXPECT_EQ(RunTrainingLoop(Config(5, 0, 0), nullptr, loop).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(trainer.step, 0);
  loop.refuse_beyond_config_steps = false;
  ASSERT_TRUE(RunTrainingLoop(Config(5, 0, 0), nullptr, loop).ok());
  EXPECT_EQ(trainer.step, 6);
  EXPECT_EQ(trainer.validated, (std::vector<int64_t>{6}));  // the final step is until_step here
}

TEST(TrainingLoopTest, AStepsErrorEndsTheRun) {
  ScriptedTrainer trainer(std::vector<double>(4, 0.5));
  TrainingLoop loop = trainer.Loop(4, 4);
  loop.step = [&]() -> absl::StatusOr<LoopStep> {
    if (trainer.step == 2) return absl::InternalError("non-finite loss");
    return LoopStep{++trainer.step, 0, 0, 0};
  };
  EXPECT_EQ(RunTrainingLoop(Config(4, 1, 0), nullptr, loop).code(), absl::StatusCode::kInternal);
  EXPECT_EQ(trainer.validated, (std::vector<int64_t>{1, 2}));
}

TEST(TrainingLoopTest, WithoutValidationItOnlySteps) {
  ScriptedTrainer trainer((std::vector<double>()));
  TrainingLoop loop = trainer.Loop(3, 3);
  loop.validate = nullptr;
  loop.parameters = nullptr;
  loop.history = nullptr;
  ASSERT_TRUE(RunTrainingLoop(Config(3, 1, 2), nullptr, loop).ok());
  EXPECT_EQ(trainer.step, 3);
  EXPECT_TRUE(trainer.history.empty());
}

}  // namespace
}  // namespace lip
