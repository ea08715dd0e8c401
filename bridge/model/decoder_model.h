// A frozen Llama-family decoder (llama, mistral, qwen2) that follows transformers'
// modeling_llama.py step by step: embed -> N x [rms_norm -> attention(rope, GQA, mask)
// -> residual -> rms_norm -> swiglu mlp -> residual] -> rms_norm -> lm_head.
#ifndef LIP_BRIDGE_MODEL_DECODER_MODEL_H_
#define LIP_BRIDGE_MODEL_DECODER_MODEL_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "bridge/model/kv_cache.h"
#include "bridge/model/model_config.h"
#include "bridge/torch_compat.h"

namespace lip {

struct LoadOptions {
  torch::Device device = torch::kCPU;  // kCPU or kCUDA
  // Compute dtype of the weights. kFloat32 on CPU; kBFloat16/kHalf on CUDA. Norms, rope and
  // softmax are computed in fp32 whatever this is, as transformers does.
  torch::Dtype dtype = torch::kFloat32;
  // Only with a reduced `dtype`: keep the activations in fp32 — the residual stream, norms,
  // rotary embedding, attention scores/softmax/values, the SwiGLU product and the logits (an
  // fp32 copy of lm_head is kept) — and run only the weight matmuls in `dtype`, their inputs
  // rounded to it. Rounding the residual stream and the logits to bf16 is what makes a bf16 model
  // disagree most with its fp32 self (logits near 16 are bf16-spaced by 0.125); this costs an
  // fp32 KV cache and the lm_head copy. false = every activation in `dtype`, as transformers'
  // bf16 models compute.
  bool fp32_activations = true;
  // The fast runtime (default): attention through scaled_dot_product_attention where LibTorch has it
  // (2.x: flash / memory-efficient kernels; with no padding and no window in reach, no mask at all),
  // and on CUDA one fused q/k/v and one fused gate/up matmul per block. false = the eager reference
  // path (matmul, additive mask, softmax; separate projections), kept for comparisons.
  bool fast_runtime = true;
  // Fast runtime on CUDA (LibTorch 2.x) only: a forward with no KV cache, no layer hook, no hidden
  // states, no device mask and no autograd — the sender's encoding to its source layer and the
  // receiver's prefill before label scoring — replays a CUDA graph captured on the first use of its
  // bucket: the batch rounded up to a power of two (at most 64), the tokens right-padded to
  // GraphTokenBucket's buckets (8 wide up to 64, 16 up to 128, 32 up to 256), per exit layer, and
  // whether the batch holds padding (then the graph reads the mask from a buffer). Causal attention
  // keeps the real positions exact; the padding rows and positions are cut off. One launch instead
  // of ~40 per block: the forward stops being bound by the host. A capture costs a few tens of ms;
  // at most 160 graphs per model (beyond them a bucket runs eagerly). The
  // decode steps of Generate use graphs too (bridge/model/static_decoder.h).
  bool cuda_graphs = true;
  // Fast runtime on CUDA, where the build has them (decoder_ops::fused_cuda_kernels_built): SwiGLU's
  // product and the rotary embedding of q and k each as one kernel of bridge/model/cuda/ instead of
  // LibTorch's two and three, where autograd does not need to see through them. false = LibTorch's
  // ops only (the same math rounded after each op; for comparisons).
  bool fused_cuda_kernels = true;
  // With fused_cuda_kernels, on a GPU that runs it (decoder_ops::few_row_matmul_available): the
  // block's four projections of up to 64 rows (a message at batch 1, a decode step) as the
  // weight-streaming kernel of bridge/model/few_row_matmul.h instead of cuBLAS, the residual adds and
  // SwiGLU's product inside it. Off by default until a GPU run has checked and timed it
  // (benchmarks/README.md); false = cuBLAS.
  bool few_row_matmul = false;
};

// A hook on the residual stream, for code that steers the model from outside (e.g. the
// vector-bridge research's blending, bridge/vector_bridge/blend_injection.h): called after every
// block `layer` (0-based) with that block's output [B,T,H] for this step's T inputs; what it returns
// is what later blocks, hidden_states and the final norm see. It must return a tensor of the same
// shape, dtype and device (`hidden` itself to leave the layer alone); it may be differentiable.
using LayerHook = std::function<torch::Tensor(int64_t layer, const torch::Tensor& hidden)>;

class StaticDecodeSession;
struct StaticDecoderPool;

struct ForwardInput {
  torch::Tensor inputs_embeds;   // [B,T,H] in the model dtype/device (EmbedTokens, soft tokens spliced in)
  torch::Tensor attention_mask;  // [B,T] 1/0 (any integer or bool dtype); left padding allowed; undefined = all ones
  KvCache* cache = nullptr;      // if set: appends this step's K/V; positions continue after the cached tokens
                                 // (an early exit below the last layer empties it: upper layers lack K/V)
  int stop_after_layer = -1;     // early exit: run blocks [0, k) only, return hidden_states[k] (no logits);
                                 // k = num_hidden_layers gives the final-norm output without lm_head
  bool output_hidden_states = false;  // transformers numbering: 0 = embeddings, i = after block i, last = after final norm
  bool logits_last_only = false;      // logits for the final position only ([B,1,V])
  LayerHook after_layer;               // optional residual-stream hook (LayerHook); empty = none
  bool cuda_graph = true;              // false: never replay a graph of the model's own (a caller capturing
                                       // a larger graph around this forward: GraphedFunction)
};

struct ForwardOutput {
  torch::Tensor logits;                       // [B,T,V] (or [B,1,V]) in fp32; undefined with stop_after_layer
  std::vector<torch::Tensor> hidden_states;   // num_hidden_layers + 1 entries when requested
  torch::Tensor last_hidden;                  // after the final norm, or hidden_states[k] with stop_after_layer = k
};

// The model. Weights are held as tensors with requires_grad = false; Forward is differentiable
// with respect to inputs_embeds (no NoGradGuard inside; callers that do not train should hold
// one). Loading a CPU fp32 checkpoint into CPU fp32 keeps the weights as views over the
// memory-mapped files; other device/dtype combinations convert once at load.
//
// Forward and the accessors are const and safe to call from several threads at once as long
// as each call uses its own KvCache. Invalid inputs (wrong shapes/devices) are programming
// errors reported as c10::Error by LibTorch; use CheckForwardInput first when inputs come
// from outside.
class DecoderModel {
 public:
  // Loads a checkpoint directory (see checkpoint_dir.h). NOT_FOUND / INVALID_ARGUMENT /
  // UNIMPLEMENTED with a message naming the file, tensor or field at fault (e.g. a weight with
  // the wrong shape); INTERNAL when LibTorch fails (e.g. CUDA unavailable).
  static absl::StatusOr<std::unique_ptr<DecoderModel>> Load(const std::string& checkpoint_dir,
                                                            const LoadOptions& options);
  // For tests/benchmarks: weights ~ N(0, initializer_range), norms = 1, from `seed`.
  static absl::StatusOr<std::unique_ptr<DecoderModel>> RandomInit(const ModelConfig& config,
                                                                  const LoadOptions& options,
                                                                  uint64_t seed);
  ~DecoderModel();

  const ModelConfig& config() const { return config_; }
  torch::Device device() const { return options_.device; }
  torch::Dtype dtype() const { return options_.dtype; }
  int64_t num_layers() const { return config_.num_hidden_layers; }
  int64_t hidden_size() const { return config_.hidden_size; }
  // True when this build and the load options let Forward replay CUDA graphs (LoadOptions::cuda_graphs
  // on a CUDA device with the fast runtime, in a build with LIP_CUDA_GRAPHS): then the first forward
  // of each bucket captures one, and a node should run those forwards before it serves. Forwards of
  // more than kMaxGraphBatch rows or kMaxGraphTokens positions always run eagerly.
  bool uses_cuda_graphs() const;
  // True when the block's fused CUDA kernels run (LoadOptions::fused_cuda_kernels, the fast runtime
  // on CUDA, in a build with them: decoder_ops::fused_cuda_kernels_built).
  bool uses_fused_cuda_kernels() const;
  // True when the few-row projection kernel may run (LoadOptions::few_row_matmul with the fused
  // kernels, on a device that runs it); each projection still checks its own shapes.
  bool uses_few_row_matmul() const;
  // Hands the memory LibTorch's caching allocator holds but no tensor uses back to the device (the
  // eager runs of a warm-up leave gigabytes cached); graphs keep theirs. A no-op off CUDA graphs.
  void ReleaseCachedDeviceMemory() const;
  // The forward graphs this model holds (Forward's own buckets; a caller's graph that contains the
  // forward, e.g. GraphedFunction, is the caller's); 0 off CUDA graphs.
  int num_forward_graphs() const;
  static constexpr int64_t kMaxGraphBatch = 64;
  static constexpr int64_t kMaxGraphTokens = 256;

  // [B,T] int64 ids -> [B,T,H] embeddings on the model's device/dtype. CPU ids are range-checked
  // (c10::Error naming the bad id); ids already on the model's device are trusted (no sync).
  torch::Tensor EmbedTokens(const torch::Tensor& ids) const;
  // [V,H] input embedding matrix (for energy matching: E_ref, RMS).
  torch::Tensor embedding_weight() const;
  // [V,H] output projection (the embedding matrix when tie_word_embeddings).
  torch::Tensor lm_head_weight() const;

  // OK, or INVALID_ARGUMENT naming the offending shape/device/layer.
  absl::Status CheckForwardInput(const ForwardInput& in) const;
  // Replays a CUDA graph where LoadOptions::cuda_graphs applies, otherwise runs eagerly.
  ForwardOutput Forward(const ForwardInput& in) const;

  // "sha256:<hex>" of the weight files (Sha256DigestOfFiles over the shards, in index order),
  // or of the random-init recipe (config sizes + seed) for RandomInit models. Computed on the
  // first call (it reads every shard: seconds for multi-GB checkpoints), then cached; empty when
  // a shard can no longer be read. Thread-safe.
  std::string weights_digest() const;

 private:
  friend class StaticDecodeSession;  // the static-cache decode step runs the blocks (static_decoder.h)
  friend std::unique_ptr<StaticDecodeSession> AcquireStaticDecoder(const DecoderModel&, int64_t, int64_t, bool);
  // One decoder block's weights.
  struct Layer {
    torch::Tensor input_layernorm, post_attention_layernorm;
    torch::Tensor q_proj, k_proj, v_proj, o_proj;
    torch::Tensor q_bias, k_bias, v_bias, o_bias;  // undefined when the config has none
    torch::Tensor gate_proj, up_proj, down_proj;
    torch::Tensor gate_bias, up_bias, down_bias;
    // Fast runtime on CUDA: [q;k;v] and [gate;up] stacked (the separate weights above are views into them).
    torch::Tensor qkv_proj, qkv_bias, gate_up_proj, gate_up_bias;
    int64_t sliding_window = 0;  // 0 = full causal attention
  };
  struct GraphCache;  // captured CUDA graphs per bucket (decoder_model.cc)
  DecoderModel(const ModelConfig& config, const LoadOptions& options);
  ForwardOutput ForwardEager(const ForwardInput& in) const;
  // True when `in` qualifies for a graph and *out holds its result (LoadOptions::cuda_graphs).
  bool ForwardGraphed(const ForwardInput& in, ForwardOutput* out) const;
  torch::Tensor RopeInvFreq() const;
  // The pieces of a block, shared by ForwardEager and the static-cache decode step
  // (static_decoder.cc): rotary tables cos/sin [B,1,T,D] for position_ids [B,T] in `dtype` (in the
  // fast runtime the sine carries rotate_half's sign, [-sin, sin], as rope_fused takes it); block
  // l's q [B,heads,T,D] and k, v [B,kv_heads,T,D] for `hidden` [B,T,H] (input norm, projections,
  // rope on q and k); the block's output for attention values `attn` [B,heads,T,D] (o_proj +
  // residual, then the SwiGLU MLP + residual); fp32 logits of final-norm states.
  std::pair<torch::Tensor, torch::Tensor> RopeTables(const torch::Tensor& position_ids, torch::Dtype dtype) const;
  std::tuple<torch::Tensor, torch::Tensor, torch::Tensor> BlockQkv(const Layer& l, const torch::Tensor& hidden,
                                                                   const torch::Tensor& cos,
                                                                   const torch::Tensor& sin) const;
  // `residual_is_scratch`: nothing else reads `residual` (the previous block's output), so the block
  // may write its result into it.
  torch::Tensor BlockOutput(const Layer& l, const torch::Tensor& residual, const torch::Tensor& attn,
                            bool residual_is_scratch = false) const;
  // A stacked projection (qkv, gate_up) of x in the weight's dtype, returned in the activation dtype:
  // decoder_ops::weight_matmul without a bias (the few-row kernel where asked and it applies), else
  // project.
  torch::Tensor StackedProjection(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b) const;
  // What the projections pass decoder_ops as few_row_kernel: the fast runtime with the fused kernels
  // and LoadOptions::few_row_matmul (decoder_ops checks the device and the shapes).
  bool few_row_matmul_asked() const;
  // RMSNorm with `weight`: decoder_ops::rms_norm_fused in the fast runtime, rms_norm in the eager one.
  torch::Tensor Norm(const torch::Tensor& x, const torch::Tensor& weight) const;
  torch::Tensor Logits(const torch::Tensor& hidden) const;
  void FinishLoad();  // derives inv_freq_, activation_dtype_ and logits_head_ from the weights

  ModelConfig config_;
  LoadOptions options_;
  torch::Tensor embed_tokens_;  // [V,H]
  std::vector<Layer> layers_;
  torch::Tensor final_norm_;    // [H]
  torch::Tensor lm_head_;       // [V,H]
  torch::Tensor logits_head_;   // lm_head_ in the activation dtype (a copy only when they differ)
  torch::Dtype activation_dtype_ = torch::kFloat32;  // fp32, or dtype when !fp32_activations
  torch::Tensor inv_freq_;      // [head_dim/2] fp32 on device (rope, scaled as the config says)
  std::vector<std::string> weight_files_;  // shards, for weights_digest()
  std::string random_init_recipe_;
  mutable std::once_flag digest_once_;
  mutable std::string digest_;
  std::unique_ptr<GraphCache> graphs_;
  // The static-cache decoders (static_decoder.cc), made on first use under the mutex.
  mutable std::mutex static_decoders_mutex_;
  mutable std::shared_ptr<StaticDecoderPool> static_decoders_;
};

}  // namespace lip

#endif  // LIP_BRIDGE_MODEL_DECODER_MODEL_H_
