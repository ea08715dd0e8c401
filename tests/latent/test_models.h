// Tiny random-weight sender/receiver pairs with real tokenizers (the demo pair's, shipped in demo/models:
// a sentencepiece-style BPE with BOS and a byte-level BPE without), for tests of the bridge pipelines
// and the trainer.
#ifndef LIP_TESTS_LATENT_TEST_MODELS_H_
#define LIP_TESTS_LATENT_TEST_MODELS_H_

#include <memory>
#include <string>

#include "bridge/latent/bridge_config.h"
#include "bridge/model/decoder_model.h"
#include "bridge/tokenizer/tokenizer.h"
#include "gtest/gtest.h"

namespace lip {
namespace testing_models {

inline const char kSenderTokenizerDir[] = "demo/models/sender-llama";
inline const char kReceiverTokenizerDir[] = "demo/models/receiver-qwen2";

inline ModelConfig TinyConfig(const std::string& type, int64_t vocab, int64_t hidden, int64_t layers) {
  ModelConfig c;
  c.model_type = type;
  c.vocab_size = vocab;
  c.hidden_size = hidden;
  c.intermediate_size = hidden * 2;
  c.num_hidden_layers = layers;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.head_dim = hidden / 4;
  c.rms_norm_eps = 1e-6;
  c.max_position_embeddings = 512;
  c.layer_sliding_window.assign(layers, 0);
  c.qkv_bias = type == "qwen2";
  c.tie_word_embeddings = type == "qwen2";
  c.initializer_range = 0.05;
  return c;
}

struct ModelAndTokenizer {
  std::shared_ptr<const DecoderModel> model;
  std::shared_ptr<const Tokenizer> tokenizer;
};

// A 2-layer llama (width 32) with the demo sender's tokenizer (<s> = 1, </s> = 2).
inline ModelAndTokenizer TinySender(uint64_t seed = 1) {
  auto tokenizer = Tokenizer::FromDirectory(kSenderTokenizerDir);
  EXPECT_TRUE(tokenizer.ok()) << tokenizer.status();
  ModelConfig config = TinyConfig("llama", 8192, 32, 2);
  config.bos_token_ids = {1};
  config.eos_token_ids = {2};
  auto model = DecoderModel::RandomInit(config, LoadOptions(), seed);
  EXPECT_TRUE(model.ok()) << model.status();
  return {std::move(*model), std::move(*tokenizer)};
}

// A 2-layer qwen2 (width 24, tied embeddings) with the demo receiver's tokenizer (no BOS).
inline ModelAndTokenizer TinyReceiver(uint64_t seed = 2) {
  auto tokenizer = Tokenizer::FromDirectory(kReceiverTokenizerDir);
  EXPECT_TRUE(tokenizer.ok()) << tokenizer.status();
  ModelConfig config = TinyConfig("qwen2", 12288, 24, 2);
  config.eos_token_ids = {12285};
  auto model = DecoderModel::RandomInit(config, LoadOptions(), seed);
  EXPECT_TRUE(model.ok()) << model.status();
  return {std::move(*model), std::move(*tokenizer)};
}

// Bridge metadata that fits TinySender -> TinyReceiver.
inline BridgeMetadata TinyBridge(const DecoderModel& sender, const DecoderModel& receiver) {
  BridgeMetadata m;
  m.name = "tiny-test";
  m.sender_model = {sender.config().model_type, "tiny-sender", "", sender.weights_digest()};
  m.receiver_model = {receiver.config().model_type, "tiny-receiver", "", receiver.weights_digest()};
  m.sender.source_layer = 1;
  m.sender.max_text_tokens = 24;
  m.sender.perceiver.num_queries = 4;
  m.sender.perceiver.input_width = sender.hidden_size();
  m.sender.perceiver.width = 16;
  m.sender.perceiver.num_heads = 2;
  m.sender.perceiver.depth = 1;
  m.sender.perceiver.output_width = 12;
  m.receiver.adapter.input_width = 12;
  m.receiver.adapter.hidden_width = 32;
  m.receiver.adapter.output_width = receiver.hidden_size();
  m.receiver.energy.mode = EnergyMode::kPerVectorNorm;
  m.receiver.energy.reference_energy = 1.0;
  m.receiver.energy.reference_rms = 0.05;
  m.priming = {"Text:", "\nSentiment:"};
  m.labels = {" negative", " positive"};
  return m;
}

}  // namespace testing_models
}  // namespace lip

#endif  // LIP_TESTS_LATENT_TEST_MODELS_H_
