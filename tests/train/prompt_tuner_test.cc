// Receiver-only prompt tuning (the bridge's reference) on a tiny random receiver with its real
// tokenizer and SST-2 training rows: only the soft prompt changes, the loss stays finite, and the
// same seed gives the same prompt.
#include "bridge/train/prompt_tuner.h"

#include <cmath>

#include "gtest/gtest.h"
#include "tests/latent/test_models.h"

namespace lip {
namespace {

TrainConfig PromptConfig() {
  TrainConfig c;
  c.task = "sst2";
  c.label_names = {"negative", "positive"};
  c.priming = {"Review:", "\nSentiment:"};
  c.max_text_tokens = 16;
  c.perceiver.num_queries = 3;
  c.steps = 4;
  c.batch_size = 4;
  c.learning_rate = 1e-2;
  c.warmup_steps = 1;
  c.eval_every = 0;
  return c;
}

std::unique_ptr<PromptTuner> MakeTuner(const testing_models::ModelAndTokenizer& receiver) {
  auto all = ReadJsonlDataset("tests/data/sst2-train-head100.jsonl", {"negative", "positive"}, 40);
  EXPECT_TRUE(all.ok()) << all.status();
  TextDataset train, validation;
  EXPECT_TRUE(SplitValidation(*all, 8, 1, &train, &validation).ok());
  auto tuner = PromptTuner::Create(PromptConfig(), receiver.model, receiver.tokenizer, train, validation);
  EXPECT_TRUE(tuner.ok()) << tuner.status();
  return tuner.ok() ? std::move(*tuner) : nullptr;
}

TEST(PromptTunerTest, TrainsOnlyTheSoftPromptDeterministically) {
  torch::set_num_threads(1);
  auto receiver = testing_models::TinyReceiver();
  const torch::Tensor embedding_before = receiver.model->embedding_weight().clone();
  auto tuner = MakeTuner(receiver);
  ASSERT_NE(tuner, nullptr);
  const torch::Tensor prompt_before = tuner->prompt().detach().clone();
  EXPECT_EQ(prompt_before.size(0), 3);
  EXPECT_EQ(prompt_before.size(1), receiver.model->hidden_size());
  auto last = tuner->Train(4, nullptr);
  ASSERT_TRUE(last.ok()) << last.status();
  EXPECT_EQ(last->step, 4);
  EXPECT_TRUE(std::isfinite(last->loss));
  EXPECT_FALSE(torch::equal(prompt_before, tuner->prompt().detach()));
  EXPECT_TRUE(torch::equal(embedding_before, receiver.model->embedding_weight()));  // frozen
  ASSERT_EQ(tuner->validation_history().size(), 1u);  // evaluated at the end

  auto again = MakeTuner(receiver);
  ASSERT_NE(again, nullptr);
  ASSERT_TRUE(again->Train(4, nullptr).ok());
  EXPECT_TRUE(torch::allclose(again->prompt(), tuner->prompt()));

  TextDataset data;
  data.label_names = {"negative", "positive"};
  data.examples = {{"a fine film", 1}, {"dull and long", 0}, {"", 1}};  // an empty text is still framed
  auto eval = tuner->Evaluate(data);
  ASSERT_TRUE(eval.ok()) << eval.status();
  EXPECT_EQ(eval->examples, 3);
}

}  // namespace
}  // namespace lip
