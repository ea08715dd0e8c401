// CUDA kernels for the decoder block's small steps that LibTorch runs as several kernels or as a
// slower one: RMSNorm, SwiGLU's silu(gate) * up, and rotary embedding of q and k in place. Built
// only with LIP_FUSED_CUDA_KERNELS (a CUDA build with nvcc, bridge/CMakeLists.txt); callers go
// through decoder_ops::rms_norm_fused, silu_mul and rope_fused_into (decoder_ops.h), which fall back
// to LibTorch's ops elsewhere. No LibTorch or CUDA header here: tensors arrive as raw pointers with
// their strides in elements, the stream as a cudaStream_t passed as void*.
//
// Each kernel computes in fp32 and rounds once to the element type; LibTorch's spelling of the same
// math rounds after each op (RMSNorm: sums in another order), so results differ by at most a
// rounding of the element type.
#ifndef LIP_BRIDGE_MODEL_FUSED_BLOCK_KERNELS_H_
#define LIP_BRIDGE_MODEL_FUSED_BLOCK_KERNELS_H_

#include <cstdint>
#include <string>

namespace lip {
namespace fused_kernels {

enum class ElementType { kFloat32, kBFloat16, kFloat16 };

// out[r, c] = x[r, c] * rsqrt(mean_c'(x[r, c']^2) + eps) * weight[c] for r < rows, c < width, the mean
// and product in fp32, rounded once (at::rms_norm's math; the row's sum in another order). x and out
// are [rows, width] contiguous, weight [width]; rows < 2^31. Returns "" or the CUDA error.
std::string LaunchRmsNorm(ElementType type, const void* x, const void* weight, void* out, int64_t rows, int64_t width,
                          float eps, void* stream);

// out[r, c] = silu(gate_up[r, c]) * gate_up[r, width + c] for r < rows, c < width; gate_up is
// [rows, 2 * width] and out [rows, width], both contiguous. Returns "" or the CUDA error.
std::string LaunchSiluMul(ElementType type, const void* gate_up, void* out, int64_t rows, int64_t width,
                          void* stream);

// Rotary embedding in place, in the fused runtime's form (decoder_ops::rope_fused): for every
// batch b < batch, position t < positions, head h < heads, with x = the head's D = 2 * half values,
// x <- x * cos + roll(x, half) * signed_sin, where cos and signed_sin ([-sin, sin]) are the position's
// D-wide table rows. x's element (b, t, h, d) lives at b * x_stride_b + t * x_stride_t +
// h * x_stride_h + d; a table's element (b, t, d) at b * table_stride_b + t * table_stride_t + d.
std::string LaunchRopeInPlace(ElementType type, void* x, const void* cos, const void* signed_sin, int64_t batch,
                              int64_t positions, int64_t heads, int64_t half, int64_t x_stride_b,
                              int64_t x_stride_t, int64_t x_stride_h, int64_t table_stride_b,
                              int64_t table_stride_t, void* stream);

}  // namespace fused_kernels
}  // namespace lip

#endif  // LIP_BRIDGE_MODEL_FUSED_BLOCK_KERNELS_H_
