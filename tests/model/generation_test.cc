// Generation (greedy parity with transformers, cache == recompute, sampling, stop tokens) and
// label scoring.
#include "bridge/model/generation.h"

#include <ATen/CPUGeneratorImpl.h>

#include "bridge/model/label_scorer.h"
#include "bridge/model/static_decoder.h"
#include "gtest/gtest.h"
#include "tests/model/test_util.h"

namespace lip {
namespace {

using testing::FixtureDir;
using testing::FixtureNames;
using testing::LoadGolden;

std::vector<int64_t> Row(const torch::Tensor& t, int64_t r) {
  torch::Tensor row = t[r].contiguous();
  return std::vector<int64_t>(row.data_ptr<int64_t>(), row.data_ptr<int64_t>() + row.numel());
}

class GenerationFixtureTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    auto model = DecoderModel::Load(FixtureDir(GetParam()), LoadOptions{});
    ASSERT_TRUE(model.ok()) << model.status();
    model_ = *std::move(model);
  }
  std::unique_ptr<DecoderModel> model_;
};

TEST_P(GenerationFixtureTest, Greedy32TokensMatchTransformers) {
  auto golden = LoadGolden(GetParam());
  GenerationOptions opts;
  opts.max_new_tokens = 32;
  auto result = GenerateFromIds(*model_, golden.Get("ids"), {}, opts);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->tokens[0], Row(golden.Get("greedy"), 0));
  EXPECT_FALSE(result->stopped[0]);
}

TEST_P(GenerationFixtureTest, LeftPaddedBatchGreedyEqualsEachRowAlone) {
  auto golden = LoadGolden(GetParam());
  GenerationOptions opts;
  opts.max_new_tokens = 16;
  auto result = GenerateFromIds(*model_, golden.Get("batch_ids"), golden.Get("batch_mask"), opts);
  ASSERT_TRUE(result.ok()) << result.status();
  torch::Tensor expected = golden.Get("batch_greedy");
  for (int64_t r = 0; r < expected.size(0); ++r) EXPECT_EQ(result->tokens[r], Row(expected, r)) << "row " << r;
}

TEST_P(GenerationFixtureTest, CachedDecodingEqualsFullRecompute) {
  auto golden = LoadGolden(GetParam());
  GenerationOptions opts;
  opts.max_new_tokens = 12;
  opts.do_sample = true;
  opts.temperature = 0.8;
  opts.top_p = 0.9;
  opts.seed = 42;
  auto cached = GenerateFromIds(*model_, golden.Get("batch_ids"), golden.Get("batch_mask"), opts);
  opts.use_cache = false;
  auto recomputed = GenerateFromIds(*model_, golden.Get("batch_ids"), golden.Get("batch_mask"), opts);
  ASSERT_TRUE(cached.ok() && recomputed.ok());
  EXPECT_EQ(cached->tokens, recomputed->tokens);
}

// Whether the static-shape decoder (bridge/model/static_decoder.h) can serve 128 positions: no
// sliding window shorter than that.
bool StaticCacheFits(const DecoderModel& model) {
  for (int64_t w : model.config().layer_sliding_window) {
    if (w > 0 && w < 128) return false;
  }
  return true;
}

TEST_P(GenerationFixtureTest, StaticCacheGreedyMatchesTransformers) {
  auto golden = LoadGolden(GetParam());
  GenerationOptions opts;
  opts.max_new_tokens = 32;
  opts.force_static_cache = true;
  auto result = GenerateFromIds(*model_, golden.Get("ids"), {}, opts);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->static_cache, StaticCacheFits(*model_));
  EXPECT_FALSE(result->graph_replayed);  // the CPU runs the static steps eagerly
  EXPECT_EQ(result->tokens[0], Row(golden.Get("greedy"), 0));
}

TEST_P(GenerationFixtureTest, StaticCacheLeftPaddedSampledBatchEqualsGrowingCache) {
  auto golden = LoadGolden(GetParam());
  GenerationOptions opts;
  opts.max_new_tokens = 12;
  opts.do_sample = true;
  opts.temperature = 0.8;
  opts.seed = 7;
  auto growing = GenerateFromIds(*model_, golden.Get("batch_ids"), golden.Get("batch_mask"), opts);
  opts.force_static_cache = true;
  auto fixed = GenerateFromIds(*model_, golden.Get("batch_ids"), golden.Get("batch_mask"), opts);
  ASSERT_TRUE(growing.ok() && fixed.ok());
  EXPECT_FALSE(growing->static_cache);
  EXPECT_EQ(fixed->static_cache, StaticCacheFits(*model_));
  EXPECT_EQ(fixed->tokens, growing->tokens);
}

TEST_P(GenerationFixtureTest, BusyStaticDecoderFallsBackToTheGrowingCache) {
  if (!StaticCacheFits(*model_)) GTEST_SKIP() << "sliding window under 128 positions: no static decoder";
  auto golden = LoadGolden(GetParam());
  torch::Tensor ids = golden.Get("ids");
  // Another generation holds the bucket (one row, up to 128 positions).
  auto lease = AcquireStaticDecoder(*model_, 1, ids.size(1) + 8, /*force=*/true);
  ASSERT_NE(lease, nullptr);
  GenerationOptions opts;
  opts.max_new_tokens = 8;
  opts.force_static_cache = true;
  auto result = GenerateFromIds(*model_, ids, {}, opts);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_FALSE(result->static_cache);
  std::vector<int64_t> greedy = Row(golden.Get("greedy"), 0);
  EXPECT_EQ(result->tokens[0], std::vector<int64_t>(greedy.begin(), greedy.begin() + 8));
  lease.reset();  // released: the next generation gets it
  result = GenerateFromIds(*model_, ids, {}, opts);
  ASSERT_TRUE(result.ok());
  EXPECT_TRUE(result->static_cache);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, GenerationFixtureTest, ::testing::ValuesIn(FixtureNames()),
                         [](const auto& info) { return info.param; });

TEST(GenerationTest, StopsAtStopTokenPerRowAndPadsFinishedRows) {
  auto model = DecoderModel::Load(FixtureDir("llama_gqa"), LoadOptions{});
  ASSERT_TRUE(model.ok());
  auto golden = LoadGolden("llama_gqa");
  std::vector<int64_t> greedy = Row(golden.Get("greedy"), 0);
  GenerationOptions opts;
  opts.max_new_tokens = 32;
  opts.stop_token_ids = {greedy[4]};
  auto result = GenerateFromIds(**model, golden.Get("ids"), {}, opts);
  ASSERT_TRUE(result.ok());
  // Stops at the first occurrence of the stop token, which is kept.
  size_t first = std::find(greedy.begin(), greedy.end(), greedy[4]) - greedy.begin();
  EXPECT_EQ(result->tokens[0], std::vector<int64_t>(greedy.begin(), greedy.begin() + first + 1));
  EXPECT_TRUE(result->stopped[0]);
}

TEST(GenerationTest, SamplingIsSeededAndTopPRestrictsTheChoice) {
  GenerationOptions opts;
  opts.do_sample = true;
  opts.seed = 3;
  torch::Tensor logits = torch::tensor({{0.0f, 5.0f, 4.9f, -10.0f}}).repeat({64, 1});
  at::Generator g1 = at::make_generator<at::CPUGeneratorImpl>(3);
  at::Generator g2 = at::make_generator<at::CPUGeneratorImpl>(3);
  torch::Tensor a = ChooseNextTokens(logits, opts, g1);
  torch::Tensor b = ChooseNextTokens(logits, opts, g2);
  EXPECT_TRUE(torch::equal(a, b));
  EXPECT_GT((a == 2).sum().item<int64_t>(), 0);  // both likely tokens get drawn
  EXPECT_GT((a == 1).sum().item<int64_t>(), 0);
  opts.top_p = 0.5;  // token 1 alone holds > 50%
  torch::Tensor c = ChooseNextTokens(logits, opts, g1);
  EXPECT_TRUE((c == 1).all().item<bool>());
  opts.do_sample = false;
  EXPECT_TRUE((ChooseNextTokens(logits, opts, g1) == 1).all().item<bool>());
}

TEST(GenerationTest, RejectsBadOptions) {
  auto model = DecoderModel::Load(FixtureDir("llama_gqa"), LoadOptions{});
  ASSERT_TRUE(model.ok());
  GenerationOptions opts;
  opts.do_sample = true;
  opts.temperature = 0;
  EXPECT_EQ(GenerateFromIds(**model, torch::tensor({{1, 2}}), {}, opts).status().code(),
            absl::StatusCode::kInvalidArgument);
  opts = GenerationOptions();
  opts.max_new_tokens = -1;
  EXPECT_FALSE(GenerateFromIds(**model, torch::tensor({{1, 2}}), {}, opts).ok());
  EXPECT_FALSE(GenerateFromIds(**model, torch::tensor({{1, 9999}}), {}, GenerationOptions()).ok());
}

// Reference: log p(label | prefix) from one full forward over prefix + label per (row, label).
double BruteForceLogProb(const DecoderModel& model, const torch::Tensor& prefix_ids, const torch::Tensor& prefix_mask,
                         const std::vector<int64_t>& label) {
  torch::Tensor label_ids = torch::tensor(label).view({1, -1});
  ForwardInput in;
  in.inputs_embeds = model.EmbedTokens(torch::cat({prefix_ids, label_ids}, 1));
  in.attention_mask = torch::cat({prefix_mask, torch::ones_like(label_ids)}, 1);
  torch::Tensor logp = torch::log_softmax(model.Forward(in).logits[0], -1);
  const int64_t T = prefix_ids.size(1);
  double total = 0;
  for (size_t j = 0; j < label.size(); ++j) total += logp[T - 1 + j][label[j]].item<double>();
  return total;
}

TEST(LabelScorerTest, MatchesBruteForceForPaddedBatchAndUnequalLabels) {
  auto model = DecoderModel::Load(FixtureDir("mistral_sw"), LoadOptions{});
  ASSERT_TRUE(model.ok());
  torch::NoGradGuard no_grad;
  auto golden = LoadGolden("mistral_sw");
  torch::Tensor ids = golden.Get("batch_ids");
  torch::Tensor mask = golden.Get("batch_mask");
  const std::vector<std::vector<int64_t>> labels = {{17}, {40, 41, 42}, {250, 3}};
  auto scores = ScoreLabels(**model, (*model)->EmbedTokens(ids), mask, labels);
  ASSERT_TRUE(scores.ok()) << scores.status();
  ASSERT_EQ(scores->sizes(), torch::IntArrayRef({3, 3}));
  for (int64_t b = 0; b < 3; ++b) {
    for (size_t l = 0; l < labels.size(); ++l) {
      const double expected = BruteForceLogProb(**model, ids.narrow(0, b, 1), mask.narrow(0, b, 1), labels[l]);
      EXPECT_NEAR((*scores)[b][l].item<double>(), expected, 1e-4 * std::max(1.0, std::abs(expected)))
          << "row " << b << " label " << l;
    }
  }
  LabelScoringOptions mean;
  mean.length_normalize = true;
  auto normalized = ScoreLabels(**model, (*model)->EmbedTokens(ids), mask, labels, mean);
  ASSERT_TRUE(normalized.ok());
  EXPECT_NEAR((*normalized)[0][1].item<double>(), (*scores)[0][1].item<double>() / 3, 1e-5);
  EXPECT_FALSE(ScoreLabels(**model, (*model)->EmbedTokens(ids), mask, {}).ok());
  EXPECT_FALSE(ScoreLabels(**model, (*model)->EmbedTokens(ids), mask, {{}}).ok());
  EXPECT_FALSE(ScoreLabels(**model, (*model)->EmbedTokens(ids), mask, {{300}}).ok());
}

TEST(LabelScorerTest, GradientFlowsToThePrefixEmbeddings) {
  auto model = DecoderModel::Load(FixtureDir("qwen2_tied"), LoadOptions{});
  ASSERT_TRUE(model.ok());
  torch::Tensor embeds = torch::randn({2, 4, (*model)->hidden_size()}).set_requires_grad(true);
  auto scores = ScoreLabels(**model, embeds, {}, {{5, 6}, {7}});
  ASSERT_TRUE(scores.ok()) << scores.status();
  (*scores).select(1, 0).sum().backward();
  ASSERT_TRUE(embeds.grad().defined());
  EXPECT_GT(embeds.grad().abs().sum().item<double>(), 0.0);
}

}  // namespace
}  // namespace lip
