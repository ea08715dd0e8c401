// The small tensor operations a decoder block is made of, shared by DecoderModel's forward and the
// static-cache decode step (static_decoder.cc). Internal to bridge/model/.
//
// Two spellings of the same math: the eager runtime (LoadOptions::fast_runtime = false) follows
// transformers op for op; the fast runtime uses the *_fused forms (and, on CUDA, the fused kernels of
// fused_block_kernels.h behind silu_mul and rope_fused_into), which compute the same values in fewer
// kernels (a block of the 8B shape launched ~38 kernels eagerly, ~13 fused: on a GPU at
// batch 1 the launches, not the weights, set the time). They differ only in rounding (a bf16
// intermediate fewer), never in what is computed.
#ifndef LIP_BRIDGE_MODEL_DECODER_OPS_H_
#define LIP_BRIDGE_MODEL_DECODER_OPS_H_

#include <cstdint>
#include <limits>

#include "bridge/torch_compat.h"

namespace lip {
namespace decoder_ops {

// RMSNorm in fp32, scaled by the weight in the model dtype (LlamaRMSNorm.forward).
inline torch::Tensor rms_norm(const torch::Tensor& x, const torch::Tensor& weight, double eps) {
  torch::Tensor x32 = x.to(torch::kFloat32);
  torch::Tensor variance = x32.pow(2).mean(-1, /*keepdim=*/true);
  x32 = x32 * torch::rsqrt(variance + eps);
  return weight * x32.to(x.scalar_type());
}

// rms_norm as one kernel where the input and weight share a dtype (out = round(x * rsqrt(mean(x^2) +
// eps) * weight), computed in fp32): the fused kernel of fused_block_kernels.h where it is built and
// applies (`cuda_kernel`, x contiguous on CUDA and not requiring grad, a [width] weight on its device),
// else LibTorch's at::rms_norm (one kernel on CUDA from 2.8, but ~6 us for 1-64 rows of 4096 bf16 values
// on an H100: benchmarks/real_shapes/block_profile.py); else rms_norm.
torch::Tensor rms_norm_fused(const torch::Tensor& x, const torch::Tensor& weight, double eps, bool cuda_kernel = true);

inline torch::Tensor linear(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b) {
  return b.defined() ? torch::linear(x, w, b) : torch::linear(x, w);
}

// A weight matmul on an input already in the weight's dtype, the result in `out_dtype` (no-ops
// when the dtypes agree, as in fp32).
inline torch::Tensor project(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b,
                             torch::Dtype out_dtype) {
  return linear(x, w, b).to(out_dtype);
}

// x [.., K] · w [N, K]ᵀ -> [.., N] in x's dtype, as LibTorch's linear computes it, or — where
// `few_row_kernel` asks, the build has the fused kernels and they apply (x and w bf16 or fp16 on a
// GPU of compute capability 9.0+, x contiguous with at most 64 rows, N a multiple of 16, K of 32,
// nothing requiring grad) — as one kernel of few_row_matmul.h that streams w once. Both sum in fp32
// and round once; the order of the sums differs. `k_splits`: the kernel's split of K (0 = its own
// choice; 1, 2, 4, 8 for benchmarks and tests).
torch::Tensor weight_matmul(const torch::Tensor& x, const torch::Tensor& w, bool few_row_kernel, int k_splits = 0);

// `into` [.., N] += x [.., K] · w [N, K]ᵀ in place (into contiguous, of x's dtype), as addmm_ or the
// few-row kernel on the same terms as weight_matmul. Returns `into`.
torch::Tensor weight_matmul_add_(const torch::Tensor& into, const torch::Tensor& x, const torch::Tensor& w,
                                 bool few_row_kernel, int k_splits = 0);

// residual [.., N] + x [.., K] · w [N, K]ᵀ as a new tensor of residual's shape, as addmm or the
// few-row kernel on the same terms as weight_matmul; `residual` is left alone.
torch::Tensor weight_matmul_add(const torch::Tensor& residual, const torch::Tensor& x, const torch::Tensor& w,
                                bool few_row_kernel, int k_splits = 0);

// SwiGLU's silu(x · gateᵀ) * (x · upᵀ) for the stacked [gate; up] weight [2I, K]: [.., I] in x's dtype.
// One pass of the few-row kernel (both projections, silu and the product, rounded once) where
// `few_row_kernel` asks and it applies (as weight_matmul, with I a multiple of 16); else
// weight_matmul's LibTorch form and silu_mul (its own kernel where `fused_kernel`).
torch::Tensor swiglu_matmul(const torch::Tensor& x, const torch::Tensor& gate_up, bool few_row_kernel,
                            bool fused_kernel, int k_splits = 0);

// Whether weight_matmul and the _add forms can use the few-row kernel on `device` at all (the build
// has it and the device runs it); whether a call does depends on its shapes too.
bool few_row_matmul_available(const torch::Device& device);

// The k_splits the few-row kernel chooses by itself for w [n, k] on `device` (0 where unavailable).
int few_row_matmul_auto_splits(const torch::Device& device, int64_t n, int64_t k);

// SwiGLU's product for a fused gate/up projection [.., 2I]: silu(gate) * up, [.., I]. One CUDA kernel
// where the fused kernels are built (fused_block_kernels.h) and autograd need not see through it (the
// input does not require grad) and `cuda_kernel`; else LibTorch's silu and mul (two kernels).
torch::Tensor silu_mul(const torch::Tensor& gate_up, bool cuda_kernel = true);

// Whether this build carries the fused CUDA kernels (LIP_FUSED_CUDA_KERNELS).
bool fused_cuda_kernels_built();

// [.., D] -> [-x2, x1] with x1, x2 the two halves.
inline torch::Tensor rotate_half(const torch::Tensor& x) {
  const int64_t half = x.size(-1) / 2;
  torch::Tensor x1 = x.narrow(-1, 0, half);
  torch::Tensor x2 = x.narrow(-1, half, half);
  return torch::cat({-x2, x1}, -1);
}

// x [B,heads,T,D], cos/sin [B,1,T,D].
inline torch::Tensor rope(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin) {
  return x * cos + rotate_half(x) * sin;
}

// rope with rotate_half's sign folded into the sine table: with x = [x1, x2] and
// signed_sin = [-s, s] (RopeTables' fused form), rotate_half(x) * [s, s] = roll(x, D/2) * signed_sin,
// so x * cos + roll(x, D/2) * signed_sin is three kernels (mul, roll, addcmul) instead of five.
// Broadcasts like rope: any layout whose last axis is D.
inline torch::Tensor rope_fused(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& signed_sin) {
  return torch::addcmul(x * cos, torch::roll(x, {x.size(-1) / 2}, {-1}), signed_sin);
}

// rope_fused of x [B,T,heads,D] (its last axis contiguous) with tables [B or 1, T, 1, D] (a
// position's row shared by the heads), written into x itself by one CUDA kernel where the fused
// kernels apply (`cuda_kernel`, x on CUDA, not requiring grad, tables of x's dtype with contiguous
// rows); else rope_fused's three kernels into a new tensor. Returns the result; x's contents
// afterwards are unspecified, so pass a tensor nothing else reads (e.g. a fresh projection's view).
torch::Tensor rope_fused_into(torch::Tensor x, const torch::Tensor& cos, const torch::Tensor& signed_sin,
                              bool cuda_kernel = true);

// [B,Hkv,S,D] -> [B,Hkv*n_rep,S,D]; query head h reads key/value head h / n_rep.
inline torch::Tensor repeat_kv(const torch::Tensor& x, int64_t n_rep) {
  if (n_rep == 1) return x;
  return x.repeat_interleave(n_rep, /*dim=*/1);
}

// Attention of q [B,Hq,T,D] over k, v [B,Hkv,S,D], query head h reading key/value head
// h / (Hq / Hkv), with an additive mask broadcastable to [B,1,T,S], or none: then causal when
// `causal`, else every key visible. `sdpa`: LibTorch's fused kernels (LibTorch 2.x), else matmuls
// and an fp32 softmax. No key or value is copied per query head where avoidable: one query position
// (decoding) folds the heads of a group into the query axis ([B,Hkv,Hq/Hkv,D] against the shared
// keys, the mask broadcast over them); an unmasked prefill asks the fused kernel to share the heads
// (enable_gqa, LibTorch 2.5+); a masked prefill repeats them (repeat_kv). Returns [B,Hq,T,D].
inline torch::Tensor grouped_attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                       const torch::Tensor& mask, bool causal, double scaling, bool sdpa) {
  const int64_t B = q.size(0), Hq = q.size(1), T = q.size(2), D = q.size(3), n_rep = Hq / k.size(1);
  auto attend = [&](const torch::Tensor& qq, const torch::Tensor& kk, const torch::Tensor& vv, bool is_causal,
                    bool share_heads) -> torch::Tensor {
#if LIP_TORCH2
    if (sdpa) {
      c10::optional<torch::Tensor> m;
      if (mask.defined()) m = mask;
#if LIP_TORCH_SDPA_GQA
      return at::scaled_dot_product_attention(qq, kk, vv, m, /*dropout_p=*/0.0, is_causal, scaling, share_heads);
#else
      (void)share_heads;
      return at::scaled_dot_product_attention(qq, kk, vv, m, /*dropout_p=*/0.0, is_causal, scaling);
#endif
    }
#endif
    (void)share_heads;
    TORCH_CHECK(mask.defined() || !is_causal, "grouped_attention: causal attention without sdpa needs a mask");
    torch::Tensor scores = torch::matmul(qq, kk.transpose(2, 3)) * scaling;
    if (mask.defined()) scores = scores + mask;
    return torch::matmul(torch::softmax(scores, -1, torch::kFloat32).to(qq.scalar_type()), vv);
  };
  if (n_rep == 1) return attend(q, k, v, causal, false);
  if (T == 1) return attend(q.reshape({B, k.size(1), n_rep, D}), k, v, false, false).reshape({B, Hq, 1, D});
#if LIP_TORCH_SDPA_GQA
  if (sdpa && !mask.defined()) return attend(q, k, v, causal, true);
#endif
  return attend(q, repeat_kv(k, n_rep), repeat_kv(v, n_rep), causal, false);
}

// The most negative finite value of `dtype`: the additive mask of a key no query may see.
inline double mask_min(torch::Dtype dtype) {
  return dtype == torch::kFloat32    ? static_cast<double>(std::numeric_limits<float>::lowest())
         : dtype == torch::kBFloat16 ? -3.3895313892515355e38  // finfo(bfloat16).min
                                     : -65504.0;               // finfo(float16).min
}

}  // namespace decoder_ops
}  // namespace lip

#endif  // LIP_BRIDGE_MODEL_DECODER_OPS_H_
