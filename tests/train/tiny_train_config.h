// The run config of the trainer tests: a tiny SST-2 bridge between the tiny random models of
// tests/latent/test_models.h (source layer 1, M = 4, d_z = 12), 6 steps of batch 4, no periodic
// validation. Tests change what they test from there.
#ifndef LIP_TESTS_TRAIN_TINY_TRAIN_CONFIG_H_
#define LIP_TESTS_TRAIN_TINY_TRAIN_CONFIG_H_

#include <string>

#include "bridge/train/train_config.h"

namespace lip::testing_models {

inline TrainConfig TinySst2TrainConfig(const std::string& name) {
  TrainConfig c;
  c.name = name;
  c.task = "sst2";
  c.label_names = {"negative", "positive"};
  c.priming = {"Review:", "\nSentiment:"};
  c.source_layer = 1;
  c.max_text_tokens = 16;
  c.perceiver.num_queries = 4;
  c.perceiver.width = 16;
  c.perceiver.num_heads = 2;
  c.perceiver.depth = 1;
  c.perceiver.output_width = 12;
  c.adapter.hidden_width = 32;
  c.steps = 6;
  c.batch_size = 4;
  c.learning_rate = 3e-3;
  c.warmup_steps = 2;
  c.validation_size = 6;
  c.eval_every = 0;
  c.normalizer_texts = 16;
  return c;
}

}  // namespace lip::testing_models

#endif  // LIP_TESTS_TRAIN_TINY_TRAIN_CONFIG_H_
