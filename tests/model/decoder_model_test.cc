// DecoderModel parity against transformers 5 golden outputs (tests/data/models/*/golden.safetensors)
// for llama (GQA; MQA + explicit head_dim + llama3 rope + biases, sharded), mistral (sliding
// window) and qwen2 (q/k/v bias, tied embeddings), all fp32 on CPU.
#include "bridge/model/decoder_model.h"

#include <cstdio>

#include "gtest/gtest.h"
#include "tests/model/test_util.h"

namespace lip {
namespace {

using testing::FixtureDir;
using testing::FixtureNames;
using testing::Golden;
using testing::LoadGolden;
using testing::RelativeError;

constexpr double kTol = 1e-4;

class FixtureTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    auto model = DecoderModel::Load(FixtureDir(GetParam()), LoadOptions{});
    ASSERT_TRUE(model.ok()) << model.status();
    model_ = *std::move(model);
    golden_ = LoadGolden(GetParam());
  }
  ForwardOutput Run(const torch::Tensor& ids, const torch::Tensor& mask = {}, bool hidden = false) {
    ForwardInput in;
    in.inputs_embeds = model_->EmbedTokens(ids);
    in.attention_mask = mask;
    in.output_hidden_states = hidden;
    EXPECT_TRUE(model_->CheckForwardInput(in).ok());
    return model_->Forward(in);
  }
  std::unique_ptr<DecoderModel> model_;
  Golden golden_;
  torch::NoGradGuard no_grad_;
};

TEST_P(FixtureTest, LogitsAndHiddenStatesMatchTransformers) {
  torch::Tensor ids = golden_.Get("ids");
  ForwardOutput out = Run(ids, {}, /*hidden=*/true);
  torch::Tensor logits = golden_.Get("logits");
  const double last_error = RelativeError(out.logits.select(1, -1), logits.select(1, -1));
  EXPECT_LT(last_error, kTol) << "last-position logits";
  std::printf("%s: last-position logits relative error %.2e\n", GetParam().c_str(), last_error);
  EXPECT_LT(RelativeError(out.logits, logits), kTol) << "all-position logits";
  EXPECT_TRUE(torch::equal(out.logits.argmax(-1), logits.argmax(-1)));
  ASSERT_EQ(static_cast<int64_t>(out.hidden_states.size()), model_->num_layers() + 1);
  for (int64_t i = 0; i <= model_->num_layers(); ++i) {
    EXPECT_LT(RelativeError(out.hidden_states[i], golden_.Get("hidden_" + std::to_string(i))), kTol)
        << "hidden state " << i;
  }
  EXPECT_TRUE(torch::equal(out.last_hidden, out.hidden_states.back()));
}

TEST_P(FixtureTest, EarlyExitReturnsThatLayersHiddenStateOnly) {
  torch::Tensor ids = golden_.Get("ids");
  for (int k = 0; k <= model_->num_layers(); ++k) {
    ForwardInput in;
    in.inputs_embeds = model_->EmbedTokens(ids);
    in.stop_after_layer = k;
    ForwardOutput out = model_->Forward(in);
    EXPECT_FALSE(out.logits.defined());
    EXPECT_LT(RelativeError(out.last_hidden, golden_.Get("hidden_" + std::to_string(k))), kTol) << "layer " << k;
  }
}

TEST_P(FixtureTest, LeftPaddedRowsEqualUnpaddedRows) {
  torch::Tensor ids = golden_.Get("batch_ids");
  torch::Tensor mask = golden_.Get("batch_mask");
  ForwardOutput out = Run(ids, mask);
  torch::Tensor expected = golden_.Get("batch_last_logits");
  for (int64_t r = 0; r < ids.size(0); ++r) {
    EXPECT_LT(RelativeError(out.logits[r][-1], expected[r]), kTol) << "row " << r;
  }
}

TEST_P(FixtureTest, SoftTokensSplicedBetweenTokenEmbeddings) {
  torch::Tensor ids = golden_.Get("ids");
  torch::Tensor soft = golden_.Get("soft_embeds");
  ForwardInput in;
  in.inputs_embeds = torch::cat({model_->EmbedTokens(ids.narrow(1, 0, 6)), soft,
                                 model_->EmbedTokens(ids.narrow(1, 6, 6))},
                                1);
  in.logits_last_only = true;
  ForwardOutput out = model_->Forward(in);
  ASSERT_EQ(out.logits.size(1), 1);
  EXPECT_LT(RelativeError(out.logits.select(1, 0), golden_.Get("soft_logits_last")), kTol);
}

TEST_P(FixtureTest, IncrementalDecodeWithCacheEqualsFullRecompute) {
  torch::Tensor ids = golden_.Get("batch_ids");
  torch::Tensor mask = golden_.Get("batch_mask");
  ForwardOutput full = Run(ids, mask);
  // Prefill 12 positions, then 3 steps of one token, then the remaining 5 at once.
  KvCache cache;
  std::vector<torch::Tensor> pieces;
  int64_t pos = 0;
  for (int64_t len : {12, 1, 1, 1, 5}) {
    ForwardInput in;
    in.inputs_embeds = model_->EmbedTokens(ids.narrow(1, pos, len));
    in.attention_mask = mask.narrow(1, pos, len);
    in.cache = &cache;
    pieces.push_back(model_->Forward(in).logits);
    pos += len;
  }
  EXPECT_EQ(cache.length(), ids.size(1));
  torch::Tensor incremental = torch::cat(pieces, 1);
  torch::Tensor real = mask.to(torch::kBool);
  EXPECT_LT(RelativeError(incremental.index({real}), full.logits.index({real})), 1e-5);
}

// bf16 weights with fp32 activations (the default) must track the fp32 model more closely than
// bf16 everywhere (transformers' bf16), and keep the activations fp32 (the KV cache too). Both run
// the eager runtime, op for op as transformers, so only the activations' precision differs (the
// fast runtime's fused ops round less often: FastRuntimeComputesTheEagerRuntimesValues).
TEST_P(FixtureTest, Bf16WithFp32ActivationsTracksFp32CloserThanAllBf16) {
  LoadOptions mixed;
  mixed.dtype = torch::kBFloat16;
  mixed.fast_runtime = false;
  LoadOptions all_bf16 = mixed;
  all_bf16.fp32_activations = false;
  auto a = DecoderModel::Load(FixtureDir(GetParam()), mixed);
  auto b = DecoderModel::Load(FixtureDir(GetParam()), all_bf16);
  ASSERT_TRUE(a.ok() && b.ok()) << a.status() << b.status();
  torch::Tensor ids = golden_.Get("ids");
  torch::Tensor reference = golden_.Get("logits");
  auto run = [&](const DecoderModel& m, KvCache* cache) {
    ForwardInput in;
    in.inputs_embeds = m.EmbedTokens(ids);
    in.output_hidden_states = true;
    in.cache = cache;
    return m.Forward(in);
  };
  KvCache cache;
  ForwardOutput mixed_out = run(**a, &cache);
  ForwardOutput bf16_out = run(**b, nullptr);
  EXPECT_EQ(mixed_out.logits.scalar_type(), torch::kFloat32);
  EXPECT_EQ(mixed_out.hidden_states.back().scalar_type(), torch::kFloat32);
  EXPECT_EQ(bf16_out.hidden_states.back().scalar_type(), torch::kBFloat16);
  EXPECT_EQ(cache.length(), ids.size(1));
  const double mixed_error = RelativeError(mixed_out.logits, reference);
  const double bf16_error = RelativeError(bf16_out.logits, reference);
  std::printf("%s: bf16 logits relative error: fp32 activations %.2e, all bf16 %.2e\n", GetParam().c_str(),
              mixed_error, bf16_error);
  EXPECT_LT(mixed_error, bf16_error);
  EXPECT_LT(mixed_error, 2e-2);
}

// The fast runtime (fused rms_norm, rope on q and k in one pass with the folded sine, grouped
// attention without copied keys, the residual inside the down projection) computes the eager
// runtime's values: in fp32 up to summation order, through a padded prefill and single-token
// decode steps with the KV cache; in bf16 no further from the fp32 reference than the bound above.
TEST_P(FixtureTest, FastRuntimeComputesTheEagerRuntimesValues) {
  LoadOptions eager;
  eager.fast_runtime = false;
  LoadOptions fast;
  ASSERT_TRUE(fast.fast_runtime);
  auto e = DecoderModel::Load(FixtureDir(GetParam()), eager);
  auto f = DecoderModel::Load(FixtureDir(GetParam()), fast);
  ASSERT_TRUE(e.ok() && f.ok()) << e.status() << f.status();
  torch::Tensor ids = golden_.Get("ids");
  torch::Tensor mask = torch::ones_like(ids);
  mask.narrow(1, 0, 3).zero_();  // left padding: the masked attention path
  const int64_t prompt = ids.size(1) - 3;
  auto run = [&](const DecoderModel& m) {
    std::vector<torch::Tensor> pieces;  // what is compared: logits and a middle layer's states
    KvCache cache;
    int64_t pos = 0;
    for (int64_t len : {prompt, int64_t{1}, int64_t{1}, int64_t{1}}) {
      ForwardInput in;
      in.inputs_embeds = m.EmbedTokens(ids.narrow(1, pos, len));
      in.attention_mask = mask.narrow(1, pos, len);
      in.cache = &cache;
      in.output_hidden_states = true;
      ForwardOutput out = m.Forward(in);
      const int64_t real_from = pos == 0 ? 3 : 0;  // the padded positions' outputs are not used
      pieces.push_back(out.logits.narrow(1, real_from, len - real_from));
      pieces.push_back(out.hidden_states[out.hidden_states.size() / 2].narrow(1, real_from, len - real_from));
      pos += len;
    }
    ForwardInput whole;  // unpadded, no cache: the causal path
    whole.inputs_embeds = m.EmbedTokens(ids);
    pieces.push_back(m.Forward(whole).logits);
    return pieces;
  };
  std::vector<torch::Tensor> eager_out = run(**e), fast_out = run(**f);
  ASSERT_EQ(eager_out.size(), fast_out.size());
  for (size_t i = 0; i < eager_out.size(); ++i) {
    EXPECT_LT(RelativeError(fast_out[i], eager_out[i]), 1e-5) << "piece " << i;
  }
  LoadOptions fast_bf16;
  fast_bf16.dtype = torch::kBFloat16;
  fast_bf16.fp32_activations = false;
  auto b = DecoderModel::Load(FixtureDir(GetParam()), fast_bf16);
  ASSERT_TRUE(b.ok()) << b.status();
  ForwardInput in;
  in.inputs_embeds = (*b)->EmbedTokens(ids);
  EXPECT_LT(RelativeError((*b)->Forward(in).logits, golden_.Get("logits")), 2e-2);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, FixtureTest, ::testing::ValuesIn(FixtureNames()),
                         [](const auto& info) { return info.param; });

TEST(DecoderModelTest, ForwardIsDifferentiableWithRespectToInputsEmbeds) {
  auto model = DecoderModel::Load(FixtureDir("qwen2_tied"), LoadOptions{});
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_FALSE((*model)->embedding_weight().requires_grad());
  torch::Tensor embeds = torch::randn({2, 5, (*model)->hidden_size()}).set_requires_grad(true);
  ForwardInput in;
  in.inputs_embeds = embeds;
  in.attention_mask = torch::tensor({{0, 1, 1, 1, 1}, {1, 1, 1, 1, 1}});
  ForwardOutput out = (*model)->Forward(in);
  out.logits.select(1, -1).logsumexp(-1).sum().backward();
  ASSERT_TRUE(embeds.grad().defined());
  EXPECT_GT(embeds.grad().abs().sum().item<double>(), 0.0);
  // A left-padding position cannot influence anything.
  EXPECT_EQ(embeds.grad()[0][0].abs().sum().item<double>(), 0.0);
}

TEST(DecoderModelTest, LayerHookSeesEveryBlockAndWhatItReturnsFlowsOn) {
  auto model = DecoderModel::Load(FixtureDir("llama_gqa"), LoadOptions{});
  ASSERT_TRUE(model.ok()) << model.status();
  torch::NoGradGuard no_grad;
  ForwardInput in;
  in.inputs_embeds = (*model)->EmbedTokens(torch::tensor({{3, 1, 4, 1, 5}}));
  in.output_hidden_states = true;
  const ForwardOutput reference = (*model)->Forward(in);
  // A hook that returns its input changes nothing, and is called once per block, in order.
  std::vector<int64_t> seen;
  in.after_layer = [&seen](int64_t layer, const torch::Tensor& hidden) {
    seen.push_back(layer);
    return hidden;
  };
  ForwardOutput same = (*model)->Forward(in);
  EXPECT_TRUE(torch::equal(same.logits, reference.logits));
  std::vector<int64_t> all_layers;
  for (int64_t i = 0; i < (*model)->num_layers(); ++i) all_layers.push_back(i);
  EXPECT_EQ(seen, all_layers);
  // What the hook returns after block 0 is hidden_states[1] and the input of block 1.
  in.after_layer = [](int64_t layer, const torch::Tensor& hidden) {
    return layer == 0 ? torch::zeros_like(hidden) : hidden;
  };
  ForwardOutput zeroed = (*model)->Forward(in);
  EXPECT_TRUE(torch::equal(zeroed.hidden_states[1], torch::zeros_like(reference.hidden_states[1])));
  EXPECT_TRUE(torch::equal(zeroed.hidden_states[0], reference.hidden_states[0]));
  EXPECT_FALSE(torch::allclose(zeroed.logits, reference.logits));
}

TEST(DecoderModelTest, LoadKeepsFp32WeightsAsViewsAndComputesDigest) {
  auto model = DecoderModel::Load(FixtureDir("llama_gqa"), LoadOptions{});
  ASSERT_TRUE(model.ok()) << model.status();
  auto again = DecoderModel::Load(FixtureDir("llama_gqa"), LoadOptions{});
  ASSERT_TRUE(again.ok());
  const std::string digest = (*model)->weights_digest();
  EXPECT_EQ(digest.rfind("sha256:", 0), 0u);
  EXPECT_EQ(digest, (*again)->weights_digest());
  auto other = DecoderModel::Load(FixtureDir("mistral_sw"), LoadOptions{});
  ASSERT_TRUE(other.ok());
  EXPECT_NE(digest, (*other)->weights_digest());
}

TEST(DecoderModelTest, RejectsBadInputsAndCheckpoints) {
  auto model = DecoderModel::Load(FixtureDir("llama_gqa"), LoadOptions{});
  ASSERT_TRUE(model.ok());
  ForwardInput in;
  in.inputs_embeds = torch::zeros({1, 3, 7});
  EXPECT_EQ((*model)->CheckForwardInput(in).code(), absl::StatusCode::kInvalidArgument);
  in.inputs_embeds = torch::zeros({1, 3, 64});
  in.attention_mask = torch::ones({1, 4});
  EXPECT_EQ((*model)->CheckForwardInput(in).code(), absl::StatusCode::kInvalidArgument);
  in.attention_mask = torch::Tensor();
  in.stop_after_layer = 9;
  EXPECT_EQ((*model)->CheckForwardInput(in).code(), absl::StatusCode::kInvalidArgument);
  in.inputs_embeds = torch::zeros({1, 3, 64}, torch::kFloat64);
  in.stop_after_layer = -1;
  EXPECT_EQ((*model)->CheckForwardInput(in).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THROW((*model)->EmbedTokens(torch::tensor({{1, 384}})), c10::Error);
  EXPECT_EQ(DecoderModel::Load(FixtureDir("nope"), LoadOptions{}).status().code(), absl::StatusCode::kNotFound);
}

TEST(DecoderModelTest, RandomInitBuildsARunnableModelDeterministically) {
  ModelConfig c;
  c.vocab_size = 50;
  c.hidden_size = 32;
  c.intermediate_size = 48;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.head_dim = 8;
  c.layer_sliding_window = {0, 3};
  auto a = DecoderModel::RandomInit(c, LoadOptions{}, 7);
  auto b = DecoderModel::RandomInit(c, LoadOptions{}, 7);
  ASSERT_TRUE(a.ok() && b.ok()) << a.status();
  torch::NoGradGuard no_grad;
  ForwardInput in;
  in.inputs_embeds = (*a)->EmbedTokens(torch::tensor({{1, 2, 3, 4, 5}}));
  ForwardOutput oa = (*a)->Forward(in);
  ForwardOutput ob = (*b)->Forward(in);
  EXPECT_EQ(oa.logits.sizes(), torch::IntArrayRef({1, 5, 50}));
  EXPECT_TRUE(torch::equal(oa.logits, ob.logits));
  EXPECT_EQ((*a)->weights_digest(), (*b)->weights_digest());
  c.num_key_value_heads = 3;
  EXPECT_FALSE(DecoderModel::RandomInit(c, LoadOptions{}, 7).ok());
}

}  // namespace
}  // namespace lip
