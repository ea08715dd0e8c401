// The small tensor operations a decoder block is made of, shared by DecoderModel's forward and the
// static-cache decode step (static_decoder.cc). Internal to bridge/model/.
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

inline torch::Tensor linear(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b) {
  return b.defined() ? torch::linear(x, w, b) : torch::linear(x, w);
}

// A weight matmul on an input already in the weight's dtype, the result in `out_dtype` (no-ops
// when the dtypes agree, as in fp32).
inline torch::Tensor project(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b,
                             torch::Dtype out_dtype) {
  return linear(x, w, b).to(out_dtype);
}

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

// [B,Hkv,S,D] -> [B,Hkv*n_rep,S,D]; query head h reads key/value head h / n_rep.
inline torch::Tensor repeat_kv(const torch::Tensor& x, int64_t n_rep) {
  if (n_rep == 1) return x;
  return x.repeat_interleave(n_rep, /*dim=*/1);
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
