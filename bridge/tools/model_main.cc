// lip-model: run the C++ model runtime from the command line and print JSON, so anyone can
// check it against transformers.
//
//   lip-model tokenize --model DIR (--text T | --input FILE)
//   lip-model forward  --model DIR (--text T | --ids 1,2,3 | --input FILE) [--layer K]
//   lip-model generate --model DIR (--text T | --ids 1,2,3) --max-new-tokens N [--ignore-eos]
//   lip-model bench    --config config.json [--batch B] [--prompt-len T] [--new-tokens N] [--iters I]
//                      [--force-static-cache]
//   lip-model paths    --sender-config A.json --receiver-config B.json [--batch B] [--message-tokens 64]
//                      [--source-layer 16] [--soft-tokens 8] [--frame-tokens 16] [--relay-tokens 32] [--iters I]
//   lip-model pipelines --sender-model DIR --receiver-model DIR --bridge-dir DIR --input FILE [--iters I]
//   lip-model projections --config config.json --device cuda --dtype bf16 [--rows 1,8,24,64] [--iters 20]
//   lip-model sender-half --bridge-dir DIR [--batch 1] [--tokens T] [--graph on|off] [--iters 20]
// `paths` times, with random weights, the model compute of the three message paths as the nodes run
// them (no tokenizer, no bridge modules, no transport): latent = sender to --source-layer on the
// message + receiver prefill of frame + soft tokens and label scoring; text relay = sender prefill +
// --relay-tokens greedy steps + receiver reading frame + relayed text and scoring; direct text =
// receiver reading frame + message and scoring. Median of --iters after one warm-up, per stage.
// Common: --device cpu|cuda (default cpu), --dtype fp32|bf16|fp16 (default fp32),
// --activations fp32|model (default fp32: with bf16/fp16 only the weight matmuls run reduced;
// `model` computes every activation in --dtype, as transformers does; see LoadOptions),
// --runtime fast|graphs|eager (default fast: fused attention and projections; graphs = fast plus CUDA
// graphs for the forwards without a KV cache, LoadOptions::cuda_graphs, what the nodes run; eager =
// the reference path), --fused-kernels on|off (default on: the fast runtime's fused CUDA kernels where
// the build has them, LoadOptions::fused_cuda_kernels; "fused_kernels" in the output says whether they
// ran), --few-row-matmul on|off (default off: with the fused kernels, the projections of up to 64 rows
// as bridge/model/few_row_matmul.h's kernel, LoadOptions::few_row_matmul; "few_row_matmul" says
// whether it could run). `bench` also times that cache-free forward (prefill_nocache_ms_median: the
// prompt's last-position logits, as the receiver's latent path and the sender's encoding run it).
// Its decode runs as Generate does (the static-shape cache where the model uses CUDA graphs;
// --force-static-cache uses it anywhere) and then reports how many of those greedy tokens the
// growing cache reproduces, teacher-forced on them (decode_tokens_agree_with_growing_cache).
// `pipelines` times the latent path as the nodes' pipelines run it (SenderPipeline::Encode and
// ReceiverPipeline::Answer, one message at a time, in benchmark mode: random weights from the model
// directories' config.json, the real tokenizers, a random bridge of DIR/bridge.json) beside what those
// pipelines hold in common with `paths` — the sender to its source layer and the receiver's label
// scoring on the same token counts — and the sender half alone (normaliser + resampler, one CUDA-graph
// replay where the model uses graphs), with the resampler's attention fused and as separate ops (and
// the largest difference between their soft tokens): per stage, median / p95 / p99 of --iters
// (default 20) after one warm-up of every message of --input (JSON lines with a "text").
// `projections` times one block's four projections at the config's shapes, cuBLAS against the few-row
// kernel at each split of K (bridge/model/projection_benchmark.h: GB/s of weight streamed, and both
// against an fp32 reference); CUDA only.
// --input FILE reads JSON lines ({"text": ...} or {"ids": [...]}) and prints one result per line.
// forward prints {"ids", "logits_last" (full vocabulary), "hidden_last" (hidden_states[K] at the
// last position; K in transformers' output_hidden_states numbering, default the final norm),
// "top1" (argmax at every position)}. Errors go to stderr with exit status 1.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/ascii.h"
#include "bridge/latent/bridge_checkpoint.h"
#include "bridge/latent/context_primer.h"
#include "bridge/latent/receiver_pipeline.h"
#include "bridge/latent/sender_encoder.h"
#include "bridge/latent/sender_pipeline.h"
#include "bridge/model/checkpoint_dir.h"
#include "bridge/model/graphed_function.h"
#include "bridge/model/decoder_model.h"
#include "bridge/model/generation.h"
#include "bridge/model/label_scorer.h"
#include "bridge/model/projection_benchmark.h"
#include "bridge/model/static_decoder.h"
#include "nlohmann/json.hpp"

#if !defined(LIP_MODEL_NO_TOKENIZER) && __has_include("bridge/tokenizer/tokenizer.h")
#include "bridge/tokenizer/tokenizer.h"
#define LIP_MODEL_HAS_TOKENIZER 1
#else
#define LIP_MODEL_HAS_TOKENIZER 0
#endif

namespace lip {
namespace {

using Json = nlohmann::json;

struct Args {
  std::string command;
  std::map<std::string, std::string> flags;  // --name value; boolean flags map to "true"
  std::string Get(const std::string& name, const std::string& fallback = "") const {
    auto it = flags.find(name);
    return it == flags.end() ? fallback : it->second;
  }
  bool Has(const std::string& name) const { return flags.count(name) > 0; }
};

absl::StatusOr<Args> ParseArgs(int argc, char** argv) {
  static const std::vector<std::string> kBoolean = {"ignore-eos", "force-static-cache"};
  if (argc < 2) return absl::InvalidArgumentError("usage: lip-model tokenize|forward|generate|bench|paths|pipelines|projections|sender-half ...");
  Args args;
  args.command = argv[1];
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--", 0) != 0) return absl::InvalidArgumentError(absl::StrCat("unexpected argument \"", a, "\""));
    a = a.substr(2);
    if (auto eq = a.find('='); eq != std::string::npos) {
      args.flags[a.substr(0, eq)] = a.substr(eq + 1);
    } else if (std::find(kBoolean.begin(), kBoolean.end(), a) != kBoolean.end()) {
      args.flags[a] = "true";
    } else if (i + 1 < argc) {
      args.flags[a] = argv[++i];
    } else {
      return absl::InvalidArgumentError(absl::StrCat("flag --", a, " needs a value"));
    }
  }
  return args;
}

absl::StatusOr<int64_t> IntFlag(const Args& args, const std::string& name, int64_t fallback) {
  if (!args.Has(name)) return fallback;
  int64_t v = 0;
  if (!absl::SimpleAtoi(args.Get(name), &v)) {
    return absl::InvalidArgumentError(absl::StrCat("--", name, " \"", args.Get(name), "\" is not an integer"));
  }
  return v;
}

// --name on|off (absent: `fallback`) as a bool; INVALID_ARGUMENT for anything else.
absl::StatusOr<bool> OnOffFlag(const Args& args, const std::string& name, bool fallback) {
  if (!args.Has(name)) return fallback;
  const std::string value = args.Get(name);
  if (value != "on" && value != "off") {
    return absl::InvalidArgumentError(absl::StrCat("--", name, " \"", value, "\": expected on or off"));
  }
  return value == "on";
}

absl::StatusOr<LoadOptions> ParseLoadOptions(const Args& args) {
  LoadOptions o;
  const std::string device = args.Get("device", "cpu");
  if (device == "cuda") {
    if (!torch::cuda::is_available()) return absl::FailedPreconditionError("--device cuda: no CUDA device available");
    o.device = torch::Device(torch::kCUDA, 0);
  } else if (device != "cpu") {
    return absl::InvalidArgumentError(absl::StrCat("--device \"", device, "\": expected cpu or cuda"));
  }
  const std::string dtype = args.Get("dtype", "fp32");
  if (dtype == "fp32") {
    o.dtype = torch::kFloat32;
  } else if (dtype == "bf16") {
    o.dtype = torch::kBFloat16;
  } else if (dtype == "fp16") {
    o.dtype = torch::kHalf;
  } else {
    return absl::InvalidArgumentError(absl::StrCat("--dtype \"", dtype, "\": expected fp32, bf16 or fp16"));
  }
  const std::string activations = args.Get("activations", "fp32");
  if (activations != "fp32" && activations != "model") {
    return absl::InvalidArgumentError(absl::StrCat("--activations \"", activations, "\": expected fp32 or model"));
  }
  o.fp32_activations = activations == "fp32";
  const std::string runtime = args.Get("runtime", "fast");
  if (runtime != "fast" && runtime != "eager" && runtime != "graphs") {
    return absl::InvalidArgumentError(absl::StrCat("--runtime \"", runtime, "\": expected fast, graphs or eager"));
  }
  o.fast_runtime = runtime != "eager";
  o.cuda_graphs = runtime == "graphs";
  auto fused = OnOffFlag(args, "fused-kernels", true);
  if (!fused.ok()) return fused.status();
  o.fused_cuda_kernels = *fused;
  auto few_row = OnOffFlag(args, "few-row-matmul", false);
  if (!few_row.ok()) return few_row.status();
  o.few_row_matmul = *few_row;
  return o;
}

// Lazily loaded tokenizer of --model DIR.
class TextCodec {
 public:
  explicit TextCodec(std::string dir) : dir_(std::move(dir)) {}
  absl::StatusOr<std::vector<int64_t>> Encode(const std::string& text) {
#if LIP_MODEL_HAS_TOKENIZER
    if (auto s = Load(); !s.ok()) return s;
    auto ids = tokenizer_->Encode(text, /*add_special_tokens=*/true);
    if (!ids.ok()) return ids.status();
    return std::vector<int64_t>(ids->begin(), ids->end());
#else
    (void)text;
    return absl::UnimplementedError("this lip-model was built without the tokenizer; pass --ids");
#endif
  }
  // Decoded text, or nullopt-like empty status when no tokenizer files exist.
  absl::StatusOr<std::string> Decode(const std::vector<int64_t>& ids) {
#if LIP_MODEL_HAS_TOKENIZER
    if (auto s = Load(); !s.ok()) return s;
    return tokenizer_->Decode(std::vector<int32_t>(ids.begin(), ids.end()), /*skip_special_tokens=*/true);
#else
    (void)ids;
    return absl::UnimplementedError("built without the tokenizer");
#endif
  }

 private:
#if LIP_MODEL_HAS_TOKENIZER
  absl::Status Load() {
    if (tokenizer_) return absl::OkStatus();
    auto t = Tokenizer::FromDirectory(dir_);
    if (!t.ok()) return t.status();
    tokenizer_ = *std::move(t);
    return absl::OkStatus();
  }
  std::unique_ptr<Tokenizer> tokenizer_;
#endif
  std::string dir_;
};

// A comma-separated list of integers given as --`flag`.
absl::StatusOr<std::vector<int64_t>> ParseIntList(const std::string& flag, const std::string& text) {
  std::vector<int64_t> ids;
  for (absl::string_view piece : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    int64_t v = 0;
    if (!absl::SimpleAtoi(piece, &v)) {
      return absl::InvalidArgumentError(absl::StrCat("--", flag, ": \"", std::string(piece), "\" is not an integer"));
    }
    ids.push_back(v);
  }
  if (ids.empty()) return absl::InvalidArgumentError("--ids is empty");
  return ids;
}

// The requests of one invocation: --text / --ids, or one per JSON line of --input.
struct Request {
  std::string text;
  std::vector<int64_t> ids;  // set directly by --ids or {"ids": [...]}
  bool has_ids = false;
};

absl::StatusOr<std::vector<Request>> ReadRequests(const Args& args) {
  std::vector<Request> out;
  if (args.Has("input")) {
    std::ifstream in(args.Get("input"));
    if (!in) return absl::NotFoundError(absl::StrCat("--input file not found: ", args.Get("input")));
    std::string line;
    int line_no = 0;
    while (std::getline(in, line)) {
      ++line_no;
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      Json j = Json::parse(line, nullptr, /*allow_exceptions=*/false);
      Request r;
      if (!j.is_discarded() && j.is_object() && j.contains("text") && j["text"].is_string()) {
        r.text = j["text"].get<std::string>();
      } else if (!j.is_discarded() && j.is_object() && j.contains("ids") && j["ids"].is_array()) {
        for (const Json& e : j["ids"]) {
          if (!e.is_number_integer()) return absl::InvalidArgumentError(absl::StrCat("--input line ", line_no, ": ids must be integers"));
          r.ids.push_back(e.get<int64_t>());
        }
        r.has_ids = true;
      } else {
        return absl::InvalidArgumentError(
            absl::StrCat("--input line ", line_no, ": expected {\"text\": ...} or {\"ids\": [...]}"));
      }
      out.push_back(std::move(r));
    }
    return out;
  }
  Request r;
  if (args.Has("ids")) {
    auto ids = ParseIntList("ids", args.Get("ids"));
    if (!ids.ok()) return ids.status();
    r.ids = *ids;
    r.has_ids = true;
  } else if (args.Has("text")) {
    r.text = args.Get("text");
  } else {
    return absl::InvalidArgumentError("give --text, --ids or --input");
  }
  out.push_back(std::move(r));
  return out;
}

absl::StatusOr<std::vector<int64_t>> IdsOf(Request& r, TextCodec& codec, const DecoderModel* model) {
  if (!r.has_ids) {
    auto ids = codec.Encode(r.text);
    if (!ids.ok()) return ids.status();
    r.ids = *ids;
    r.has_ids = true;
  }
  if (r.ids.empty()) return absl::InvalidArgumentError("the input has no tokens");
  if (model != nullptr) {
    for (int64_t id : r.ids) {
      if (id < 0 || id >= model->config().vocab_size) {
        return absl::InvalidArgumentError(
            absl::StrCat("token id ", id, " is outside the vocabulary [0, ", model->config().vocab_size, ")"));
      }
    }
  }
  return r.ids;
}

Json ToJson(const torch::Tensor& t) {
  torch::Tensor c = t.detach().to(torch::kCPU, torch::kFloat32).contiguous();
  return Json(std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel()));
}

absl::Status RunTokenize(const Args& args) {
  TextCodec codec(args.Get("model"));
  auto requests = ReadRequests(args);
  if (!requests.ok()) return requests.status();
  for (Request& r : *requests) {
    if (r.has_ids) return absl::InvalidArgumentError("tokenize takes text, not ids");
    auto ids = codec.Encode(r.text);
    if (!ids.ok()) return ids.status();
    std::cout << Json{{"ids", *ids}}.dump() << "\n";
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<DecoderModel>> LoadModel(const Args& args) {
  if (!args.Has("model")) return absl::InvalidArgumentError("--model DIR is required");
  auto options = ParseLoadOptions(args);
  if (!options.ok()) return options.status();
  return DecoderModel::Load(args.Get("model"), *options);
}

absl::Status RunForward(const Args& args) {
  auto model = LoadModel(args);
  if (!model.ok()) return model.status();
  auto layer = IntFlag(args, "layer", (*model)->num_layers());
  if (!layer.ok()) return layer.status();
  if (*layer < 0 || *layer > (*model)->num_layers()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--layer ", *layer, " outside [0, ", (*model)->num_layers(), "]"));
  }
  TextCodec codec(args.Get("model"));
  auto requests = ReadRequests(args);
  if (!requests.ok()) return requests.status();
  torch::NoGradGuard no_grad;
  for (Request& r : *requests) {
    auto ids = IdsOf(r, codec, model->get());
    if (!ids.ok()) return ids.status();
    ForwardInput in;
    in.inputs_embeds = (*model)->EmbedTokens(torch::tensor(*ids, torch::kInt64).view({1, -1}));
    in.output_hidden_states = true;
    ForwardOutput out = (*model)->Forward(in);
    const int64_t T = static_cast<int64_t>(ids->size());
    torch::Tensor top1 = out.logits[0].argmax(-1).to(torch::kCPU).contiguous();
    Json j;
    j["ids"] = *ids;
    j["logits_last"] = ToJson(out.logits[0][T - 1]);
    j["hidden_last"] = ToJson(out.hidden_states[*layer][0][T - 1]);
    j["top1"] = std::vector<int64_t>(top1.data_ptr<int64_t>(), top1.data_ptr<int64_t>() + T);
    std::cout << j.dump() << "\n";
  }
  return absl::OkStatus();
}

absl::Status RunGenerate(const Args& args) {
  auto model = LoadModel(args);
  if (!model.ok()) return model.status();
  auto max_new = IntFlag(args, "max-new-tokens", 32);
  if (!max_new.ok()) return max_new.status();
  GenerationOptions opts;
  opts.max_new_tokens = *max_new;
  if (!args.Has("ignore-eos")) {
    // Stop tokens as transformers' generate uses them: generation_config.json, else config.json.
    auto checkpoint = CheckpointDir::Open(args.Get("model"));
    if (!checkpoint.ok()) return checkpoint.status();
    opts.stop_token_ids = (*checkpoint)->generation().eos_token_ids;
  }
  TextCodec codec(args.Get("model"));
  auto requests = ReadRequests(args);
  if (!requests.ok()) return requests.status();
  for (Request& r : *requests) {
    auto ids = IdsOf(r, codec, model->get());
    if (!ids.ok()) return ids.status();
    auto result = GenerateFromIds(**model, torch::tensor(*ids, torch::kInt64).view({1, -1}), {}, opts);
    if (!result.ok()) return result.status();
    Json j;
    j["ids"] = result->tokens[0];
    auto text = codec.Decode(result->tokens[0]);
    j["text"] = text.ok() ? *text : "";
    std::cout << j.dump() << "\n";
  }
  return absl::OkStatus();
}

// The GPU's name (e.g. "NVIDIA H100 80GB HBM3"), as nvidia-smi reports it; empty when unknown.
std::string GpuName() {
  std::string name;
  if (FILE* p = popen("nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1", "r")) {
    char buf[256];
    if (fgets(buf, sizeof(buf), p) != nullptr) name = buf;
    pclose(p);
  }
  while (!name.empty() && (name.back() == '\n' || name.back() == ' ')) name.pop_back();
  return name;
}

// Percentile p (0..100) of a sample (sorted copy).
double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  if (v.empty()) return 0;
  return v[std::min(v.size() - 1, static_cast<size_t>(p / 100.0 * v.size()))];
}

// GPU memory this process holds, in MiB, as nvidia-smi reports it; -1 when unknown.
int64_t GpuMemoryUsedMiB() {
  int64_t mib = -1;
  const std::string command = absl::StrCat(
      "nvidia-smi --query-compute-apps=pid,used_memory --format=csv,noheader,nounits 2>/dev/null | grep '^",
      getpid(), ",'");
  if (FILE* p = popen(command.c_str(), "r")) {
    char buf[256];
    if (fgets(buf, sizeof(buf), p) != nullptr) {
      std::vector<std::string> parts = absl::StrSplit(buf, ',');
      if (parts.size() == 2 && !absl::SimpleAtoi(absl::StripAsciiWhitespace(parts[1]), &mib)) mib = -1;
    }
    pclose(p);
  }
  return mib;
}

// Prefill and decode speed of a config.json with random weights.
absl::Status RunBench(const Args& args) {
  if (!args.Has("config")) return absl::InvalidArgumentError("--config config.json is required");
  auto config = ReadModelConfig(args.Get("config"));
  if (!config.ok()) return config.status();
  auto options = ParseLoadOptions(args);
  if (!options.ok()) return options.status();
  auto batch = IntFlag(args, "batch", 1);
  auto prompt_len = IntFlag(args, "prompt-len", 512);
  auto new_tokens = IntFlag(args, "new-tokens", 128);
  auto iters = IntFlag(args, "iters", 3);
  for (auto* v : {&batch, &prompt_len, &new_tokens, &iters}) {
    if (!v->ok()) return v->status();
    if (**v <= 0) return absl::InvalidArgumentError("--batch/--prompt-len/--new-tokens/--iters must be > 0");
  }
  const auto load_start = std::chrono::steady_clock::now();
  auto model = DecoderModel::RandomInit(*config, *options, /*seed=*/0);
  if (!model.ok()) return model.status();
  const bool cuda = options->device.is_cuda();
  auto sync = [&] {
    if (cuda) torch::cuda::synchronize();
  };
  sync();
  const double init_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - load_start).count();
  torch::NoGradGuard no_grad;
  torch::Tensor ids = torch::randint(0, config->vocab_size, {*batch, *prompt_len}, torch::kInt64);
  std::vector<double> prefill_ms, decode_ms, nocache_ms;
  bool static_decode = false, graph_replayed = false;
  std::vector<torch::Tensor> timed_tokens;  // the last iteration's greedy tokens, one [batch] per step
  for (int64_t it = 0; it <= *iters; ++it) {  // iteration 0 warms up (and captures the graph)
    {
      ForwardInput in;
      in.inputs_embeds = (*model)->EmbedTokens(ids);
      in.logits_last_only = true;
      sync();
      auto t0 = std::chrono::steady_clock::now();
      torch::Tensor next = (*model)->Forward(in).logits.select(1, 0).argmax(-1);
      sync();
      if (it > 0) {
        nocache_ms.push_back(
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
      }
    }
    KvCache cache;
    ForwardInput in;
    in.inputs_embeds = (*model)->EmbedTokens(ids);
    in.cache = &cache;
    in.logits_last_only = true;
    sync();
    auto t0 = std::chrono::steady_clock::now();
    torch::Tensor next = (*model)->Forward(in).logits.select(1, 0).argmax(-1);
    sync();
    auto t1 = std::chrono::steady_clock::now();
    // As Generate does: the steps on a static-shape cache (a CUDA-graph replay each) when the model
    // uses graphs, else on the growing cache.
    auto fixed = AcquireStaticDecoder(**model, *batch, cache.length() + *new_tokens,
                                      /*force=*/args.Has("force-static-cache"));
    if (fixed != nullptr) fixed->Load(cache);
    timed_tokens.clear();
    for (int64_t s = 0; s < *new_tokens; ++s) {
      timed_tokens.push_back(next);
      torch::Tensor embeds = (*model)->EmbedTokens(next.view({*batch, 1}));
      if (fixed != nullptr) {
        next = fixed->Step(embeds).argmax(-1);
        continue;
      }
      ForwardInput step;
      step.inputs_embeds = embeds;
      step.cache = &cache;
      step.logits_last_only = true;
      next = (*model)->Forward(step).logits.select(1, 0).argmax(-1);
    }
    sync();
    auto t2 = std::chrono::steady_clock::now();
    static_decode = fixed != nullptr;
    graph_replayed = fixed != nullptr && fixed->graph_replayed();
    if (it == 0) continue;
    prefill_ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    decode_ms.push_back(std::chrono::duration<double, std::milli>(t2 - t1).count());
  }
  // The timed tokens against the reference decode (the same prompt, every step on the growing cache,
  // eager): the fraction of greedy tokens that agree and the first step where any row differs
  // (-1: none). Random weights give flat logits, so near-ties may flip under different kernels;
  // a broken static cache or graph replay disagrees from the first steps on.
  double agreement = 1.0;
  int64_t first_difference = -1;
  if (static_decode) {
    KvCache cache;
    ForwardInput in;
    in.inputs_embeds = (*model)->EmbedTokens(ids);
    in.cache = &cache;
    in.logits_last_only = true;
    torch::Tensor next = (*model)->Forward(in).logits.select(1, 0).argmax(-1);
    int64_t agree = 0;
    for (int64_t s = 0; s < *new_tokens; ++s) {
      torch::Tensor same = next.eq(timed_tokens[s]);
      agree += same.sum().item<int64_t>();
      if (first_difference < 0 && !same.all().item<bool>()) first_difference = s;
      ForwardInput step;
      step.inputs_embeds = (*model)->EmbedTokens(timed_tokens[s].view({*batch, 1}));  // teacher-forced
      step.cache = &cache;
      step.logits_last_only = true;
      next = (*model)->Forward(step).logits.select(1, 0).argmax(-1);
    }
    agreement = static_cast<double>(agree) / static_cast<double>((*batch) * (*new_tokens));
  }
  std::sort(prefill_ms.begin(), prefill_ms.end());
  std::sort(decode_ms.begin(), decode_ms.end());
  std::sort(nocache_ms.begin(), nocache_ms.end());
  const double p = prefill_ms[prefill_ms.size() / 2], d = decode_ms[decode_ms.size() / 2];
  Json j;
  j["config"] = args.Get("config");
  j["device"] = options->device.str();
  j["dtype"] = args.Get("dtype", "fp32");
  j["activations"] = args.Get("activations", "fp32");
  j["runtime"] = args.Get("runtime", "fast");
  j["fused_kernels"] = (*model)->uses_fused_cuda_kernels();
  j["few_row_matmul"] = (*model)->uses_few_row_matmul();
  if (cuda) j["gpu"] = GpuName();
  j["batch"] = *batch;
  j["prompt_len"] = *prompt_len;
  j["new_tokens"] = *new_tokens;
  j["iters"] = *iters;
  j["random_init_s"] = init_s;
  j["prefill_ms_median"] = p;
  j["prefill_tokens_per_s"] = (*batch) * (*prompt_len) / (p / 1000.0);
  j["prefill_nocache_ms_median"] = nocache_ms[nocache_ms.size() / 2];
  j["decode_ms_per_step_median"] = d / (*new_tokens);
  j["decode_tokens_per_s"] = (*batch) * (*new_tokens) / (d / 1000.0);
  j["decode_static_cache"] = static_decode;        // bridge/model/static_decoder.h
  j["decode_graph_replayed"] = graph_replayed;
  if (static_decode) {  // the static-cache tokens vs the growing cache's, teacher-forced on the former
    j["decode_tokens_agree_with_growing_cache"] = agreement;
    j["decode_first_difference_step"] = first_difference;
  }
  if (cuda) j["gpu_memory_used_mib"] = GpuMemoryUsedMiB();
  j["torch_version"] = TORCH_VERSION;
  std::cout << j.dump() << "\n";
  return absl::OkStatus();
}

// Median of a sample (sorted copy).
double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

// Wall time of the stages `paths` and `pipelines` time, and the wait for the device's queued work
// before a stage's clock is read.
using StageClock = std::chrono::steady_clock;
double MsBetween(StageClock::time_point a, StageClock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}
void WaitForDevice(const torch::Device& device) {
  if (device.is_cuda()) torch::cuda::synchronize();
}

// The run's settings that every timing row carries: device (and the GPU's name), dtype, activations,
// runtime.
void AddRunSettings(const Args& args, const LoadOptions& options, Json* j) {
  (*j)["device"] = options.device.str();
  if (options.device.is_cuda()) (*j)["gpu"] = GpuName();
  (*j)["dtype"] = args.Get("dtype", "fp32");
  (*j)["activations"] = args.Get("activations", "fp32");
  (*j)["runtime"] = args.Get("runtime", "fast");
}

// Median, p95 and p99 of every stage's sample, as j["median"][stage], j["p95"][stage], j["p99"][stage].
void AddStageStatistics(const std::map<std::string, std::vector<double>>& samples, Json* j) {
  for (const auto& [name, values] : samples) {
    (*j)["median"][name] = Median(values);
    (*j)["p95"][name] = Percentile(values, 95);
    (*j)["p99"][name] = Percentile(values, 99);
  }
}

absl::Status RunPaths(const Args& args) {
  if (!args.Has("sender-config") || !args.Has("receiver-config")) {
    return absl::InvalidArgumentError("--sender-config and --receiver-config are required");
  }
  auto sender_config = ReadModelConfig(args.Get("sender-config"));
  if (!sender_config.ok()) return sender_config.status();
  auto receiver_config = ReadModelConfig(args.Get("receiver-config"));
  if (!receiver_config.ok()) return receiver_config.status();
  auto options = ParseLoadOptions(args);
  if (!options.ok()) return options.status();
  auto batch = IntFlag(args, "batch", 1);
  auto message = IntFlag(args, "message-tokens", 64);
  auto layer = IntFlag(args, "source-layer", 16);
  auto soft = IntFlag(args, "soft-tokens", 8);
  auto frame = IntFlag(args, "frame-tokens", 16);
  auto relay = IntFlag(args, "relay-tokens", 32);
  auto iters = IntFlag(args, "iters", 10);
  for (auto* v : {&batch, &message, &layer, &soft, &frame, &relay, &iters}) {
    if (!v->ok()) return v->status();
    if (**v <= 0) return absl::InvalidArgumentError("paths: every count must be > 0");
  }
  auto sender = DecoderModel::RandomInit(*sender_config, *options, /*seed=*/1);
  if (!sender.ok()) return sender.status();
  auto receiver = DecoderModel::RandomInit(*receiver_config, *options, /*seed=*/2);
  if (!receiver.ok()) return receiver.status();
  const bool cuda = options->device.is_cuda();
  torch::NoGradGuard no_grad;
  const int64_t B = *batch;
  torch::Tensor msg_ids = torch::randint(0, sender_config->vocab_size, {B, *message}, torch::kInt64);
  torch::Tensor frame_ids = torch::randint(0, receiver_config->vocab_size, {B, *frame}, torch::kInt64);
  torch::Tensor direct_ids = torch::randint(0, receiver_config->vocab_size, {B, *frame + *message}, torch::kInt64);
  // Two one-token verbalizers.
  const std::vector<std::vector<int64_t>> labels = {{receiver_config->vocab_size / 3},
                                                    {2 * receiver_config->vocab_size / 3}};
  const int64_t H = receiver_config->hidden_size;
  torch::Tensor soft_tokens = (torch::randn({B, *soft, H}) * 0.02).to(options->device, options->dtype);
  std::map<std::string, std::vector<double>> t;
  for (int64_t it = 0; it <= *iters; ++it) {
    // Latent: sender to the source layer, then the receiver reads frame + soft tokens and scores.
    WaitForDevice(options->device);
    auto t0 = StageClock::now();
    ForwardInput in;
    in.inputs_embeds = (*sender)->EmbedTokens(msg_ids);
    in.stop_after_layer = static_cast<int>(*layer);
    torch::Tensor states = (*sender)->Forward(in).last_hidden;
    WaitForDevice(options->device);
    auto t1 = StageClock::now();
    torch::Tensor frame_embeds = (*receiver)->EmbedTokens(frame_ids);
    torch::Tensor primed = torch::cat({frame_embeds.narrow(1, 0, *frame / 2), soft_tokens,
                                       frame_embeds.narrow(1, *frame / 2, *frame - *frame / 2)}, 1);
    auto scores = ScoreLabels(**receiver, primed, torch::ones({B, primed.size(1)}, torch::kInt64), labels);
    if (!scores.ok()) return scores.status();
    torch::Tensor answer = scores->argmax(-1).cpu();
    auto t2 = StageClock::now();
    // Text relay: the sender writes relay tokens, the receiver reads frame + them and scores.
    GenerationOptions gen;
    gen.max_new_tokens = *relay;
    auto written = GenerateFromIds(**sender, msg_ids, torch::ones_like(msg_ids), gen);
    if (!written.ok()) return written.status();
    auto t3 = StageClock::now();
    std::vector<int64_t> relayed;
    for (const auto& row : written->tokens) {
      for (int64_t id : row) relayed.push_back(id % receiver_config->vocab_size);
    }
    torch::Tensor relay_ids = torch::cat(
        {frame_ids, torch::tensor(relayed).view({B, -1})}, 1);
    auto relay_scores = ScoreLabels(**receiver, (*receiver)->EmbedTokens(relay_ids),
                                    torch::ones({B, relay_ids.size(1)}, torch::kInt64), labels);
    if (!relay_scores.ok()) return relay_scores.status();
    answer = relay_scores->argmax(-1).cpu();
    auto t4 = StageClock::now();
    // Direct text: the receiver reads frame + the message itself.
    auto direct_scores = ScoreLabels(**receiver, (*receiver)->EmbedTokens(direct_ids),
                                     torch::ones({B, direct_ids.size(1)}, torch::kInt64), labels);
    if (!direct_scores.ok()) return direct_scores.status();
    answer = direct_scores->argmax(-1).cpu();
    auto t5 = StageClock::now();
    if (it == 0) continue;
    t["latent.sender_to_layer_ms"].push_back(MsBetween(t0, t1));
    t["latent.receiver_classify_ms"].push_back(MsBetween(t1, t2));
    t["latent.total_ms"].push_back(MsBetween(t0, t2));
    t["text_relay.sender_generate_ms"].push_back(MsBetween(t2, t3));
    t["text_relay.receiver_classify_ms"].push_back(MsBetween(t3, t4));
    t["text_relay.total_ms"].push_back(MsBetween(t2, t4));
    t["direct_text.receiver_classify_ms"].push_back(MsBetween(t4, t5));
  }
  Json j;
  j["sender_config"] = args.Get("sender-config");
  j["receiver_config"] = args.Get("receiver-config");
  AddRunSettings(args, *options, &j);
  j["fused_kernels"] = (*sender)->uses_fused_cuda_kernels() && (*receiver)->uses_fused_cuda_kernels();
  j["few_row_matmul"] = (*sender)->uses_few_row_matmul() && (*receiver)->uses_few_row_matmul();
  j["batch"] = B;
  j["message_tokens"] = *message;
  j["source_layer"] = *layer;
  j["soft_tokens"] = *soft;
  j["frame_tokens"] = *frame;
  j["relay_tokens"] = *relay;
  j["iters"] = *iters;
  AddStageStatistics(t, &j);
  if (cuda) j["gpu_memory_used_mib_both_models"] = GpuMemoryUsedMiB();
  j["torch_version"] = TORCH_VERSION;
  std::cout << j.dump() << "\n";
  return absl::OkStatus();
}

// A pipeline's options in benchmark mode: random weights from --<model_flag>'s config.json and a
// random bridge half from --bridge-dir's bridge.json.
template <typename PipelineOptions>
PipelineOptions BenchmarkPipelineOptions(const Args& args, const std::string& model_flag, const LoadOptions& load,
                                         uint64_t seed) {
  PipelineOptions options;
  options.bridge_dir = args.Get("bridge-dir");
  options.model_dir = args.Get(model_flag);
  options.model_options = load;
  options.random_weights_for_benchmark = true;
  options.random_seed = seed;
  return options;
}

absl::Status RunPipelines(const Args& args) {
#if LIP_MODEL_HAS_TOKENIZER
  for (const char* name : {"sender-model", "receiver-model", "bridge-dir", "input"}) {
    if (!args.Has(name)) return absl::InvalidArgumentError(absl::StrCat("pipelines: --", name, " is required"));
  }
  auto options = ParseLoadOptions(args);
  if (!options.ok()) return options.status();
  auto iters = IntFlag(args, "iters", 20);
  if (!iters.ok()) return iters.status();
  if (*iters <= 0) return absl::InvalidArgumentError("pipelines: --iters must be > 0");
  auto requests = ReadRequests(args);
  if (!requests.ok()) return requests.status();
  std::vector<std::string> texts;
  for (const Request& request : *requests) {
    if (request.has_ids) return absl::InvalidArgumentError("pipelines: --input needs {\"text\": ...} lines");
    texts.push_back(request.text);
  }
  auto sender = SenderPipeline::Load(
      BenchmarkPipelineOptions<SenderPipelineOptions>(args, "sender-model", *options, /*seed=*/1));
  if (!sender.ok()) return sender.status();
  auto receiver = ReceiverPipeline::Load(
      BenchmarkPipelineOptions<ReceiverPipelineOptions>(args, "receiver-model", *options, /*seed=*/2));
  if (!receiver.ok()) return receiver.status();
  const BridgeMetadata& bridge = (*sender)->bridge();
  const DecoderModel& sender_model = (*sender)->model();
  const DecoderModel& receiver_model = (*receiver)->model();
  const bool cuda = options->device.is_cuda();
  torch::NoGradGuard no_grad;

  // The sender half alone, as the pipeline's encode graph runs it after the model: a second
  // randomly initialised encoder of the bridge's shape, in a GraphedFunction of its own; and the
  // same with the resampler's attention as separate ops (PerceiverResampler::SetFusedAttention).
  SenderEncoder encoder(bridge.sender);
  encoder->eval();
  encoder->to(options->device);
  GraphedFunction encoder_graphs(options->device, sender_model.uses_cuda_graphs(), /*max_graphs=*/32);
  auto run_encoder = [&](const std::vector<torch::Tensor>& in) -> std::vector<torch::Tensor> {
    return {encoder->forward(in[0], in[1])};
  };
  auto run_encoder_unfused = [&](const std::vector<torch::Tensor>& in) -> std::vector<torch::Tensor> {
    encoder->perceiver()->SetFusedAttention(false);
    torch::Tensor z = encoder->forward(in[0], in[1]);
    encoder->perceiver()->SetFusedAttention(true);
    return {z};
  };
  // The receiver's frame: L = |BOS| + |prefix| + M + |anchor| positions, scored on one-token labels.
  auto priming = TokenizePriming((*receiver)->tokenizer(), bridge.priming);
  if (!priming.ok()) return priming.status();
  const ContextPrimer primer(*priming);
  const int64_t M = bridge.sender.perceiver.num_queries;
  const int64_t frame_length = primer.head_length() + M + primer.tail_length();
  const std::vector<std::vector<int64_t>> labels = {{receiver_model.config().vocab_size / 3},
                                                    {2 * receiver_model.config().vocab_size / 3}};
  torch::Tensor frame_embeds =
      (torch::randn({1, frame_length, receiver_model.hidden_size()}) * 0.02).to(options->device, options->dtype);
  torch::Tensor frame_mask = torch::ones({1, frame_length}, torch::kInt64);

  std::map<std::string, std::vector<double>> t;
  int64_t longest_tokens = 0;
  double max_fused_difference = 0;  // |Z fused - Z unfused|, the resampler's attention two ways
  const int64_t n = static_cast<int64_t>(texts.size());
  for (int64_t it = -n; it < *iters; ++it) {  // the first n iterations warm up (capture) every length
    const std::string& text = texts[(it + n) % n];
    WaitForDevice(options->device);
    auto t0 = StageClock::now();
    auto ids = (*sender)->tokenizer().Encode(text, /*add_special_tokens=*/true);
    auto t1 = StageClock::now();
    if (!ids.ok()) return ids.status();
    if (int64_t(ids->size()) > bridge.sender.max_text_tokens) ids->resize(bridge.sender.max_text_tokens);
    auto encoded = (*sender)->Encode({text});
    auto t2 = StageClock::now();
    if (!encoded.ok()) return encoded.status();
    // The sender model to the source layer on the same ids, padded to the graph's token bucket as
    // the pipeline pads them (its own graph where the model replays graphs).
    const int64_t tokens = static_cast<int64_t>(ids->size());
    const int64_t columns = sender_model.uses_cuda_graphs() ? GraphTokenBucket(tokens) : tokens;
    torch::Tensor id_tensor = torch::zeros({1, columns}, torch::kInt64);
    torch::Tensor mask = torch::zeros({1, columns}, torch::kInt64);
    for (int64_t i = 0; i < tokens; ++i) {
      id_tensor[0][i] = (*ids)[i];
      mask[0][i] = 1;
    }
    WaitForDevice(options->device);
    auto t3 = StageClock::now();
    ForwardInput in;
    in.inputs_embeds = sender_model.EmbedTokens(id_tensor.to(options->device));
    in.stop_after_layer = static_cast<int>(bridge.sender.source_layer);
    torch::Tensor states = sender_model.Forward(in).last_hidden.to(torch::kFloat32);
    WaitForDevice(options->device);
    auto t4 = StageClock::now();
    torch::Tensor z = encoder_graphs.Run("encoder", {states, mask.to(options->device)}, run_encoder)[0];
    z = z.to(torch::kCPU);
    auto t5 = StageClock::now();
    torch::Tensor z_unfused = encoder_graphs.Run("encoder-unfused-attention", {states, mask.to(options->device)},
                                                 run_encoder_unfused)[0].to(torch::kCPU);
    auto t5b = StageClock::now();
    LatentMessage message;
    message.z = (*encoded)[0].z;
    message.num_soft_tokens = (*encoded)[0].num_soft_tokens;
    message.width = (*encoded)[0].width;
    auto answers = (*receiver)->Answer({message});
    auto t6 = StageClock::now();
    if (!answers.ok()) return answers.status();
    if (!(*answers)[0].ok()) return (*answers)[0].status();
    auto scores = ScoreLabels(receiver_model, frame_embeds, frame_mask, labels);
    if (!scores.ok()) return scores.status();
    torch::Tensor answer = scores->argmax(-1).cpu();
    auto t7 = StageClock::now();
    if (it < 0) continue;
    longest_tokens = std::max(longest_tokens, tokens);
    t["sender.tokenize_ms"].push_back(MsBetween(t0, t1));
    t["sender.pipeline_encode_ms"].push_back(MsBetween(t1, t2));
    t["sender.pipeline_encode_device_ms"].push_back((*encoded)[0].device_ms);
    t["sender.model_to_source_layer_ms"].push_back(MsBetween(t3, t4));
    t["sender.half_alone_ms"].push_back(MsBetween(t4, t5));
    t["sender.half_alone_unfused_attention_ms"].push_back(MsBetween(t5, t5b));
    max_fused_difference = std::max(max_fused_difference, (z - z_unfused).abs().max().item<double>());
    t["receiver.pipeline_answer_ms"].push_back(MsBetween(t5b, t6));
    t["receiver.model_classify_ms"].push_back(MsBetween(t6, t7));
  }
  Json j;
  j["sender_model"] = args.Get("sender-model");
  j["receiver_model"] = args.Get("receiver-model");
  j["bridge"] = bridge.name;
  AddRunSettings(args, *options, &j);
  j["fused_kernels"] = sender_model.uses_fused_cuda_kernels() && receiver_model.uses_fused_cuda_kernels();
  j["few_row_matmul"] = sender_model.uses_few_row_matmul() && receiver_model.uses_few_row_matmul();
  j["messages"] = n;
  j["longest_message_tokens"] = longest_tokens;
  j["receiver_frame_tokens"] = frame_length;
  j["iters"] = *iters;
  j["sender_encode_graphs"] = (*sender)->num_encode_graphs();
  j["half_alone_fused_vs_unfused_attention_max_abs_difference"] = max_fused_difference;
  AddStageStatistics(t, &j);
  if (cuda) j["gpu_memory_used_mib_both_pipelines"] = GpuMemoryUsedMiB();
  j["torch_version"] = TORCH_VERSION;
  std::cout << j.dump() << "\n";
  return absl::OkStatus();
#else
  (void)args;
  return absl::UnimplementedError("this lip-model was built without the tokenizer: no pipelines");
#endif
}

// The sender's bridge half alone — the normaliser and Perceiver resampler of --bridge-dir's bridge.json,
// random weights — on random fp32 states of --batch messages of --tokens tokens (default the bridge's
// max_text_tokens), as the sender's encode graph runs it after the model: one CUDA-graph replay per
// call (--graph on, the default on CUDA) or its ops one by one (--graph off: what a kernel profiler such
// as ncu times kernel by kernel). Prints the median / p95 / p99 of --iters calls (default 20), each from
// the device's idle state to Z on the device.
absl::Status RunSenderHalf(const Args& args) {
  if (!args.Has("bridge-dir")) return absl::InvalidArgumentError("sender-half: --bridge-dir is required");
  auto bridge = ReadBridgeMetadata(args.Get("bridge-dir"));
  if (!bridge.ok()) return bridge.status();
  auto options = ParseLoadOptions(args);
  if (!options.ok()) return options.status();
  auto iters = IntFlag(args, "iters", 20);
  if (!iters.ok()) return iters.status();
  auto batch = IntFlag(args, "batch", 1);
  if (!batch.ok()) return batch.status();
  auto tokens = IntFlag(args, "tokens", bridge->sender.max_text_tokens);
  if (!tokens.ok()) return tokens.status();
  if (*iters < 1 || *batch < 1 || *tokens < 1) {
    return absl::InvalidArgumentError("sender-half: --iters, --batch and --tokens must be positive");
  }
  auto graph = OnOffFlag(args, "graph", true);
  if (!graph.ok()) return graph.status();
  torch::NoGradGuard no_grad;
  SenderEncoder encoder(bridge->sender);
  encoder->eval();
  encoder->to(options->device);
  const torch::Tensor states =
      torch::randn({*batch, *tokens, bridge->sender.perceiver.input_width}).to(options->device);
  const torch::Tensor mask = torch::ones({*batch, *tokens}, torch::kInt64).to(options->device);
  GraphedFunction graphs(options->device, *graph, /*max_graphs=*/1);
  auto body = [&](const std::vector<torch::Tensor>& in) -> std::vector<torch::Tensor> {
    return {encoder->forward(in[0], in[1])};
  };
  graphs.Run("half", {states, mask}, body);  // warm-up (and the capture)
  std::map<std::string, std::vector<double>> t;
  for (int64_t i = 0; i < *iters; ++i) {
    WaitForDevice(options->device);
    const auto start = StageClock::now();
    graphs.Run("half", {states, mask}, body);
    WaitForDevice(options->device);
    t["sender_half_ms"].push_back(MsBetween(start, StageClock::now()));
  }
  Json j;
  AddRunSettings(args, *options, &j);
  j["bridge"] = bridge->name;
  j["batch"] = *batch;
  j["tokens"] = *tokens;
  j["input_width"] = bridge->sender.perceiver.input_width;
  j["graph"] = graphs.uses_graphs();
  j["iters"] = *iters;
  AddStageStatistics(t, &j);
  std::cout << j.dump() << "\n";
  return absl::OkStatus();
}

// The block's projections at a config's shapes, cuBLAS against the few-row kernel (one JSON line
// per projection and row count).
absl::Status RunProjections(const Args& args) {
  if (!args.Has("config")) return absl::InvalidArgumentError("--config config.json is required");
  auto config = ReadModelConfig(args.Get("config"));
  if (!config.ok()) return config.status();
  auto options = ParseLoadOptions(args);
  if (!options.ok()) return options.status();
  auto iters = IntFlag(args, "iters", 20);
  if (!iters.ok()) return iters.status();
  auto rows = ParseIntList("rows", args.Get("rows", "1,8,24,64"));
  if (!rows.ok()) return rows.status();
  auto timings = TimeBlockProjections(*config, options->device, options->dtype, *rows, static_cast<int>(*iters));
  if (!timings.ok()) return timings.status();
  for (const ProjectionTiming& t : *timings) {
    Json j;
    AddRunSettings(args, *options, &j);
    j["config"] = args.Get("config");
    j["projection"] = t.projection;
    j["rows"] = t.rows;
    j["n"] = t.n;
    j["k"] = t.k;
    j["adds_residual"] = t.adds_residual;
    j["swiglu"] = t.swiglu;
    j["weight_copies"] = t.weight_copies;
    j["weight_gb"] = t.weight_gb;
    j["cublas_us"] = t.cublas_us;
    j["cublas_gb_s"] = t.cublas_us > 0 ? t.weight_gb / (t.cublas_us * 1e-6) : 0.0;
    j["auto_splits"] = t.auto_splits;
    Json kernel = Json::object(), kernel_gb_s = Json::object();
    for (const auto& [splits, us] : t.kernel_us) {
      const std::string key = splits == 0 ? "auto" : std::to_string(splits);
      kernel[key] = us;
      kernel_gb_s[key] = us > 0 ? t.weight_gb / (us * 1e-6) : 0.0;
    }
    j["kernel_us"] = kernel;
    j["kernel_gb_s"] = kernel_gb_s;
    j["cublas_relative_error"] = t.cublas_relative_error;
    j["kernel_relative_error"] = t.kernel_relative_error;
    std::cout << j.dump() << "\n";
  }
  return absl::OkStatus();
}

absl::Status Main(int argc, char** argv) {
  auto args = ParseArgs(argc, argv);
  if (!args.ok()) return args.status();
  try {
    if (args->command == "tokenize") return RunTokenize(*args);
    if (args->command == "forward") return RunForward(*args);
    if (args->command == "generate") return RunGenerate(*args);
    if (args->command == "bench") return RunBench(*args);
    if (args->command == "paths") return RunPaths(*args);
    if (args->command == "pipelines") return RunPipelines(*args);
    if (args->command == "projections") return RunProjections(*args);
    if (args->command == "sender-half") return RunSenderHalf(*args);
  } catch (const c10::Error& e) {
    return absl::InternalError(e.what_without_backtrace());
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown command \"", args->command, "\" (tokenize, forward, generate, bench, paths, pipelines, projections, sender-half)"));
}

}  // namespace
}  // namespace lip

int main(int argc, char** argv) {
  absl::Status s = lip::Main(argc, argv);
  if (!s.ok()) {
    std::cerr << "lip-model: " << s << "\n";
    return 1;
  }
  return 0;
}
