// CPU micro-benchmarks of the model runtime (fp32, random weights, a small Llama-shaped config):
// prefill of a prompt and one cached decode step. The real-shape GPU numbers come from
// `lip-model bench` (benchmarks/README.md, "Model runtime").
#include <benchmark/benchmark.h>

#include "bridge/model/decoder_model.h"

namespace lip {
namespace {

ModelConfig SmallLlama() {
  ModelConfig c;
  c.model_type = "llama";
  c.vocab_size = 8192;
  c.hidden_size = 512;
  c.intermediate_size = 1408;
  c.num_hidden_layers = 4;
  c.num_attention_heads = 8;
  c.num_key_value_heads = 2;
  c.head_dim = 64;
  c.layer_sliding_window.assign(4, 0);
  return c;
}

const DecoderModel& Model() {
  static const DecoderModel* model = DecoderModel::RandomInit(SmallLlama(), LoadOptions{}, 1)->release();
  return *model;
}

void BM_Prefill(benchmark::State& state) {
  torch::NoGradGuard no_grad;
  const DecoderModel& model = Model();
  torch::Tensor ids = torch::randint(0, 8192, {1, state.range(0)}, torch::kInt64);
  for (auto _ : state) {
    ForwardInput in;
    in.inputs_embeds = model.EmbedTokens(ids);
    in.logits_last_only = true;
    benchmark::DoNotOptimize(model.Forward(in).logits);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_Prefill)->Arg(32)->Arg(128)->Unit(benchmark::kMillisecond);

void BM_DecodeStep(benchmark::State& state) {
  torch::NoGradGuard no_grad;
  const DecoderModel& model = Model();
  torch::Tensor prompt = torch::randint(0, 8192, {1, state.range(0)}, torch::kInt64);
  torch::Tensor next = torch::randint(0, 8192, {1, 1}, torch::kInt64);
  for (auto _ : state) {
    state.PauseTiming();
    KvCache cache;
    ForwardInput prefill;
    prefill.inputs_embeds = model.EmbedTokens(prompt);
    prefill.cache = &cache;
    prefill.logits_last_only = true;
    model.Forward(prefill);
    state.ResumeTiming();
    ForwardInput step;
    step.inputs_embeds = model.EmbedTokens(next);
    step.cache = &cache;
    step.logits_last_only = true;
    benchmark::DoNotOptimize(model.Forward(step).logits);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DecodeStep)->Arg(128)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace lip
