#include "bridge/model/decoder_ops.h"

#if defined(LIP_FUSED_CUDA_KERNELS) && LIP_FUSED_CUDA_KERNELS
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include "bridge/model/fused_block_kernels.h"
#define LIP_DECODER_OPS_FUSED 1
#else
#define LIP_DECODER_OPS_FUSED 0
#endif

namespace lip {
namespace decoder_ops {
namespace {

#if LIP_DECODER_OPS_FUSED
// The kernels' element type of `type`, or false for a type they do not take.
bool KernelElementType(torch::ScalarType type, fused_kernels::ElementType* out) {
  switch (type) {
    case torch::kFloat32: *out = fused_kernels::ElementType::kFloat32; return true;
    case torch::kBFloat16: *out = fused_kernels::ElementType::kBFloat16; return true;
    case torch::kFloat16: *out = fused_kernels::ElementType::kFloat16; return true;
    default: return false;
  }
}

// A kernel without a backward may compute `x`'s consumer only where autograd does not need it.
bool KernelMayTake(const torch::Tensor& x, fused_kernels::ElementType* type) {
  return x.is_cuda() && !x.requires_grad() && KernelElementType(x.scalar_type(), type);
}

// The stream LibTorch would launch on for `x`'s device. A launch runs on the calling thread's current
// device, so callers hold a CUDAGuard for x's device (a node may serve from cuda:1).
void* CurrentStream(const torch::Tensor& x) {
  return c10::cuda::getCurrentCUDAStream(x.device().index()).stream();
}

// A table's stride along `dim` as the kernel indexes it: 0 where the table broadcasts (size 1).
int64_t BroadcastStride(const torch::Tensor& table, int64_t dim) {
  return table.size(dim) == 1 ? 0 : table.stride(dim);
}
#endif

}  // namespace

bool fused_cuda_kernels_built() { return LIP_DECODER_OPS_FUSED; }

torch::Tensor rms_norm_fused(const torch::Tensor& x, const torch::Tensor& weight, double eps, bool cuda_kernel) {
#if LIP_DECODER_OPS_FUSED
  fused_kernels::ElementType type;
  if (cuda_kernel && x.dim() >= 1 && KernelMayTake(x, &type) && x.is_contiguous() && weight.dim() == 1 &&
      weight.size(0) == x.size(-1) && weight.scalar_type() == x.scalar_type() && weight.device() == x.device() &&
      weight.is_contiguous() && !weight.requires_grad()) {
    c10::cuda::CUDAGuard device(x.device());
    torch::Tensor out = torch::empty_like(x);
    const int64_t width = x.size(-1), rows = width == 0 ? 0 : x.numel() / width;
    const std::string error = fused_kernels::LaunchRmsNorm(type, x.data_ptr(), weight.data_ptr(), out.data_ptr(), rows,
                                                           width, static_cast<float>(eps), CurrentStream(x));
    TORCH_CHECK(error.empty(), "rms_norm_fused: ", error);
    return out;
  }
#else
  (void)cuda_kernel;
#endif
#if LIP_TORCH_RMS_NORM
  if (x.scalar_type() == weight.scalar_type()) return at::rms_norm(x, {x.size(-1)}, weight, eps);
#endif
  return rms_norm(x, weight, eps);
}

torch::Tensor silu_mul(const torch::Tensor& gate_up, bool cuda_kernel) {
  const int64_t width = gate_up.size(-1) / 2;
#if LIP_DECODER_OPS_FUSED
  fused_kernels::ElementType type;
  if (cuda_kernel && KernelMayTake(gate_up, &type) && gate_up.is_contiguous() && gate_up.size(-1) == 2 * width) {
    std::vector<int64_t> sizes = gate_up.sizes().vec();
    sizes.back() = width;
    c10::cuda::CUDAGuard device(gate_up.device());
    torch::Tensor out = torch::empty(sizes, gate_up.options());
    const int64_t rows = width == 0 ? 0 : out.numel() / width;
    const std::string error = fused_kernels::LaunchSiluMul(type, gate_up.data_ptr(), out.data_ptr(), rows, width,
                                                           CurrentStream(gate_up));
    TORCH_CHECK(error.empty(), "silu_mul: ", error);
    return out;
  }
#else
  (void)cuda_kernel;
#endif
  return torch::silu(gate_up.narrow(-1, 0, width)) * gate_up.narrow(-1, width, width);
}

torch::Tensor rope_fused_into(torch::Tensor x, const torch::Tensor& cos, const torch::Tensor& signed_sin,
                              bool cuda_kernel) {
#if LIP_DECODER_OPS_FUSED
  fused_kernels::ElementType type;
  const bool shapes_fit = x.dim() == 4 && cos.dim() == 4 && cos.sizes() == signed_sin.sizes() &&
                          cos.strides() == signed_sin.strides() && (cos.size(0) == 1 || cos.size(0) == x.size(0)) &&
                          cos.size(1) == x.size(1) && cos.size(2) == 1 && cos.size(3) == x.size(3) &&
                          x.size(3) % 2 == 0 && x.stride(3) == 1 && cos.stride(3) == 1;
  if (cuda_kernel && shapes_fit && KernelMayTake(x, &type) && cos.scalar_type() == x.scalar_type() &&
      signed_sin.scalar_type() == x.scalar_type() && cos.device() == x.device() && signed_sin.device() == x.device()) {
    c10::cuda::CUDAGuard device(x.device());
    const std::string error = fused_kernels::LaunchRopeInPlace(
        type, x.data_ptr(), cos.data_ptr(), signed_sin.data_ptr(), x.size(0), x.size(1), x.size(2), x.size(3) / 2,
        x.stride(0), x.stride(1), x.stride(2), BroadcastStride(cos, 0), BroadcastStride(cos, 1), CurrentStream(x));
    TORCH_CHECK(error.empty(), "rope_fused_into: ", error);
    return x;
  }
#else
  (void)cuda_kernel;
#endif
  return rope_fused(x, cos, signed_sin);
}

}  // namespace decoder_ops
}  // namespace lip
