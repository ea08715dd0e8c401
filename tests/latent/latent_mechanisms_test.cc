// Shapes, masks and invariants of the bridge mechanisms: statistical normalizer, Perceiver
// resampler, sender encoder, receiver adapter, energy matching and context priming.
#include <cmath>

#include "bridge/latent/context_primer.h"
#include "bridge/latent/energy_matcher.h"
#include "bridge/latent/perceiver_resampler.h"
#include "bridge/latent/receiver_adapter.h"
#include "bridge/latent/sender_encoder.h"
#include "bridge/latent/statistical_normalizer.h"
#include "gtest/gtest.h"

namespace lip {
namespace {

PerceiverConfig SmallPerceiver() {
  PerceiverConfig config;
  config.num_queries = 4;
  config.input_width = 12;
  config.width = 16;
  config.num_heads = 4;
  config.depth = 2;
  config.ffn_multiplier = 2;
  config.output_width = 10;
  return config;
}

TEST(StatisticalNormalizerTest, FittedStatisticsStandardizeRealTokensAndZeroPadding) {
  torch::manual_seed(1);
  // Two texts: 5 and 3 real tokens; padding filled with junk that must not enter the statistics.
  torch::Tensor states = torch::randn({2, 5, 6}) * 3.0 + 7.0;
  states.index_put_({1, torch::indexing::Slice(3, 5)}, 1e6);
  torch::Tensor mask = torch::tensor({{1, 1, 1, 1, 1}, {1, 1, 1, 0, 0}});

  NormalizerStatistics statistics(6);
  ASSERT_TRUE(statistics.Add(states, mask).ok());
  EXPECT_EQ(statistics.token_count(), 8);
  torch::Tensor mean, std;
  ASSERT_TRUE(statistics.Finish(&mean, &std).ok());

  torch::Tensor real = torch::cat({states[0], states[1].slice(0, 0, 3)}, 0);
  EXPECT_TRUE(torch::allclose(mean, real.mean(0), 1e-5, 1e-5));
  EXPECT_TRUE(torch::allclose(std, (real - real.mean(0)).square().mean(0).sqrt(), 1e-4, 1e-4));

  StatisticalNormalizer normalizer(6, 1e-5);
  ASSERT_TRUE(normalizer->SetStatistics(mean, std).ok());
  torch::Tensor normalized = normalizer->forward(states, mask);
  torch::Tensor real_normalized = torch::cat({normalized[0], normalized[1].slice(0, 0, 3)}, 0);
  EXPECT_TRUE(torch::allclose(real_normalized.mean(0), torch::zeros({6}), 1e-4, 1e-4));
  EXPECT_TRUE(torch::allclose((real_normalized - real_normalized.mean(0)).square().mean(0).sqrt(),
                              torch::ones({6}), 1e-3, 1e-3));
  EXPECT_EQ(normalized[1].slice(0, 3, 5).abs().sum().item<float>(), 0.0f);
}

TEST(StatisticalNormalizerTest, RejectsBadShapesAndEmptyStatistics) {
  NormalizerStatistics statistics(4);
  torch::Tensor mean, std;
  EXPECT_EQ(statistics.Finish(&mean, &std).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(statistics.Add(torch::zeros({1, 2, 5}), torch::ones({1, 2})).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(statistics.Add(torch::zeros({1, 2, 4}), torch::ones({1, 3})).code(),
            absl::StatusCode::kInvalidArgument);
  StatisticalNormalizer normalizer(4, 1e-5);
  EXPECT_EQ(normalizer->SetStatistics(torch::zeros({3}), torch::ones({4})).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(normalizer->SetStatistics(torch::zeros({4}), -torch::ones({4})).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(PerceiverResamplerTest, OutputShapeIsBatchByMByDz) {
  torch::manual_seed(2);
  PerceiverResampler perceiver(SmallPerceiver());
  torch::Tensor z = perceiver->forward(torch::randn({3, 7, 12}), torch::ones({3, 7}));
  EXPECT_EQ(z.sizes(), (std::vector<int64_t>{3, 4, 10}));
  EXPECT_TRUE(torch::isfinite(z).all().item<bool>());
}

TEST(PerceiverResamplerTest, PaddingDoesNotChangeTheOutput) {
  torch::manual_seed(3);
  PerceiverResampler perceiver(SmallPerceiver());
  torch::NoGradGuard no_grad;
  torch::Tensor text = torch::randn({1, 4, 12});
  torch::Tensor alone = perceiver->forward(text, torch::ones({1, 4}));

  // The same text right-padded to 9 positions with large junk values, batched with a longer text.
  torch::Tensor padded = torch::randn({2, 9, 12}) * 100.0;
  padded.index_put_({0, torch::indexing::Slice(0, 4)}, text[0]);
  torch::Tensor mask = torch::zeros({2, 9}, torch::kInt64);
  mask.index_put_({0, torch::indexing::Slice(0, 4)}, 1);
  mask.index_put_({1}, 1);
  torch::Tensor batched = perceiver->forward(padded, mask);
  EXPECT_TRUE(torch::allclose(batched[0], alone[0], 1e-5, 1e-5))
      << (batched[0] - alone[0]).abs().max().item<float>();

  // And the mask matters: without it the junk changes the result.
  torch::Tensor unmasked = perceiver->forward(padded, torch::ones({2, 9}));
  EXPECT_FALSE(torch::allclose(unmasked[0], alone[0], 1e-3, 1e-3));
}

TEST(PerceiverResamplerTest, GradientsReachQueriesAndInputProjection) {
  torch::manual_seed(4);
  PerceiverResampler perceiver(SmallPerceiver());
  perceiver->forward(torch::randn({2, 5, 12}), torch::ones({2, 5})).square().sum().backward();
  for (const auto& item : perceiver->named_parameters()) {
    ASSERT_TRUE(item.value().grad().defined()) << item.key();
  }
  EXPECT_GT(perceiver->named_parameters()["queries"].grad().abs().sum().item<float>(), 0.0f);
}

// The fused attention (one scaled_dot_product_attention kernel, CUDA with LibTorch 2.x) and the
// separate ops are the same math: with padding masked out, both give the same Z up to float
// rounding, and the switch reaches every attention of every block. Where no CUDA device is present
// both settings run the separate ops, so the comparison only checks the switch.
TEST(PerceiverResamplerTest, FusedAttentionMatchesSeparateOps) {
  torch::manual_seed(5);
  PerceiverResampler perceiver(SmallPerceiver());
  int attentions = 0;
  perceiver->SetFusedAttention(false);
  for (const auto& module : perceiver->modules(/*include_self=*/false)) {
    if (auto* attention = module->as<AttentionImpl>()) {
      EXPECT_FALSE(attention->fused());
      ++attentions;
    }
  }
  EXPECT_EQ(attentions, 2 * SmallPerceiver().depth);
  const torch::Device device = torch::cuda::is_available() ? torch::Device(torch::kCUDA, 0) : torch::Device(torch::kCPU);
  perceiver->to(device);
  torch::NoGradGuard no_grad;
  torch::Tensor states = torch::randn({3, 9, 12}).to(device);
  torch::Tensor mask = torch::ones({3, 9}, torch::kInt64);
  mask.index_put_({1, torch::indexing::Slice(5, 9)}, 0);
  mask = mask.to(device);
  torch::Tensor separate = perceiver->forward(states, mask);
  perceiver->SetFusedAttention(true);
  torch::Tensor fused = perceiver->forward(states, mask);
  EXPECT_TRUE(torch::allclose(fused, separate, 1e-4, 1e-4)) << (fused - separate).abs().max().item<float>();
}

TEST(SenderEncoderTest, EncodeChecksShapesAndEmptyTexts) {
  torch::manual_seed(5);
  SenderHalfConfig config;
  config.perceiver = SmallPerceiver();
  SenderEncoder encoder(config);
  auto z = encoder->Encode(torch::randn({2, 5, 12}), torch::ones({2, 5}));
  ASSERT_TRUE(z.ok()) << z.status();
  EXPECT_EQ(z->sizes(), (std::vector<int64_t>{2, 4, 10}));

  EXPECT_EQ(encoder->Encode(torch::randn({2, 5, 11}), torch::ones({2, 5})).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(encoder->Encode(torch::randn({2, 5, 12}), torch::ones({2, 4})).status().code(),
            absl::StatusCode::kInvalidArgument);
  torch::Tensor mask = torch::ones({2, 5});
  mask[1] = 0;
  EXPECT_EQ(encoder->Encode(torch::randn({2, 5, 12}), mask).status().code(),
            absl::StatusCode::kInvalidArgument);
  torch::Tensor states = torch::randn({2, 5, 12});
  states[0][0][0] = std::nan("");
  EXPECT_EQ(encoder->Encode(states, torch::ones({2, 5})).status().code(),
            absl::StatusCode::kInvalidArgument);
}

AdapterConfig SmallAdapter() {
  AdapterConfig config;
  config.input_width = 10;
  config.hidden_width = 24;
  config.output_width = 8;
  return config;
}

TEST(ReceiverAdapterTest, TanhClipBoundsEveryValue) {
  torch::manual_seed(6);
  AdapterConfig config = SmallAdapter();
  config.tanh_clip = 0.5;
  config.learned_scale = false;
  ReceiverAdapter adapter(config);
  torch::Tensor y = adapter->forward(torch::randn({3, 4, 10}) * 50.0);
  EXPECT_EQ(y.sizes(), (std::vector<int64_t>{3, 4, 8}));
  EXPECT_LE(y.abs().max().item<float>(), 0.5f);
  EXPECT_GT(y.abs().max().item<float>(), 0.4f);  // large inputs saturate close to the bound

  config.tanh_clip = 0;  // off: values exceed the bound
  ReceiverAdapter unclipped(config);
  EXPECT_GT(unclipped->forward(torch::randn({3, 4, 10}) * 50.0).abs().max().item<float>(), 0.5f);
}

TEST(ReceiverAdapterTest, ScaleRegularizerIsSquaredDistanceFromOne) {
  torch::manual_seed(7);
  ReceiverAdapter adapter(SmallAdapter());
  EXPECT_FLOAT_EQ(adapter->ScaleRegularizer().item<float>(), 0.0f);
  torch::Tensor before = adapter->forward(torch::ones({1, 2, 10}));
  {
    torch::NoGradGuard no_grad;
    adapter->named_parameters()["scale"].fill_(1.5);
  }
  EXPECT_FLOAT_EQ(adapter->ScaleRegularizer().item<float>(), 0.25f);
  EXPECT_DOUBLE_EQ(adapter->scale_value(), 1.5);
  torch::Tensor after = adapter->forward(torch::ones({1, 2, 10}));
  EXPECT_TRUE(torch::allclose(after, before * 1.5, 1e-5, 1e-6));
  adapter->ScaleRegularizer().backward();
  EXPECT_FLOAT_EQ(adapter->named_parameters()["scale"].grad().item<float>(), 1.0f);  // 2(s-1)
}

TEST(EnergyMatcherTest, MeasureEnergyOfEmbeddingMatrix) {
  torch::Tensor embedding = torch::tensor({{3.0f, 4.0f}, {6.0f, 8.0f}});
  auto reference = MeasureEnergy(embedding);
  ASSERT_TRUE(reference.ok());
  EXPECT_DOUBLE_EQ(reference->reference_energy, 7.5);               // (5 + 10) / 2
  EXPECT_NEAR(reference->reference_rms, std::sqrt(125.0 / 4), 1e-9);  // (9+16+36+64)/4
  EXPECT_EQ(MeasureEnergy(torch::zeros({3})).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(EnergyMatcherTest, PerVectorNormGivesEveryVectorTheReferenceNorm) {
  torch::manual_seed(8);
  EnergyConfig config;
  config.mode = EnergyMode::kPerVectorNorm;
  config.reference_energy = 0.75;
  torch::Tensor v = torch::randn({3, 5, 16}) * torch::rand({3, 5, 1}) * 40.0;
  torch::Tensor matched = EnergyMatcher(config).Match(v);
  EXPECT_TRUE(torch::allclose(matched.norm(2, -1), torch::full({3, 5}, 0.75), 1e-5, 1e-5));
  // Direction is kept.
  EXPECT_TRUE(torch::allclose(torch::cosine_similarity(matched, v, -1), torch::ones({3, 5}), 1e-5, 1e-5));
}

TEST(EnergyMatcherTest, RmsModeGivesEveryVectorTheReferenceRms) {
  torch::manual_seed(9);
  EnergyConfig config;
  config.mode = EnergyMode::kRms;
  config.reference_rms = 0.02;
  torch::Tensor v = torch::randn({2, 4, 32}) * 9.0;
  torch::Tensor matched = EnergyMatcher(config).Match(v);
  EXPECT_TRUE(torch::allclose(matched.square().mean(-1).sqrt(), torch::full({2, 4}, 0.02), 1e-5, 1e-6));
  config.mode = EnergyMode::kNone;
  EXPECT_TRUE(torch::equal(EnergyMatcher(config).Match(v), v));
}

TEST(ContextPrimerTest, LayoutIsBosPrefixSoftAnchor) {
  torch::Tensor embedding = torch::arange(20 * 3, torch::kFloat32).view({20, 3});
  PrimingTokens tokens;
  tokens.bos = 1;
  tokens.prefix = {5, 6};
  tokens.anchor = {9, 10, 11};
  ContextPrimer primer(tokens);
  torch::Tensor soft = (-torch::rand({2, 4, 3})).requires_grad_();
  auto primed = primer.Prime(soft, embedding);
  ASSERT_TRUE(primed.ok()) << primed.status();
  EXPECT_EQ(primed->inputs_embeds.sizes(), (std::vector<int64_t>{2, 1 + 2 + 4 + 3, 3}));
  EXPECT_EQ(primed->attention_mask.sizes(), (std::vector<int64_t>{2, 10}));
  EXPECT_EQ(primed->attention_mask.sum().item<int64_t>(), 20);
  EXPECT_EQ(primed->soft_begin, 3);
  EXPECT_EQ(primed->soft_end, 7);
  const std::vector<int64_t> expected_ids = {1, 5, 6, -1, -1, -1, -1, 9, 10, 11};
  for (int64_t b = 0; b < 2; ++b) {
    for (int64_t t = 0; t < 10; ++t) {
      torch::Tensor row = primed->inputs_embeds[b][t];
      torch::Tensor expected =
          expected_ids[t] >= 0 ? embedding[expected_ids[t]] : soft[b][t - primed->soft_begin];
      EXPECT_TRUE(torch::equal(row, expected)) << "batch " << b << " position " << t;
    }
  }
  primed->inputs_embeds.sum().backward();
  EXPECT_TRUE(torch::equal(soft.grad(), torch::ones_like(soft)));  // gradients reach the soft tokens

  EXPECT_EQ(primer.FrameText({40, 41}), (std::vector<int32_t>{1, 5, 6, 40, 41, 9, 10, 11}));
}

TEST(ContextPrimerTest, NoBosForModelsWithoutOneAndBadInputsAreRefused) {
  PrimingTokens tokens;
  tokens.prefix = {2};
  tokens.anchor = {3};
  ContextPrimer primer(tokens);
  torch::Tensor embedding = torch::randn({8, 4});
  auto primed = primer.Prime(torch::randn({1, 2, 4}), embedding);
  ASSERT_TRUE(primed.ok());
  EXPECT_EQ(primed->soft_begin, 1);
  EXPECT_TRUE(torch::equal(primed->inputs_embeds[0][0], embedding[2]));

  EXPECT_EQ(primer.Prime(torch::randn({1, 2, 5}), embedding).status().code(),
            absl::StatusCode::kInvalidArgument);
  tokens.anchor = {8};
  EXPECT_EQ(ContextPrimer(tokens).Prime(torch::randn({1, 2, 4}), embedding).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace lip
