// Follows transformers/models/llama/modeling_llama.py (eager attention) step by step; the
// mistral and qwen2 files differ from it only in the sliding window and q/k/v bias.
#include "bridge/model/decoder_model.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <mutex>
#include <tuple>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "bridge/model/checkpoint_dir.h"
#include "bridge/model/decoder_ops.h"
#include "bridge/model/graphed_function.h"
#include "common/wire/sha256.h"
#include "common/wire/status_macros.h"

#include "bridge/model/cuda_graph_capture.h"
#if LIP_CUDA_GRAPHS
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAGraphsC10Utils.h>
#endif

namespace lip {
namespace {

using decoder_ops::project;
using decoder_ops::repeat_kv;
using decoder_ops::rms_norm;
using decoder_ops::rope;

std::string ShapeString(torch::IntArrayRef shape) { return absl::StrCat("[", absl::StrJoin(shape, ","), "]"); }

}  // namespace

// Captured forwards, one per (batch bucket, token bucket, exit layer, padded or not). Every use of an entry
// (copy in, replay, copy out) happens under `mutex` and on the caller's current stream, so a later
// replay never overwrites an output before it has been copied out.
struct DecoderModel::GraphCache {
  // Enough for a node's warm-up (server/graph_warmup.h: 7 batch buckets x every token bucket of
  // its messages, ~120 graphs at most); each graph keeps only its output buffer, the rest of the
  // memory is the shared pool's.
  static constexpr int kMaxGraphs = 160;
  struct Entry {
#if LIP_CUDA_GRAPHS
    std::unique_ptr<at::cuda::CUDAGraph> graph;
#endif
    torch::Tensor input;   // [Bb,Tb,H] in the model dtype: the graph reads it
    torch::Tensor mask;    // [Bb,Tb] int64 on the device for padded batches: the graph reads it
    torch::Tensor output;  // [Bb,Tb,H]: the graph writes it (last_hidden of the exit layer)
    bool failed = false;   // the capture failed: this bucket runs eagerly
  };
  std::mutex mutex;
  std::map<std::tuple<int64_t, int64_t, int, bool>, Entry> entries;
#if LIP_CUDA_GRAPHS
  // One memory pool for every graph of the model: replays never overlap (they hold `mutex`) and
  // each output is copied out before the mutex is released, so a later graph may reuse what an
  // earlier one freed. Unset until the first capture.
  CudaGraphPool pool{0, 0};
#endif
};

DecoderModel::DecoderModel(const ModelConfig& config, const LoadOptions& options)
    : config_(config), options_(options), graphs_(std::make_unique<GraphCache>()) {
  // "cuda" means the first GPU: name it, so that tensors made there ("cuda:0") compare equal to the
  // model's device in CheckForwardInput and callers' .to(model.device()) land where the weights are.
  if (options_.device.is_cuda() && !options_.device.has_index()) options_.device = torch::Device(torch::kCUDA, 0);
}

DecoderModel::~DecoderModel() = default;

// inv_freq exactly as transformers' rope init functions compute it (fp32 throughout).
torch::Tensor DecoderModel::RopeInvFreq() const {
  const int64_t dim = config_.head_dim;
  const RopeConfig& r = config_.rope;
  torch::Tensor exponent = torch::arange(0, dim, 2, torch::kInt64).to(torch::kFloat32) / static_cast<double>(dim);
  torch::Tensor inv_freq = torch::reciprocal(torch::pow(r.theta, exponent));
  if (r.type == "linear") {
    inv_freq = inv_freq / r.factor;
  } else if (r.type == "llama3") {
    const double old_context_len = static_cast<double>(r.original_max_position_embeddings);
    const double low_freq_wavelen = old_context_len / r.low_freq_factor;
    const double high_freq_wavelen = old_context_len / r.high_freq_factor;
    torch::Tensor wavelen = torch::reciprocal(inv_freq) * (2 * M_PI);
    torch::Tensor inv_freq_llama = torch::where(wavelen > low_freq_wavelen, inv_freq / r.factor, inv_freq);
    torch::Tensor smooth_factor =
        (torch::reciprocal(wavelen) * old_context_len - r.low_freq_factor) / (r.high_freq_factor - r.low_freq_factor);
    torch::Tensor smoothed = (1 - smooth_factor) * inv_freq_llama / r.factor + smooth_factor * inv_freq_llama;
    torch::Tensor is_medium = (wavelen >= high_freq_wavelen).logical_and(wavelen <= low_freq_wavelen);
    inv_freq_llama = torch::where(is_medium, smoothed, inv_freq_llama);
    inv_freq = inv_freq_llama;
  }
  return inv_freq;
}

absl::StatusOr<std::unique_ptr<DecoderModel>> DecoderModel::Load(const std::string& checkpoint_dir,
                                                                 const LoadOptions& options) {
  absl::StatusOr<std::unique_ptr<CheckpointDir>> ckpt = CheckpointDir::Open(checkpoint_dir);
  if (!ckpt.ok()) return ckpt.status();
  const ModelConfig& c = (*ckpt)->config();
  std::unique_ptr<DecoderModel> model(new DecoderModel(c, options));
  try {
    // Fetches a weight, checks its shape and converts it to the model's device/dtype
    // (no copy when both already match: the tensor stays a view over the mapping).
    auto get = [&](const std::string& name, std::vector<int64_t> shape) -> absl::StatusOr<torch::Tensor> {
      absl::StatusOr<torch::Tensor> t = (*ckpt)->Tensor(name);
      if (!t.ok()) return t.status();
      if (t->sizes() != torch::IntArrayRef(shape)) {
        return absl::InvalidArgumentError(absl::StrCat("weight \"", name, "\" in ", checkpoint_dir, " has shape ",
                                                       ShapeString(t->sizes()), ", expected ",
                                                       ShapeString(shape)));
      }
      if (!t->is_floating_point()) {
        return absl::InvalidArgumentError(absl::StrCat("weight \"", name, "\" has dtype ",
                                                       std::string(c10::toString(t->scalar_type())),
                                                       ", expected a floating-point type"));
      }
      return t->to(options.device, options.dtype);
    };
    const int64_t H = c.hidden_size, V = c.vocab_size, I = c.intermediate_size, D = c.head_dim;
    const int64_t q_out = c.num_attention_heads * D, kv_out = c.num_key_value_heads * D;
    LIP_ASSIGN_OR_RETURN(model->embed_tokens_, get("model.embed_tokens.weight", {V, H}));
    LIP_ASSIGN_OR_RETURN(model->final_norm_, get("model.norm.weight", {H}));
    if (c.tie_word_embeddings) {
      model->lm_head_ = model->embed_tokens_;
    } else {
      LIP_ASSIGN_OR_RETURN(model->lm_head_, get("lm_head.weight", {V, H}));
    }
    const bool qkv_bias = c.qkv_bias || c.attention_bias;
    model->layers_.resize(c.num_hidden_layers);
    for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
      Layer& l = model->layers_[i];
      const std::string p = absl::StrCat("model.layers.", i, ".");
      LIP_ASSIGN_OR_RETURN(l.input_layernorm, get(p + "input_layernorm.weight", {H}));
      LIP_ASSIGN_OR_RETURN(l.post_attention_layernorm, get(p + "post_attention_layernorm.weight", {H}));
      LIP_ASSIGN_OR_RETURN(l.q_proj, get(p + "self_attn.q_proj.weight", {q_out, H}));
      LIP_ASSIGN_OR_RETURN(l.k_proj, get(p + "self_attn.k_proj.weight", {kv_out, H}));
      LIP_ASSIGN_OR_RETURN(l.v_proj, get(p + "self_attn.v_proj.weight", {kv_out, H}));
      LIP_ASSIGN_OR_RETURN(l.o_proj, get(p + "self_attn.o_proj.weight", {H, q_out}));
      if (qkv_bias) {
        LIP_ASSIGN_OR_RETURN(l.q_bias, get(p + "self_attn.q_proj.bias", {q_out}));
        LIP_ASSIGN_OR_RETURN(l.k_bias, get(p + "self_attn.k_proj.bias", {kv_out}));
        LIP_ASSIGN_OR_RETURN(l.v_bias, get(p + "self_attn.v_proj.bias", {kv_out}));
      }
      if (c.attention_bias) {
        LIP_ASSIGN_OR_RETURN(l.o_bias, get(p + "self_attn.o_proj.bias", {H}));
      }
      LIP_ASSIGN_OR_RETURN(l.gate_proj, get(p + "mlp.gate_proj.weight", {I, H}));
      LIP_ASSIGN_OR_RETURN(l.up_proj, get(p + "mlp.up_proj.weight", {I, H}));
      LIP_ASSIGN_OR_RETURN(l.down_proj, get(p + "mlp.down_proj.weight", {H, I}));
      if (c.mlp_bias) {
        LIP_ASSIGN_OR_RETURN(l.gate_bias, get(p + "mlp.gate_proj.bias", {I}));
        LIP_ASSIGN_OR_RETURN(l.up_bias, get(p + "mlp.up_proj.bias", {I}));
        LIP_ASSIGN_OR_RETURN(l.down_bias, get(p + "mlp.down_proj.bias", {H}));
      }
      l.sliding_window = c.layer_sliding_window[i];
    }
    model->FinishLoad();
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("loading ", checkpoint_dir, ": ", e.what_without_backtrace()));
  }
  model->weight_files_ = (*ckpt)->shard_paths();
  return model;
}

absl::StatusOr<std::unique_ptr<DecoderModel>> DecoderModel::RandomInit(const ModelConfig& config,
                                                                       const LoadOptions& options,
                                                                       uint64_t seed) {
  if (auto s = ValidateModelConfig(config); !s.ok()) return s;
  std::unique_ptr<DecoderModel> model(new DecoderModel(config, options));
  try {
    torch::manual_seed(seed);
    const double std = config.initializer_range;
    // Drawn directly on the target device (fast for multi-GB configs), in fp32 on CPU.
    const auto draw_opts = torch::TensorOptions()
                               .device(options.device)
                               .dtype(options.device.is_cpu() ? torch::kFloat32 : options.dtype);
    auto normal = [&](std::vector<int64_t> shape) {
      return (torch::randn(shape, draw_opts) * std).to(options.dtype);
    };
    auto ones = [&](int64_t n) { return torch::ones({n}, draw_opts).to(options.dtype); };
    auto zeros = [&](int64_t n) { return torch::zeros({n}, draw_opts).to(options.dtype); };
    const int64_t H = config.hidden_size, V = config.vocab_size, I = config.intermediate_size,
                  D = config.head_dim;
    const int64_t q_out = config.num_attention_heads * D, kv_out = config.num_key_value_heads * D;
    model->embed_tokens_ = normal({V, H});
    model->final_norm_ = ones(H);
    model->lm_head_ = config.tie_word_embeddings ? model->embed_tokens_ : normal({V, H});
    model->layers_.resize(config.num_hidden_layers);
    for (int64_t i = 0; i < config.num_hidden_layers; ++i) {
      Layer& l = model->layers_[i];
      l.input_layernorm = ones(H);
      l.post_attention_layernorm = ones(H);
      l.q_proj = normal({q_out, H});
      l.k_proj = normal({kv_out, H});
      l.v_proj = normal({kv_out, H});
      l.o_proj = normal({H, q_out});
      if (config.qkv_bias || config.attention_bias) {
        l.q_bias = zeros(q_out);
        l.k_bias = zeros(kv_out);
        l.v_bias = zeros(kv_out);
      }
      if (config.attention_bias) l.o_bias = zeros(H);
      l.gate_proj = normal({I, H});
      l.up_proj = normal({I, H});
      l.down_proj = normal({H, I});
      if (config.mlp_bias) {
        l.gate_bias = zeros(I);
        l.up_bias = zeros(I);
        l.down_bias = zeros(H);
      }
      l.sliding_window = config.layer_sliding_window[i];
    }
    model->FinishLoad();
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("random init: ", e.what_without_backtrace()));
  }
  model->random_init_recipe_ =
      absl::StrCat("lip-random-init:", config.model_type, ":V", config.vocab_size, ":H", config.hidden_size, ":I",
                   config.intermediate_size, ":L", config.num_hidden_layers, ":A", config.num_attention_heads,
                   ":KV", config.num_key_value_heads, ":D", config.head_dim, ":seed", seed);
  return model;
}

std::string DecoderModel::weights_digest() const {
  std::call_once(digest_once_, [this] {
    if (!weight_files_.empty()) {
      absl::StatusOr<std::string> d = Sha256DigestOfFiles(weight_files_);
      digest_ = d.ok() ? *d : std::string();
    } else {
      digest_ = Sha256Digest(random_init_recipe_);
    }
  });
  return digest_;
}

torch::Tensor DecoderModel::EmbedTokens(const torch::Tensor& ids) const {
  // Range check on CPU ids only: it is free there, while on the device it would force a
  // synchronisation per decoding step (device ids come from our own argmax/sampling).
  if (ids.device().is_cpu() && ids.numel() > 0) {
    torch::Tensor cpu = ids.to(torch::kInt64);
    const int64_t lo = cpu.min().item<int64_t>(), hi = cpu.max().item<int64_t>();
    TORCH_CHECK(lo >= 0 && hi < config_.vocab_size, "token id out of range [0, ", config_.vocab_size,
                "): min ", lo, ", max ", hi);
  }
  return torch::embedding(embed_tokens_, ids.to(options_.device, torch::kInt64));
}

void DecoderModel::FinishLoad() {
  if (options_.fast_runtime && options_.device.is_cuda()) {
    // One matmul instead of three (q, k, v) and two (gate, up): fewer launches per block. The
    // stacked weight replaces the separate ones, which become views into it (no extra memory).
    auto stack = [](std::vector<torch::Tensor*> parts, torch::Tensor& fused) {
      std::vector<torch::Tensor> values;
      for (torch::Tensor* p : parts) values.push_back(*p);
      fused = torch::cat(values, 0);
      int64_t offset = 0;
      for (torch::Tensor* p : parts) {
        const int64_t n = p->size(0);
        *p = fused.narrow(0, offset, n);
        offset += n;
      }
    };
    for (Layer& l : layers_) {
      stack({&l.q_proj, &l.k_proj, &l.v_proj}, l.qkv_proj);
      if (l.q_bias.defined()) stack({&l.q_bias, &l.k_bias, &l.v_bias}, l.qkv_bias);
      stack({&l.gate_proj, &l.up_proj}, l.gate_up_proj);
      if (l.gate_bias.defined()) stack({&l.gate_bias, &l.up_bias}, l.gate_up_bias);
    }
#if LIP_CUDA_GRAPHS
    // The separate weights' memory is free now but stays reserved by LibTorch's caching allocator
    // (nvidia-smi would count it against the node): hand it back.
    c10::cuda::CUDACachingAllocator::emptyCache();
#endif
  }
  inv_freq_ = RopeInvFreq().to(options_.device);
  activation_dtype_ = options_.fp32_activations ? torch::kFloat32 : options_.dtype;
  logits_head_ = lm_head_.to(activation_dtype_);
}

torch::Tensor DecoderModel::embedding_weight() const { return embed_tokens_; }
torch::Tensor DecoderModel::lm_head_weight() const { return lm_head_; }

absl::Status DecoderModel::CheckForwardInput(const ForwardInput& in) const {
  if (!in.inputs_embeds.defined() || in.inputs_embeds.dim() != 3 || in.inputs_embeds.size(2) != hidden_size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "inputs_embeds has shape ", in.inputs_embeds.defined() ? ShapeString(in.inputs_embeds.sizes()) : "undefined",
        ", expected [B,T,", hidden_size(), "]"));
  }
  if (in.inputs_embeds.size(1) == 0) return absl::InvalidArgumentError("inputs_embeds has no positions (T = 0)");
  if (in.inputs_embeds.device() != options_.device || in.inputs_embeds.scalar_type() != options_.dtype) {
    return absl::InvalidArgumentError(absl::StrCat(
        "inputs_embeds is ", std::string(c10::toString(in.inputs_embeds.scalar_type())), " on ",
        in.inputs_embeds.device().str(), ", the model is ", std::string(c10::toString(options_.dtype)), " on ",
        options_.device.str()));
  }
  const int64_t B = in.inputs_embeds.size(0), T = in.inputs_embeds.size(1);
  if (in.attention_mask.defined() &&
      (in.attention_mask.dim() != 2 || in.attention_mask.size(0) != B || in.attention_mask.size(1) != T)) {
    return absl::InvalidArgumentError(absl::StrCat("attention_mask has shape ", ShapeString(in.attention_mask.sizes()),
                                                   ", expected [", B, ",", T, "]"));
  }
  if (in.cache != nullptr && !in.cache->empty() && in.cache->batch_size() != B) {
    return absl::InvalidArgumentError(
        absl::StrCat("cache holds batch ", in.cache->batch_size(), ", inputs have batch ", B));
  }
  if (in.stop_after_layer < -1 || in.stop_after_layer > num_layers()) {
    return absl::InvalidArgumentError(
        absl::StrCat("stop_after_layer ", in.stop_after_layer, " outside [-1, ", num_layers(), "]"));
  }
  return absl::OkStatus();
}

bool DecoderModel::uses_fused_cuda_kernels() const {
  return decoder_ops::fused_cuda_kernels_built() && options_.fused_cuda_kernels && options_.fast_runtime &&
         options_.device.is_cuda();
}

bool DecoderModel::uses_few_row_matmul() const {
  return uses_fused_cuda_kernels() && few_row_matmul_asked() && decoder_ops::few_row_matmul_available(options_.device);
}

bool DecoderModel::few_row_matmul_asked() const {
  return options_.fast_runtime && options_.fused_cuda_kernels && options_.few_row_matmul;
}

torch::Tensor DecoderModel::StackedProjection(const torch::Tensor& x, const torch::Tensor& w,
                                              const torch::Tensor& b) const {
  if (b.defined()) return project(x, w, b, activation_dtype_);
  return decoder_ops::weight_matmul(x, w, few_row_matmul_asked()).to(activation_dtype_);
}

bool DecoderModel::uses_cuda_graphs() const {
  return LIP_CUDA_GRAPHS && options_.cuda_graphs && options_.fast_runtime && options_.device.is_cuda();
}

void DecoderModel::ReleaseCachedDeviceMemory() const {
#if LIP_CUDA_GRAPHS
  if (options_.device.is_cuda()) {
    torch::cuda::synchronize();
    c10::cuda::CUDACachingAllocator::emptyCache();
  }
#endif
}

int DecoderModel::num_forward_graphs() const {
  std::lock_guard<std::mutex> lock(graphs_->mutex);
  int n = 0;
  for (const auto& [key, entry] : graphs_->entries) n += entry.failed ? 0 : 1;
  return n;
}

ForwardOutput DecoderModel::Forward(const ForwardInput& in) const {
  ForwardOutput out;
  if (ForwardGraphed(in, &out)) return out;
  return ForwardEager(in);
}

bool DecoderModel::ForwardGraphed(const ForwardInput& in, ForwardOutput* out) const {
#if LIP_CUDA_GRAPHS
  if (!options_.cuda_graphs || !options_.fast_runtime || !options_.device.is_cuda()) return false;
  if (in.cache != nullptr || in.after_layer || in.output_hidden_states || !in.cuda_graph) return false;
  // Inside a caller's capture the forward is part of that graph: run it eagerly into it.
  if (c10::cuda::currentStreamCaptureStatusMayInitCtx() != c10::cuda::CaptureStatus::None) return false;
  // The weights never require grad, so inputs that do not make the forward free of autograd.
  if (in.inputs_embeds.requires_grad()) return false;
  const int64_t B = in.inputs_embeds.size(0), T = in.inputs_embeds.size(1);
  if (B > kMaxGraphBatch || T > kMaxGraphTokens) return false;
  // A padded batch replays a graph that reads the mask from a buffer (attention with an additive
  // mask); an unpadded one a graph without any (the fused causal kernel). Only host masks: a
  // device mask would need a synchronisation to inspect.
  if (in.attention_mask.defined() && !in.attention_mask.device().is_cpu()) return false;
  const bool padded = in.attention_mask.defined() && !(in.attention_mask != 0).all().item<bool>();
  const int64_t Bb = GraphBatchBucket(B), Tb = GraphTokenBucket(T);
  const int exit_layer = in.stop_after_layer >= 0 ? in.stop_after_layer : static_cast<int>(num_layers());
  std::lock_guard<std::mutex> lock(graphs_->mutex);
  auto key = std::make_tuple(Bb, Tb, exit_layer, padded);
  auto it = graphs_->entries.find(key);
  if (it == graphs_->entries.end()) {
    if (static_cast<int>(graphs_->entries.size()) >= GraphCache::kMaxGraphs) return false;
    GraphCache::Entry& e = graphs_->entries[key];
    ForwardInput capture_in;
    capture_in.inputs_embeds = torch::zeros({Bb, Tb, hidden_size()},
                                            torch::TensorOptions().device(options_.device).dtype(options_.dtype));
    capture_in.stop_after_layer = exit_layer;  // num_layers(): the final norm's output, no logits
    if (padded) {
      capture_in.attention_mask = torch::ones({Bb, Tb}, torch::TensorOptions().device(options_.device).dtype(torch::kInt64));
    }
    // Captured on a side stream (capture needs one), after two eager runs there that do the lazy
    // set-up outside the graph; other threads may keep running eager forwards meanwhile.
    auto graph = CaptureCudaGraph(CudaGraphCaptureStream(options_.device.index()),
                                  graphs_->pool, /*eager_runs=*/2,
                                  [&] { e.output = ForwardEager(capture_in).last_hidden; });
    if (graph == nullptr) {
      e.failed = true;
      e.output = torch::Tensor();
    } else {
      if (graphs_->pool.first == 0 && graphs_->pool.second == 0) graphs_->pool = graph->pool();
      e.input = capture_in.inputs_embeds;
      e.mask = capture_in.attention_mask;
      e.graph = std::move(graph);
    }
    it = graphs_->entries.find(key);
  }
  GraphCache::Entry& e = it->second;
  if (e.failed) return false;
  e.input.narrow(0, 0, B).narrow(1, 0, T).copy_(in.inputs_embeds);
  if (padded) {
    // Positions past T are padding of the real rows; the extra rows stay all ones (a row with no
    // visible key would only make NaNs that are cut off anyway).
    e.mask.narrow(0, 0, B).zero_();
    e.mask.narrow(0, 0, B).narrow(1, 0, T).copy_(in.attention_mask.to(torch::kInt64), /*non_blocking=*/false);
  }
  e.graph->replay();
  torch::Tensor last = e.output.narrow(0, 0, B).narrow(1, 0, T).clone();
  out->last_hidden = last;
  if (in.stop_after_layer < 0) {
    out->logits = Logits(in.logits_last_only ? last.narrow(1, T - 1, 1) : last);
  }
  return true;
#else
  (void)in;
  (void)out;
  return false;
#endif
}

ForwardOutput DecoderModel::ForwardEager(const ForwardInput& in) const {
  const ModelConfig& c = config_;
  const torch::Dtype act = activation_dtype_;
  torch::Tensor hidden = in.inputs_embeds.to(act);
  const int64_t B = hidden.size(0), T = hidden.size(1);
  const int64_t n_heads = c.num_attention_heads, n_kv = c.num_key_value_heads, D = c.head_dim;
  const auto dev = hidden.device();
  const auto long_opts = torch::TensorOptions().device(dev).dtype(torch::kInt64);

  // Positions: real tokens are numbered consecutively per row, padding does not count, and a
  // cached prefix continues the numbering (padded rows equal unpadded ones).
  torch::Tensor step_mask = in.attention_mask.defined() ? in.attention_mask.to(dev, torch::kInt64)
                                                        : torch::ones({B, T}, long_opts);
  // Whether this step may hold padding, decided on the host only (a device mask would need a
  // synchronisation to inspect, so it counts as "may").
  const bool step_may_pad = in.attention_mask.defined() &&
                            (!in.attention_mask.device().is_cpu() || !(in.attention_mask != 0).all().item<bool>());
  KvCache* cache = in.cache;
  const int64_t past = cache != nullptr ? cache->length() : 0;
  torch::Tensor start = (cache != nullptr && past > 0) ? cache->next_positions() : torch::zeros({B}, long_opts);
  torch::Tensor position_ids = start.unsqueeze(1) + step_mask.cumsum(1) - 1;
  position_ids = position_ids.masked_fill(step_mask == 0, 1);
  torch::Tensor next_positions = start + step_mask.sum(1);

  auto [cos, sin] = RopeTables(position_ids, hidden.scalar_type());

  // Additive attention masks [B,1,T,S] per sliding-window size: causal over absolute cache
  // indices, keys that are padding masked out, and (for windows) q - k < window.
  const int64_t S = past + T;
  torch::Tensor key_mask = past > 0 ? torch::cat({cache->attention_mask().to(dev, torch::kInt64), step_mask}, 1)
                                    : step_mask;
  torch::Tensor q_idx = torch::arange(past, S, long_opts).view({T, 1});
  torch::Tensor k_idx = torch::arange(0, S, long_opts).view({1, S});
  const double mask_min = decoder_ops::mask_min(hidden.scalar_type());
  std::map<int64_t, torch::Tensor> masks;
  auto mask_for = [&](int64_t window) -> const torch::Tensor& {
    auto it = masks.find(window);
    if (it != masks.end()) return it->second;
    torch::Tensor allowed = (k_idx <= q_idx).unsqueeze(0) & (key_mask != 0).view({B, 1, S});
    if (window > 0) allowed = allowed & ((q_idx - k_idx) < window).unsqueeze(0);
    torch::Tensor additive = torch::zeros({B, 1, T, S}, hidden.options())
                                 .masked_fill(allowed.unsqueeze(1).logical_not(), mask_min);
    return masks.emplace(window, additive).first->second;
  };

  ForwardOutput out;
  const int64_t n_layers = num_layers();
  const int64_t run_layers = in.stop_after_layer >= 0 ? in.stop_after_layer : n_layers;
  if (in.output_hidden_states) out.hidden_states.push_back(hidden);
  const double scaling = 1.0 / std::sqrt(static_cast<double>(D));
#if LIP_TORCH2
  const bool sdpa = options_.fast_runtime;
#else
  const bool sdpa = false;  // LibTorch 1.13 has no scaled_dot_product_attention: eager attention
#endif
  const bool may_pad = step_may_pad || (cache != nullptr && past > 0 && cache->may_have_padding());
  // Attention without any mask: nothing padded, and either a fresh causal prefill (is_causal) or a
  // single query that sees every cached key; a sliding window must not reach back inside [0, S).
  [[maybe_unused]] auto unmasked = [&](int64_t window) { return !may_pad && (past == 0 || T == 1) && (window <= 0 || S <= window); };

  for (int64_t i = 0; i < run_layers; ++i) {
    const Layer& l = layers_[i];
    // Self-attention block.
    torch::Tensor residual = hidden;
    auto [q, k, v] = BlockQkv(l, hidden, cos, sin);
    if (cache != nullptr) std::tie(k, v) = cache->AppendLayer(i, k, v);
    torch::Tensor attn;
    if (options_.fast_runtime) {
      const bool no_mask = sdpa && unmasked(l.sliding_window);
      attn = decoder_ops::grouped_attention(q, k, v, no_mask ? torch::Tensor() : mask_for(l.sliding_window),
                                            /*causal=*/no_mask && T > 1, scaling, sdpa);
    } else {
      k = repeat_kv(k, n_heads / n_kv);
      v = repeat_kv(v, n_heads / n_kv);
      torch::Tensor scores = torch::matmul(q, k.transpose(2, 3)) * scaling + mask_for(l.sliding_window);
      torch::Tensor probs = torch::softmax(scores, -1, torch::kFloat32).to(q.scalar_type());
      attn = torch::matmul(probs, v);
    }
    // From the second block on, the residual is the previous block's output, which nothing else
    // reads unless the caller collects the hidden states or sees each layer's output.
    const bool residual_is_scratch = i > 0 && !in.output_hidden_states && !in.after_layer;
    hidden = BlockOutput(l, residual, attn, residual_is_scratch);
    if (in.after_layer) hidden = in.after_layer(i, hidden);
    if (in.output_hidden_states && i + 1 < n_layers) out.hidden_states.push_back(hidden);
  }
  if (cache != nullptr) {
    if (run_layers == n_layers) {
      cache->CommitStep(step_mask, next_positions, step_may_pad);
    } else {
      cache->Reset();  // an early exit leaves the upper layers without K/V: the cache is unusable
    }
  }

  if (run_layers < n_layers) {
    out.last_hidden = hidden;
    return out;
  }
  hidden = Norm(hidden, final_norm_);
  if (in.output_hidden_states) out.hidden_states.push_back(hidden);
  out.last_hidden = hidden;
  if (in.stop_after_layer == n_layers) return out;
  out.logits = Logits(in.logits_last_only ? hidden.narrow(1, T - 1, 1) : hidden);
  return out;
}

std::pair<torch::Tensor, torch::Tensor> DecoderModel::RopeTables(const torch::Tensor& position_ids,
                                                                 torch::Dtype dtype) const {
  // LlamaRotaryEmbedding.forward: fp32, then cast to the activation dtype.
  torch::Tensor freqs = position_ids.to(torch::kFloat32).unsqueeze(-1) * inv_freq_.view({1, 1, -1});
  torch::Tensor emb = torch::cat({freqs, freqs}, -1);
  // The fast runtime's rope_fused takes the sine with rotate_half's sign: [-sin, sin].
  torch::Tensor sin;
  if (options_.fast_runtime) {
    torch::Tensor half = freqs.sin();
    sin = torch::cat({-half, half}, -1);
  } else {
    sin = emb.sin();
  }
  return {emb.cos().to(dtype).unsqueeze(1), sin.to(dtype).unsqueeze(1)};
}

std::tuple<torch::Tensor, torch::Tensor, torch::Tensor> DecoderModel::BlockQkv(const Layer& l,
                                                                               const torch::Tensor& hidden,
                                                                               const torch::Tensor& cos,
                                                                               const torch::Tensor& sin) const {
  const ModelConfig& c = config_;
  const torch::Dtype act = activation_dtype_;
  const int64_t B = hidden.size(0), T = hidden.size(1);
  const int64_t n_heads = c.num_attention_heads, n_kv = c.num_key_value_heads, D = c.head_dim;
  torch::Tensor x = Norm(hidden, l.input_layernorm);
  x = x.to(options_.dtype);  // rounded once for the three projections
  if (l.qkv_proj.defined()) {  // stacked by FinishLoad for the fast runtime on CUDA only
    // One projection, then rope on q and k together in the projection's [B,T,heads,D] layout (cos
    // and sin [B,1,T,D] viewed as [B,T,1,D]); q, k and v stay views of what those two wrote.
    torch::Tensor qkv = StackedProjection(x, l.qkv_proj, l.qkv_bias);
    torch::Tensor qk = qkv.narrow(-1, 0, (n_heads + n_kv) * D).view({B, T, n_heads + n_kv, D});
    qk = decoder_ops::rope_fused_into(qk, cos.transpose(1, 2), sin.transpose(1, 2), options_.fused_cuda_kernels);
    torch::Tensor v = qkv.narrow(-1, (n_heads + n_kv) * D, n_kv * D).view({B, T, n_kv, D});
    return {qk.narrow(2, 0, n_heads).transpose(1, 2), qk.narrow(2, n_heads, n_kv).transpose(1, 2), v.transpose(1, 2)};
  }
  torch::Tensor q = project(x, l.q_proj, l.q_bias, act);
  torch::Tensor k = project(x, l.k_proj, l.k_bias, act);
  torch::Tensor v = project(x, l.v_proj, l.v_bias, act);
  q = q.view({B, T, n_heads, D}).transpose(1, 2);
  k = k.view({B, T, n_kv, D}).transpose(1, 2);
  v = v.view({B, T, n_kv, D}).transpose(1, 2);
  if (options_.fast_runtime) return {decoder_ops::rope_fused(q, cos, sin), decoder_ops::rope_fused(k, cos, sin), v};
  return {rope(q, cos, sin), rope(k, cos, sin), v};
}

torch::Tensor DecoderModel::BlockOutput(const Layer& l, const torch::Tensor& residual, const torch::Tensor& attn,
                                        bool residual_is_scratch) const {
  const ModelConfig& c = config_;
  const torch::Dtype act = activation_dtype_;
  const int64_t B = attn.size(0), T = attn.size(2);
  torch::Tensor merged = attn.transpose(1, 2).reshape({B, T, c.num_attention_heads * c.head_dim});
  const bool fused = options_.fast_runtime && act == options_.dtype;
  torch::Tensor hidden;
  if (fused && !l.o_bias.defined() && (residual.is_cuda() || act == torch::kFloat32)) {
    // The residual add inside the output projection's matmul (beta = 1). Not for reduced precision
    // on the CPU, whose bf16 addmm came out less accurate than the matmul and add (decoder_model_test's
    // bf16 bound); on CUDA it is one kernel accumulating in fp32 and rounding once (cuBLAS, or the
    // few-row kernel). In place on a residual nobody else reads (the previous block's output), which
    // saves copying it first; else out of place: `residual` may be a hidden state the caller keeps.
    if (residual_is_scratch && !residual.requires_grad() && residual.is_contiguous()) {
      hidden = decoder_ops::weight_matmul_add_(residual, merged, l.o_proj, few_row_matmul_asked());
    } else {
      hidden = decoder_ops::weight_matmul_add(residual, merged, l.o_proj, few_row_matmul_asked());
    }
  } else {
    hidden = residual + project(merged.to(options_.dtype), l.o_proj, l.o_bias, act);
  }
  // MLP block (SwiGLU).
  torch::Tensor x = Norm(hidden, l.post_attention_layernorm).to(options_.dtype);
  torch::Tensor mlp_in;
  if (l.gate_up_proj.defined() && !l.gate_up_bias.defined() && activation_dtype_ == options_.dtype) {
    // Stacked by FinishLoad for the fast runtime on CUDA only; one kernel where the few-row one applies.
    mlp_in = decoder_ops::swiglu_matmul(x, l.gate_up_proj, few_row_matmul_asked(), options_.fused_cuda_kernels);
  } else if (l.gate_up_proj.defined()) {
    mlp_in = decoder_ops::silu_mul(StackedProjection(x, l.gate_up_proj, l.gate_up_bias), options_.fused_cuda_kernels)
                 .to(options_.dtype);
  } else {
    torch::Tensor gate = torch::silu(project(x, l.gate_proj, l.gate_bias, act));
    mlp_in = (gate * project(x, l.up_proj, l.up_bias, act)).to(options_.dtype);
  }
  if (fused && !l.down_bias.defined() && !hidden.requires_grad()) {
    // The residual add inside the down projection's matmul (beta = 1): `hidden` is this block's
    // own tensor, and nothing (no autograd) saved it.
    return decoder_ops::weight_matmul_add_(hidden, mlp_in, l.down_proj, few_row_matmul_asked());
  }
  return hidden + project(mlp_in, l.down_proj, l.down_bias, act);
}

torch::Tensor DecoderModel::Norm(const torch::Tensor& x, const torch::Tensor& weight) const {
  if (!options_.fast_runtime) return rms_norm(x, weight, config_.rms_norm_eps);
  return decoder_ops::rms_norm_fused(x, weight, config_.rms_norm_eps, options_.fused_cuda_kernels);
}

torch::Tensor DecoderModel::Logits(const torch::Tensor& hidden) const {
  return project(hidden.to(logits_head_.scalar_type()), logits_head_, torch::Tensor(), torch::kFloat32);
}

}  // namespace lip
