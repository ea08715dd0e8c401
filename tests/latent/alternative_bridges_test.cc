// The two alternative bridge kinds: the single-vector bottleneck adapter and the dual translator
// with blending injection (bridge/vector_bridge/{bottleneck_adapter,dual_translator,blend_injection,
// text_vector,vector_bridge_checkpoint}.h, bridge/train/vector_pair_trainer.h).
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "bridge/vector_bridge/blend_injection.h"
#include "bridge/vector_bridge/bottleneck_adapter.h"
#include "bridge/latent/bridge_checkpoint.h"
#include "bridge/latent/context_primer.h"
#include "bridge/vector_bridge/dual_translator.h"
#include "bridge/latent/energy_matcher.h"
#include "bridge/vector_bridge/text_vector.h"
#include "bridge/vector_bridge/vector_bridge_checkpoint.h"
#include "bridge/model/generation.h"
#include "bridge/model/label_scorer.h"
#include "bridge/train/vector_pair_trainer.h"
#include "gtest/gtest.h"
#include "tests/latent/test_models.h"

namespace lip {
namespace {

namespace fs = std::filesystem;

std::string TempDir(const std::string& name) {
  fs::path dir = fs::temp_directory_path() / ("lip_altbridge_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  return dir.string();
}

// A 4-block llama with a small vocabulary: enough depth to blend into the last three blocks.
std::unique_ptr<DecoderModel> FourBlockModel() {
  ModelConfig config = testing_models::TinyConfig("llama", 64, 32, 4);
  auto model = DecoderModel::RandomInit(config, LoadOptions(), 7);
  EXPECT_TRUE(model.ok()) << model.status();
  return std::move(*model);
}

TEST(BottleneckAdapterTest, MapsSenderWidthToReceiverWidth) {
  torch::manual_seed(0);
  BottleneckAdapter adapter(BottleneckAdapterConfig{12, 512, 24});
  EXPECT_EQ(adapter->forward(torch::randn({5, 12})).sizes(), (std::vector<int64_t>{5, 24}));
  EXPECT_EQ(adapter->forward(torch::randn({2, 3, 12})).sizes(), (std::vector<int64_t>{2, 3, 24}));
  // LayerNorm -> Linear(12 -> 512) -> GELU -> Linear(512 -> 24).
  int64_t count = 0;
  for (const auto& p : adapter->parameters()) count += p.numel();
  EXPECT_EQ(count, 2 * 12 + (12 * 512 + 512) + (512 * 24 + 24));
  EXPECT_FALSE(ValidateBottleneckAdapterConfig({0, 512, 24}).ok());
  EXPECT_FALSE(ValidateBottleneckAdapterConfig({12, 512, -1}).ok());
}

TEST(BottleneckAdapterTest, HybridLossEqualsMsePlusTwiceOneMinusCosine) {
  // Rows: orthogonal (cos 0) and parallel (cos 1). MSE = (1 + 1 + 0 + 1) / 4 = 0.75;
  // mean(1 - cos) = 0.5; with lambda = 2: 0.75 + 1.0.
  torch::Tensor predicted = torch::tensor({{1.0f, 0.0f}, {0.0f, 2.0f}});
  torch::Tensor target = torch::tensor({{0.0f, 1.0f}, {0.0f, 1.0f}});
  EXPECT_NEAR(HybridVectorLoss(predicted, target).item<double>(), 1.75, 1e-6);
  EXPECT_NEAR(HybridVectorLoss(predicted, target, 0.0).item<double>(), 0.75, 1e-6);
  EXPECT_NEAR(HybridVectorLoss(target, target).item<double>(), 0.0, 1e-6);
  // Opposite vectors: MSE = (4 + 0) / 2 = 2, 1 - cos = 2 -> 2 + 2 * 2.
  EXPECT_NEAR(HybridVectorLoss(torch::tensor({{1.0f, 0.0f}}), torch::tensor({{-1.0f, 0.0f}})).item<double>(), 6.0,
              1e-6);
}

VectorPairTrainingReport TrainOnLinearMap(uint64_t seed) {
  torch::manual_seed(3);
  // Rows already standardized, so the adapter's input LayerNorm keeps all of the information.
  torch::Tensor x = torch::randn({256, 16});
  x = x - x.mean(1, true);
  x = x / x.pow(2).mean(1, true).sqrt();
  torch::Tensor map = torch::randn({16, 24}) / 4.0;
  torch::Tensor y = torch::matmul(x, map);
  torch::manual_seed(seed);
  BottleneckAdapter adapter(BottleneckAdapterConfig{16, 64, 24});
  VectorPairTrainingOptions options;
  options.steps = 300;
  options.batch_size = 32;
  options.learning_rate = 3e-3;
  options.seed = seed;
  auto report = TrainBottleneckAdapter(adapter, x, y, options);
  EXPECT_TRUE(report.ok()) << report.status();
  return report.ok() ? *report : VectorPairTrainingReport{};
}

TEST(VectorPairTrainerTest, BottleneckAdapterLearnsALinearMapDeterministically) {
  VectorPairTrainingReport first = TrainOnLinearMap(5);
  ASSERT_EQ(first.step_losses.size(), 300u);
  EXPECT_GT(first.initial_loss, 1.0);
  EXPECT_LT(first.final_loss, 0.1 * first.initial_loss) << "initial " << first.initial_loss;
  VectorPairTrainingReport second = TrainOnLinearMap(5);
  EXPECT_EQ(first.step_losses, second.step_losses);
  EXPECT_EQ(first.final_loss, second.final_loss);
}

TEST(VectorPairTrainerTest, RefusesMismatchedPairs) {
  BottleneckAdapter adapter(BottleneckAdapterConfig{16, 8, 24});
  auto report = TrainBottleneckAdapter(adapter, torch::randn({4, 16}), torch::randn({5, 24}), {});
  EXPECT_EQ(report.status().code(), absl::StatusCode::kInvalidArgument);
  report = TrainBottleneckAdapter(adapter, torch::randn({4, 15}), torch::randn({4, 24}), {});
  EXPECT_EQ(report.status().code(), absl::StatusCode::kInvalidArgument);
  DualTranslator translator(DualTranslatorConfig{16, 24, 32, 8, 4});
  auto dual = TrainDualTranslator(translator, torch::randn({1, 16}), torch::randn({1, 24}), {});
  EXPECT_EQ(dual.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(DualTranslatorTest, TranslatesBothWays) {
  torch::manual_seed(0);
  DualTranslator translator(DualTranslatorConfig{12, 20, 512, 8, 16});
  EXPECT_EQ(translator->a_to_b(torch::randn({6, 12})).sizes(), (std::vector<int64_t>{6, 20}));
  EXPECT_EQ(translator->b_to_a(torch::randn({6, 20})).sizes(), (std::vector<int64_t>{6, 12}));
  // Each vector is translated on its own: a batch equals its rows one by one.
  translator->eval();
  torch::Tensor a = torch::randn({3, 12});
  torch::Tensor batch = translator->a_to_b(a);
  EXPECT_TRUE(torch::allclose(batch[1], translator->a_to_b(a.narrow(0, 1, 1))[0], 1e-5, 1e-6));
  EXPECT_FALSE(ValidateDualTranslatorConfig(DualTranslatorConfig{12, 20, 512, 7, 16}).ok());
}

TEST(DualTranslatorTest, CycleLossIsTheRoundTripMse) {
  EXPECT_NEAR(CycleLoss(torch::tensor({{1.0f, 2.0f}}), torch::tensor({{1.0f, 4.0f}})).item<double>(), 2.0, 1e-6);
  EXPECT_NEAR(CycleLoss(torch::tensor({{1.0f, 2.0f}}), torch::tensor({{1.0f, 2.0f}})).item<double>(), 0.0, 1e-9);
}

TEST(DualTranslatorTest, InfoNceOnHandMadeBatches) {
  torch::Tensor eye = torch::tensor({{1.0f, 0.0f}, {0.0f, 3.0f}});
  // Matched pairs, tau = 1: logits = I, each row -log(e / (e + 1)) = log(1 + 1/e).
  EXPECT_NEAR(InfoNceLoss(eye, eye, 1.0).item<double>(), std::log(1.0 + std::exp(-1.0)), 1e-5);
  // Swapped targets, tau = 0.5: logits = [[0, 2], [2, 0]], each row -log(1 / (1 + e^2)).
  torch::Tensor swapped = torch::tensor({{0.0f, 1.0f}, {2.0f, 0.0f}});
  EXPECT_NEAR(InfoNceLoss(eye, swapped, 0.5).item<double>(), std::log(1.0 + std::exp(2.0)), 1e-5);
}

TEST(DualTranslatorTest, DistributionLossMatchesMeanAndStd) {
  // predicted: mean 1, std 1; target: mean 1, std 0 -> 0 + 1. Second dimension: mean gap 2, stds 0.
  torch::Tensor predicted = torch::tensor({{0.0f, 2.0f}, {2.0f, 2.0f}});
  torch::Tensor target = torch::tensor({{1.0f, 0.0f}, {1.0f, 0.0f}});
  EXPECT_NEAR(DistributionLoss(predicted, target).item<double>(), (0.0 + 4.0) / 2 + (1.0 + 0.0) / 2, 1e-5);
  EXPECT_NEAR(DistributionLoss(target, target).item<double>(), 0.0, 1e-9);
}

TEST(DualTranslatorTest, TotalIsTheWeightedSumAndTrainingLowersIt) {
  torch::manual_seed(1);
  DualTranslator translator(DualTranslatorConfig{8, 12, 32, 8, 4});
  torch::Tensor a = torch::randn({64, 8});
  torch::Tensor b = torch::tanh(torch::matmul(a, torch::randn({8, 12})));
  DualTranslationLosses l = ComputeDualTranslationLosses(translator, a, b);
  const double expected = l.translation.item<double>() + 0.5 * l.cycle.item<double>() +
                          0.3 * l.info_nce.item<double>() + 0.2 * l.distribution.item<double>();
  EXPECT_NEAR(l.total.item<double>(), expected, 1e-5);
  // Hand-check of the translation term: both directions' MSE.
  const double translation = (translator->a_to_b(a) - b).pow(2).mean().item<double>() +
                             (translator->b_to_a(b) - a).pow(2).mean().item<double>();
  EXPECT_NEAR(l.translation.item<double>(), translation, 1e-5);

  VectorPairTrainingOptions options;
  options.steps = 150;
  options.batch_size = 16;
  options.learning_rate = 2e-3;
  auto report = TrainDualTranslator(translator, a, b, options);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_LT(report->final_loss, 0.5 * report->initial_loss) << "initial " << report->initial_loss;
}

TEST(BlendInjectionTest, AlphaZeroLeavesLogitsUnchanged) {
  auto model = FourBlockModel();
  torch::NoGradGuard no_grad;
  torch::Tensor ids = torch::tensor({{5, 17, 42, 9, 3}});
  ForwardInput plain;
  plain.inputs_embeds = model->EmbedTokens(ids);
  torch::Tensor reference = model->Forward(plain).logits;
  BlendConfig config;
  config.alpha = 0.0;
  config.last_positions = 2;
  auto blend = MakeLayerBlend(*model, config, torch::randn({1, 32}), 5, config.last_positions);
  ASSERT_TRUE(blend.ok()) << blend.status();
  EXPECT_EQ(blend->layers, (std::vector<int64_t>{1, 2, 3}));
  ForwardInput blended = plain;
  blended.after_layer = BlendHook(&*blend);
  EXPECT_TRUE(torch::equal(model->Forward(blended).logits, reference));
  // A non-zero alpha does change them (the hook is live).
  blend->alpha = 0.3;
  EXPECT_FALSE(torch::allclose(model->Forward(blended).logits, reference));
}

TEST(BlendInjectionTest, AlphaOneReplacesTheChosenPositionsAfterTheChosenLayers) {
  auto model = FourBlockModel();
  torch::NoGradGuard no_grad;
  torch::Tensor ids = torch::tensor({{5, 17, 42, 9, 3}, {1, 2, 3, 4, 5}});
  ForwardInput plain;
  plain.inputs_embeds = model->EmbedTokens(ids);
  plain.output_hidden_states = true;
  ForwardOutput reference = model->Forward(plain);
  BlendConfig config;
  config.alpha = 1.0;
  config.last_positions = 2;
  torch::Tensor v = torch::randn({2, 32});
  auto blend = MakeLayerBlend(*model, config, v, 5, config.last_positions);
  ASSERT_TRUE(blend.ok()) << blend.status();
  ForwardInput blended = plain;
  blended.after_layer = BlendHook(&*blend);
  ForwardOutput out = model->Forward(blended);
  // hidden_states[i + 1] is the output of block i; blocks 1..3 are blended, block 0 is not.
  EXPECT_TRUE(torch::equal(out.hidden_states[1], reference.hidden_states[1]));
  for (int layer : {2, 3}) {
    torch::Tensor tail = out.hidden_states[layer].narrow(1, 3, 2);
    EXPECT_TRUE(torch::allclose(tail, v.unsqueeze(1).expand({2, 2, 32}))) << "layer " << layer;
    // Causal attention: positions before the blended ones are untouched.
    EXPECT_TRUE(torch::allclose(out.hidden_states[layer].narrow(1, 0, 3), reference.hidden_states[layer].narrow(1, 0, 3),
                                1e-5, 1e-6));
  }
  // h' = (1 - alpha) h + alpha v in between: alpha = 0.3 after block 1 (the first blended one).
  blend->alpha = 0.3;
  ForwardOutput partial = model->Forward(blended);
  torch::Tensor expected = reference.hidden_states[2].narrow(1, 3, 2) * 0.7 + v.unsqueeze(1) * 0.3;
  EXPECT_TRUE(torch::allclose(partial.hidden_states[2].narrow(1, 3, 2), expected, 1e-5, 1e-6));
}

TEST(BlendInjectionTest, LabelScoresAndGenerationWithoutBlendEqualTheRuntimes) {
  auto model = FourBlockModel();
  torch::NoGradGuard no_grad;
  const std::vector<int32_t> prompt = {5, 17, 42, 9};
  const std::vector<std::vector<int64_t>> labels = {{7}, {11, 12}, {30, 31, 32}};
  torch::Tensor v = torch::randn({3, 32});
  BlendConfig off;
  off.alpha = 0.0;
  auto scores = ScoreLabelsWithBlend(*model, prompt, v, labels, off);
  ASSERT_TRUE(scores.ok()) << scores.status();
  ASSERT_EQ(scores->sizes(), (std::vector<int64_t>{3, 3}));
  torch::Tensor prompt_ids = torch::tensor(std::vector<int64_t>(prompt.begin(), prompt.end())).view({1, 4});
  auto reference = ScoreLabels(*model, model->EmbedTokens(prompt_ids), torch::ones({1, 4}, torch::kInt64), labels);
  ASSERT_TRUE(reference.ok()) << reference.status();
  for (int b = 0; b < 3; ++b) EXPECT_TRUE(torch::allclose((*scores)[b], (*reference)[0], 1e-4, 1e-5));
  // With blending the three messages get different scores.
  auto blended = ScoreLabelsWithBlend(*model, prompt, v * 20.0, labels, BlendConfig{});
  ASSERT_TRUE(blended.ok()) << blended.status();
  EXPECT_FALSE(torch::allclose((*blended)[0], (*blended)[1]));
  EXPECT_FALSE(ScoreLabelsWithBlend(*model, prompt, v, {{64}}, off).ok());
  EXPECT_FALSE(ScoreLabelsWithBlend(*model, prompt, v, {{}}, off).ok());

  GenerationOptions greedy;
  greedy.max_new_tokens = 6;
  auto generated = GenerateWithBlend(*model, prompt, v.narrow(0, 0, 1), off, greedy);
  ASSERT_TRUE(generated.ok()) << generated.status();
  auto expected = GenerateFromIds(*model, prompt_ids, torch::Tensor(), greedy);
  ASSERT_TRUE(expected.ok()) << expected.status();
  EXPECT_EQ(generated->tokens, expected->tokens);
  BlendConfig bad;
  bad.alpha = 1.5;
  EXPECT_EQ(GenerateWithBlend(*model, prompt, v, bad, greedy).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(TextVectorTest, PoolsTheChosenLayer) {
  auto sender = testing_models::TinySender();
  TextVectorOptions options;
  auto mean = EncodeTextVectors(*sender.model, *sender.tokenizer, {"a fine film", "dull"}, options);
  ASSERT_TRUE(mean.ok()) << mean.status();
  EXPECT_EQ(mean->sizes(), (std::vector<int64_t>{2, 32}));
  options.pooling = VectorPooling::kLast;
  auto last = EncodeTextVectors(*sender.model, *sender.tokenizer, {"a fine film", "dull"}, options);
  ASSERT_TRUE(last.ok()) << last.status();
  EXPECT_FALSE(torch::allclose(*mean, *last));
  options.layer = 3;
  EXPECT_EQ(EncodeTextVectors(*sender.model, *sender.tokenizer, {"x"}, options).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(*ResolveHiddenStateLayer(-1, 2), 2);
  EXPECT_EQ(*ResolveHiddenStateLayer(-2, 2), 1);
  EXPECT_FALSE(ParseVectorPooling("max").ok());
}

TEST(BottleneckAdapterTest, ScoresLabelsWithOneEnergyMatchedSoftToken) {
  auto receiver = testing_models::TinyReceiver();
  torch::NoGradGuard no_grad;
  auto tokens = TokenizePriming(*receiver.tokenizer, PrimingConfig{"Text:", "\nSentiment:"});
  ASSERT_TRUE(tokens.ok()) << tokens.status();
  ContextPrimer primer(*tokens);
  EnergyConfig energy;
  energy.reference_energy = 1.0;
  const std::vector<std::vector<int64_t>> labels = {{8225}, {6785}};
  torch::Tensor v = torch::randn({3, 24});
  auto scores = ScoreLabelsWithSoftVector(*receiver.model, primer, EnergyMatcher(energy), v, labels);
  ASSERT_TRUE(scores.ok()) << scores.status();
  EXPECT_EQ(scores->sizes(), (std::vector<int64_t>{3, 2}));
  // Energy matching makes the scale of v irrelevant.
  auto scaled = ScoreLabelsWithSoftVector(*receiver.model, primer, EnergyMatcher(energy), v * 10.0, labels);
  ASSERT_TRUE(scaled.ok());
  EXPECT_TRUE(torch::allclose(*scores, *scaled, 1e-4, 1e-5));
  EXPECT_FALSE(ScoreLabelsWithSoftVector(*receiver.model, primer, EnergyMatcher(energy), torch::randn({3, 23}), labels).ok());
}

VectorBridgeMetadata TinyVectorBridge(const std::string& kind) {
  VectorBridgeMetadata m;
  m.name = "tiny-" + kind;
  m.kind = kind;
  m.sender_model = {"llama", "tiny-sender", "", "sha256:00"};
  m.receiver_model = {"qwen2", "tiny-receiver", "", "sha256:11"};
  m.sender_vector.pooling = VectorPooling::kLast;
  m.receiver_vector.layer = -2;
  m.bottleneck = {32, 16, 24};
  m.energy.mode = EnergyMode::kRms;
  m.energy.reference_rms = 0.05;
  m.translator = {32, 24, 16, 8, 4};
  m.blend.alpha = 0.25;
  m.blend.last_positions = 2;
  m.priming = {"Text:", "\nSentiment:"};
  m.task = "sst2";
  m.labels = {" negative", " positive"};
  m.evaluation = {{"accuracy", 0.5}};
  return m;
}

TEST(VectorBridgeCheckpointTest, BottleneckRoundTrip) {
  const std::string dir = TempDir("bottleneck");
  torch::manual_seed(4);
  VectorBridgeMetadata metadata = TinyVectorBridge(kBottleneckKind);
  BottleneckAdapter adapter(metadata.bottleneck);
  VectorBridgeMetadata saved;
  ASSERT_TRUE(SaveVectorBridge(dir, metadata, *adapter, &saved).ok());
  EXPECT_EQ(saved.digest.rfind("sha256:", 0), 0u);
  auto loaded = LoadBottleneckBridge(dir);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->metadata.kind, "bottleneck");
  EXPECT_EQ(loaded->metadata.sender_vector.pooling, VectorPooling::kLast);
  EXPECT_EQ(loaded->metadata.receiver_vector.layer, -2);
  EXPECT_EQ(loaded->metadata.energy.mode, EnergyMode::kRms);
  EXPECT_EQ(loaded->metadata.labels, metadata.labels);
  EXPECT_EQ(loaded->metadata.evaluation, metadata.evaluation);
  EXPECT_EQ(loaded->metadata.digest, saved.digest);
  torch::NoGradGuard no_grad;
  adapter->eval();
  torch::Tensor x = torch::randn({3, 32});
  EXPECT_TRUE(torch::equal(loaded->adapter->forward(x), adapter->forward(x)));
  // The other kind's loader and the Perceiver reader refuse it, naming the kind.
  EXPECT_EQ(LoadDualTranslatorBridge(dir).status().code(), absl::StatusCode::kFailedPrecondition);
  auto perceiver = ReadBridgeMetadata(dir);
  ASSERT_FALSE(perceiver.ok());
  EXPECT_NE(std::string(perceiver.status().message()).find("bottleneck"), std::string::npos);
  // A modified weight file is detected.
  {
    std::ofstream out((fs::path(dir) / kReceiverHalfFile).string(), std::ios::binary | std::ios::app);
    out << "x";
  }
  EXPECT_EQ(LoadBottleneckBridge(dir).status().code(), absl::StatusCode::kDataLoss);
  fs::remove_all(dir);
}

TEST(VectorBridgeCheckpointTest, DualTranslatorRoundTrip) {
  const std::string dir = TempDir("dual");
  torch::manual_seed(5);
  VectorBridgeMetadata metadata = TinyVectorBridge(kDualTranslatorKind);
  DualTranslator translator(metadata.translator);
  ASSERT_TRUE(SaveVectorBridge(dir, metadata, *translator).ok());
  auto loaded = LoadDualTranslatorBridge(dir);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_DOUBLE_EQ(loaded->metadata.blend.alpha, 0.25);
  EXPECT_EQ(loaded->metadata.blend.last_positions, 2);
  EXPECT_EQ(loaded->metadata.translator.num_anchors, 4);
  torch::NoGradGuard no_grad;
  translator->eval();
  torch::Tensor a = torch::randn({3, 32}), b = torch::randn({3, 24});
  EXPECT_TRUE(torch::equal(loaded->translator->a_to_b(a), translator->a_to_b(a)));
  EXPECT_TRUE(torch::equal(loaded->translator->b_to_a(b), translator->b_to_a(b)));
  EXPECT_EQ(LoadBottleneckBridge(dir).status().code(), absl::StatusCode::kFailedPrecondition);
  // Metadata with a bad blend is refused on save.
  metadata.blend.alpha = -0.1;
  EXPECT_EQ(SaveVectorBridge(dir, metadata, *translator).code(), absl::StatusCode::kInvalidArgument);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace lip
