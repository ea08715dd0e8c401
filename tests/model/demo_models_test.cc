// Parity of the C++ tokenizer and model runtime with transformers on the trained demo pair
// (demo/models/sender-llama, demo/models/receiver-qwen2: sharded bf16 safetensors, tied lm_head
// for Qwen2). The goldens in tests/data/demo-parity/ were computed by transformers 5.17 / tokenizers
// 0.23 from the same files (weights upcast to fp32, CPU, eager attention; demo/README.md).
//
// Per model: every golden text encodes to exactly its ids; the last-position logits and hidden
// states match; 32 greedy steps with the KV cache (no stop at EOS) give exactly greedy_32; the
// tokenizer cases encode and decode as `tokenizers` does. The demo models are part of the
// repository, so a missing model directory is a failure, not a skip.
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "bridge/model/decoder_model.h"
#include "bridge/model/generation.h"
#include "bridge/tokenizer/tokenizer.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace lip {
namespace {

// Same bounds as demo/check_parity.py: fp32 summation order differs from transformers.
constexpr double kLogitTolerance = 2e-3;   // max |difference| of any last-position logit
constexpr double kHiddenTolerance = 2e-3;  // max |difference| / max(1, |golden|) of any hidden value

std::string RepoPath(const std::string& relative) { return std::string(LIP_SOURCE_DIR) + "/" + relative; }

// One demo model with its tokenizer and goldens, loaded once per test binary (the models are
// immutable after loading and the tests run one after another).
struct DemoModel {
  nlohmann::json golden;
  std::unique_ptr<Tokenizer> tokenizer;
  std::unique_ptr<DecoderModel> model;
  std::string error;  // non-empty when anything above failed to load
};

const DemoModel& GetDemoModel(const std::string& name) {
  static std::map<std::string, DemoModel>* cache = new std::map<std::string, DemoModel>();
  auto it = cache->find(name);
  if (it != cache->end()) return it->second;
  DemoModel& demo = (*cache)[name];

  const std::string golden_path = RepoPath("tests/data/demo-parity/" + name + ".json");
  std::ifstream golden_file(golden_path);
  if (!golden_file) {
    demo.error = "cannot open golden file " + golden_path;
    return demo;
  }
  demo.golden = nlohmann::json::parse(golden_file, nullptr, /*allow_exceptions=*/false);
  if (demo.golden.is_discarded() || !demo.golden.contains("model_dir")) {
    demo.error = golden_path + " is not a demo-parity golden (no model_dir)";
    return demo;
  }
  const std::string model_dir = RepoPath(demo.golden["model_dir"].get<std::string>());
  if (!std::filesystem::is_directory(model_dir)) {
    demo.error = "demo model directory " + model_dir +
                 " is missing; the demo pair is part of the repository (demo/README.md)";
    return demo;
  }
  auto tokenizer = Tokenizer::FromDirectory(model_dir);
  if (!tokenizer.ok()) {
    demo.error = "tokenizer of " + model_dir + ": " + std::string(tokenizer.status().message());
    return demo;
  }
  demo.tokenizer = *std::move(tokenizer);
  auto model = DecoderModel::Load(model_dir, LoadOptions{});
  if (!model.ok()) {
    demo.error = "model " + model_dir + ": " + std::string(model.status().message());
    return demo;
  }
  demo.model = *std::move(model);
  return demo;
}

torch::Tensor IdsTensor(const std::vector<int64_t>& ids) {
  return torch::tensor(ids, torch::kInt64).unsqueeze(0);  // [1,T]
}

torch::Tensor JsonVector(const nlohmann::json& values) {
  return torch::tensor(values.get<std::vector<float>>(), torch::kFloat32);
}

// max |got - want| / max(1, |want|), as check_parity.py measures hidden states.
double ClampedRelativeDiff(const torch::Tensor& got, const torch::Tensor& want) {
  return ((got - want).abs() / want.abs().clamp_min(1.0)).max().item<double>();
}

class DemoModelsTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    demo_ = &GetDemoModel(GetParam());
    ASSERT_TRUE(demo_->error.empty()) << demo_->error;
  }
  const DemoModel* demo_ = nullptr;
};

TEST_P(DemoModelsTest, GoldenTextsEncodeToExactIds) {
  ASSERT_FALSE(demo_->golden["cases"].empty());
  for (const auto& section : {"cases", "tokenizer_cases"}) {
    for (const auto& c : demo_->golden[section]) {
      const std::string text = c["text"].get<std::string>();
      auto ids = demo_->tokenizer->Encode(text, /*add_special_tokens=*/true);
      ASSERT_TRUE(ids.ok()) << ids.status() << " for " << text;
      EXPECT_EQ(*ids, c["ids"].get<std::vector<int32_t>>()) << section << ": " << text;
    }
  }
}

TEST_P(DemoModelsTest, TokenizerCasesDecodeAsTokenizers) {
  ASSERT_FALSE(demo_->golden["tokenizer_cases"].empty());
  for (const auto& c : demo_->golden["tokenizer_cases"]) {
    const auto ids = c["ids"].get<std::vector<int32_t>>();
    auto with_special = demo_->tokenizer->Decode(ids, /*skip_special_tokens=*/false);
    ASSERT_TRUE(with_special.ok()) << with_special.status();
    EXPECT_EQ(*with_special, c["decoded"].get<std::string>()) << "text: " << c["text"];
    auto skipped = demo_->tokenizer->Decode(ids, /*skip_special_tokens=*/true);
    ASSERT_TRUE(skipped.ok()) << skipped.status();
    EXPECT_EQ(*skipped, c["decoded_skip_special"].get<std::string>()) << "text: " << c["text"];
  }
}

// hidden_states follows transformers' numbering (0 = embeddings, k = after block k, last = after the
// final norm), so the goldens' layer_k for k < num_layers and final_norm are compared directly. The
// last block's output before the final norm is not exposed by transformers' hidden_states either; it
// is covered by final_norm and the logits, which are computed from it.
TEST_P(DemoModelsTest, LastLogitsAndHiddenStatesMatchTransformers) {
  torch::NoGradGuard no_grad;
  const DecoderModel& model = *demo_->model;
  const int64_t n_layers = model.num_layers();
  for (const auto& c : demo_->golden["cases"]) {
    const std::string text = c["text"].get<std::string>();
    ForwardInput in;
    in.inputs_embeds = model.EmbedTokens(IdsTensor(c["ids"].get<std::vector<int64_t>>()));
    in.output_hidden_states = true;
    ForwardOutput out = model.Forward(in);
    ASSERT_EQ(static_cast<int64_t>(out.hidden_states.size()), n_layers + 1);

    const torch::Tensor logits = out.logits[0][-1];
    const torch::Tensor want_logits = JsonVector(c["last_logits"]);
    ASSERT_EQ(logits.numel(), want_logits.numel());
    const double logit_diff = (logits - want_logits).abs().max().item<double>();
    const double logit_rel = logit_diff / want_logits.abs().max().item<double>();
    EXPECT_LE(logit_diff, kLogitTolerance) << text;
    EXPECT_EQ(logits.argmax().item<int64_t>(), c["last_argmax"].get<int64_t>()) << text;

    double hidden_diff = 0.0;
    int compared = 0;
    for (const auto& [key, values] : c["last_hidden"].items()) {
      torch::Tensor got;
      if (key == "final_norm") {
        got = out.hidden_states.back()[0][-1];
      } else {
        const int64_t k = std::stoll(key.substr(std::string("layer_").size()));
        ASSERT_TRUE(k >= 1 && k <= n_layers) << key;
        if (k == n_layers) continue;  // before the final norm: not in hidden_states (see above)
        got = out.hidden_states[k][0][-1];
      }
      const double diff = ClampedRelativeDiff(got, JsonVector(values));
      EXPECT_LE(diff, kHiddenTolerance) << key << " of " << text;
      hidden_diff = std::max(hidden_diff, diff);
      ++compared;
    }
    EXPECT_GE(compared, 3) << "expected layer 1, a middle layer and final_norm in the golden";
    std::cout << GetParam() << " " << text.substr(0, 40) << ": logits max|diff| " << logit_diff
              << " (relative " << logit_rel << "), hidden max rel diff " << hidden_diff << "\n";
  }
}

TEST_P(DemoModelsTest, Greedy32WithKvCacheMatchesTransformers) {
  const DecoderModel& model = *demo_->model;
  for (const auto& c : demo_->golden["cases"]) {
    GenerationOptions options;
    options.max_new_tokens = 32;
    options.use_cache = true;  // stop_token_ids empty: no stop at EOS, as the goldens were made
    auto result = GenerateFromIds(model, IdsTensor(c["ids"].get<std::vector<int64_t>>()), {}, options);
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_EQ(result->tokens[0], c["greedy_32"].get<std::vector<int64_t>>()) << c["text"];
    // greedy_32_text is the prompt and the continuation decoded together, special tokens kept.
    std::vector<int32_t> all_ids = c["ids"].get<std::vector<int32_t>>();
    all_ids.insert(all_ids.end(), result->tokens[0].begin(), result->tokens[0].end());
    auto text = demo_->tokenizer->Decode(all_ids, /*skip_special_tokens=*/false);
    ASSERT_TRUE(text.ok()) << text.status();
    EXPECT_EQ(*text, c["greedy_32_text"].get<std::string>()) << c["text"];
  }
}

INSTANTIATE_TEST_SUITE_P(DemoPair, DemoModelsTest, ::testing::Values("sender-llama", "receiver-qwen2"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string name = info.param;
                           for (char& ch : name) if (ch == '-') ch = '_';
                           return name;
                         });

}  // namespace
}  // namespace lip
