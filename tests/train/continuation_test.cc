// Continuation bridges (generation over the wire): passages are cut as documented, a few training
// steps lower the continuation loss on the training batch, and the evaluator scores its three
// conditions on the same tokens — with the real demo receiver, the text prefix lowers the
// continuation's NLL below the no-prefix frame. tests/data/wikitext-103-train-head8.txt holds eight
// paragraphs of WikiText-103's training split (CC BY-SA 3.0).
#include <unistd.h>

#include <cmath>
#include <filesystem>

#include "bridge/eval/continuation_eval.h"
#include "bridge/train/continuation_trainer.h"
#include "bridge/train/passage_corpus.h"
#include "gtest/gtest.h"
#include "tests/latent/test_models.h"

namespace lip {
namespace {

constexpr char kPassages[] = "tests/data/wikitext-103-train-head8.txt";

TEST(PassageCorpusTest, SplitsPrefixAndContinuationAndSkipsHeadingsAndShortLines) {
  PassageOptions options;
  options.prefix_words = 3;
  options.min_continuation_words = 2;
  Passage p;
  ASSERT_TRUE(SplitPassage(" The  well @-@ known game was   released .", options, &p));
  EXPECT_EQ(p.prefix, "The well-known game");
  EXPECT_EQ(p.continuation, " was released .");
  EXPECT_FALSE(SplitPassage(" = Heading with enough words here = ", options, &p));
  EXPECT_FALSE(SplitPassage("one two three four", options, &p));
}

TEST(PassageCorpusTest, ReadsLimitedStridedPassagesAndReportsMissingFiles) {
  PassageOptions options;
  options.prefix_words = 24;
  auto all = ReadPassages(kPassages, options);
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->size(), 8u);
  options.limit = 3;
  options.stride = 2;
  auto some = ReadPassages(kPassages, options);
  ASSERT_TRUE(some.ok()) << some.status();
  ASSERT_EQ(some->size(), 3u);
  EXPECT_EQ((*some)[1].prefix, (*all)[2].prefix);
  EXPECT_EQ(ReadPassages("tests/data/no-such-corpus.txt", options).status().code(), absl::StatusCode::kNotFound);
  options.prefix_words = 100000;
  EXPECT_EQ(ReadPassages(kPassages, options).status().code(), absl::StatusCode::kInvalidArgument);
}

TrainConfig SmallConfig() {
  TrainConfig c;
  c.name = "continuation-test";
  c.priming = {"Passage:", ""};
  c.source_layer = 1;
  c.max_text_tokens = 40;
  c.perceiver.num_queries = 4;
  c.perceiver.width = 32;
  c.perceiver.num_heads = 2;
  c.perceiver.depth = 1;
  c.perceiver.output_width = 32;
  c.adapter.hidden_width = 64;
  c.steps = 12;
  c.batch_size = 4;
  c.learning_rate = 3e-3;
  c.warmup_steps = 1;
  c.normalizer_texts = 8;
  return c;
}

absl::StatusOr<std::vector<ContinuationExample>> Examples(const Tokenizer& receiver_tokenizer, int64_t k) {
  PassageOptions options;
  options.prefix_words = 24;
  auto passages = ReadPassages(kPassages, options);
  if (!passages.ok()) return passages.status();
  return MakeContinuationExamples(receiver_tokenizer, *passages, k);
}

TEST(ContinuationTrainerTest, TrainingLowersTheContinuationLossOnTheTrainingBatch) {
  torch::set_num_threads(1);
  auto sender = testing_models::TinySender();
  auto receiver = testing_models::TinyReceiver();
  BridgeEndpoints endpoints{sender.model, sender.tokenizer, {"", "tiny-sender", "", ""},
                            receiver.model, receiver.tokenizer, {"", "tiny-receiver", "", ""}};
  auto examples = Examples(*receiver.tokenizer, 8);
  ASSERT_TRUE(examples.ok()) << examples.status();
  ASSERT_EQ(examples->size(), 8u);
  for (const ContinuationExample& e : *examples) EXPECT_EQ(e.targets.size(), 8u);
  TrainConfig config = SmallConfig();
  config.batch_size = 4;
  auto trainer = ContinuationTrainer::Create(config, endpoints, *examples, 8);
  ASSERT_TRUE(trainer.ok()) << trainer.status();
  const std::vector<int64_t> batch = {0, 1, 2, 3, 4, 5, 6, 7};
  auto before = (*trainer)->Loss(batch);
  ASSERT_TRUE(before.ok()) << before.status();
  auto last = (*trainer)->Train(config.steps, nullptr);
  ASSERT_TRUE(last.ok()) << last.status();
  auto after = (*trainer)->Loss(batch);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_TRUE(std::isfinite(*before));
  EXPECT_LT(*after, *before - 0.05) << "before " << *before << " after " << *after;

  // The saved bridge is a continuation bridge with no labels, loadable by the pipelines.
  const std::string dir = (std::filesystem::temp_directory_path() /
                           ("lip-continuation-test-" + std::to_string(::getpid()))).string();
  ASSERT_TRUE((*trainer)->SaveBridge(dir, nlohmann::json::object()).ok());
  auto metadata = ReadBridgeMetadata(dir);
  ASSERT_TRUE(metadata.ok()) << metadata.status();
  EXPECT_EQ(metadata->task, kContinuationTask);
  EXPECT_TRUE(metadata->labels.empty());
  EXPECT_EQ(metadata->training["continuation_tokens"], 8);
  std::filesystem::remove_all(dir);
}

TEST(ContinuationTrainerTest, RefusesAFrameWithoutAnyTokenBeforeTheSoftTokens) {
  auto sender = testing_models::TinySender();
  auto receiver = testing_models::TinyReceiver();  // qwen2: no BOS
  BridgeEndpoints endpoints{sender.model, sender.tokenizer, {}, receiver.model, receiver.tokenizer, {}};
  auto examples = Examples(*receiver.tokenizer, 4);
  ASSERT_TRUE(examples.ok()) << examples.status();
  TrainConfig config = SmallConfig();
  config.priming = {"", ""};
  EXPECT_EQ(ContinuationTrainer::Create(config, endpoints, *examples, 4).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// The real demo pair (shipped in demo/models): the text prefix is information the receiver uses.
TEST(ContinuationEvalTest, ScoresTheSameTokensInEveryConditionAndTheTextPrefixHelps) {
  torch::set_num_threads(1);
  BridgeEndpoints endpoints;
  auto sender_model = DecoderModel::Load("demo/models/sender-llama", LoadOptions());
  auto receiver_model = DecoderModel::Load("demo/models/receiver-qwen2", LoadOptions());
  ASSERT_TRUE(sender_model.ok()) << sender_model.status();
  ASSERT_TRUE(receiver_model.ok()) << receiver_model.status();
  endpoints.sender_model = std::move(*sender_model);
  endpoints.receiver_model = std::move(*receiver_model);
  auto sender_tokenizer = Tokenizer::FromDirectory("demo/models/sender-llama");
  auto receiver_tokenizer = Tokenizer::FromDirectory("demo/models/receiver-qwen2");
  ASSERT_TRUE(sender_tokenizer.ok() && receiver_tokenizer.ok());
  endpoints.sender_tokenizer = std::move(*sender_tokenizer);
  endpoints.receiver_tokenizer = std::move(*receiver_tokenizer);
  endpoints.sender_id.name = "sender-llama";
  endpoints.receiver_id.name = "receiver-qwen2";
  auto examples = Examples(*endpoints.receiver_tokenizer, 12);
  ASSERT_TRUE(examples.ok()) << examples.status();
  TrainConfig config = SmallConfig();
  auto trainer = ContinuationTrainer::Create(config, endpoints, *examples, 12);
  ASSERT_TRUE(trainer.ok()) << trainer.status();
  ASSERT_TRUE((*trainer)->FitNormalizer().ok());

  ContinuationEvalOptions options;
  options.batch_size = 3;  // a partial last batch
  options.samples = 2;
  options.sample_tokens = 6;
  int64_t reported = 0;
  options.progress = [&reported](int64_t done, int64_t total) {
    EXPECT_EQ(total, 8);
    reported = done;
  };
  auto result = EvaluateContinuation((*trainer)->sender_pipeline(), (*trainer)->receiver_pipeline(), *examples, options);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(reported, 8);
  EXPECT_EQ(result->passages, 8);
  EXPECT_EQ(result->tokens_per_passage, 12);
  EXPECT_LT(result->nll_text, result->nll_none - 0.1) << result->nll_text << " vs " << result->nll_none;
  EXPECT_NEAR(result->gap_closed,
              (result->nll_none - result->nll_soft) / (result->nll_none - result->nll_text), 1e-12);
  // Batches of 3, 3 and 2 passages: every passage is also scored with another one's soft tokens.
  EXPECT_EQ(result->mismatched_passages, 8);
  EXPECT_TRUE(std::isfinite(result->nll_mismatched));
  EXPECT_NEAR(result->passage_gap_closed,
              (result->nll_mismatched - result->nll_soft) / (result->nll_none - result->nll_text), 1e-12);
  // The soft condition's NLL is the trainer's loss on the same passages (same tokens, same frame).
  std::vector<int64_t> all = {0, 1, 2, 3, 4, 5, 6, 7};
  auto loss = (*trainer)->Loss(all);
  ASSERT_TRUE(loss.ok()) << loss.status();
  EXPECT_NEAR(result->nll_soft, *loss, 1e-3);
  ASSERT_EQ(result->samples.size(), 2u);
  EXPECT_EQ(result->samples[0].prefix, (*examples)[0].prefix);
  EXPECT_FALSE(result->samples[0].text_continuation.empty());
  EXPECT_FALSE(result->samples[0].soft_continuation.empty());
}

}  // namespace
}  // namespace lip
