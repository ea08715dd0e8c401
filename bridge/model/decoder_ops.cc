#include "bridge/model/decoder_ops.h"

#include <cstdint>
#include <string>
#include <vector>

#if defined(LIP_FUSED_CUDA_KERNELS) && LIP_FUSED_CUDA_KERNELS
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include "bridge/model/few_row_matmul.h"
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

// Whether the few-row kernel takes out = x · wᵀ (+ other) with x [.., K], w [N, K] and `other` (the
// residual or the tensor accumulated into; undefined for none) [.., N]; sets *type and *rows.
bool FewRowMatmulTakes(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& other,
                       fused_kernels::ElementType* type, int64_t* rows) {
  if (!KernelMayTake(x, type) || *type == fused_kernels::ElementType::kFloat32) return false;
  if (w.dim() != 2 || x.dim() < 1 || x.size(-1) != w.size(1) || w.scalar_type() != x.scalar_type() ||
      w.device() != x.device() || w.requires_grad() || !x.is_contiguous() || !w.is_contiguous()) {
    return false;
  }
  const int64_t n = w.size(0), k = w.size(1);
  if (k == 0 || n % 16 != 0 || k % 32 != 0) return false;
  *rows = x.numel() / k;
  if (*rows < 1 || *rows > fused_kernels::kFewRowMatmulMaxRows) return false;
  if (reinterpret_cast<uintptr_t>(x.data_ptr()) % 16 != 0 || reinterpret_cast<uintptr_t>(w.data_ptr()) % 16 != 0) {
    return false;
  }
  if (other.defined() && (other.scalar_type() != x.scalar_type() || other.device() != x.device() ||
                          other.requires_grad() || !other.is_contiguous() || other.dim() < 1 ||
                          other.size(-1) != n || other.numel() != *rows * n)) {
    return false;
  }
  return fused_kernels::FewRowMatmulSupported(x.device().index());
}

// By the kernel, on the terms FewRowMatmulTakes checked: out [rows, N] = x · wᵀ (+ residual); or with
// `swiglu`, out [rows, N / 2] = silu(gate) * up of w's two halves (no residual).
void LaunchFewRow(fused_kernels::ElementType type, const torch::Tensor& x, const torch::Tensor& w,
                  const torch::Tensor& residual, const torch::Tensor& out, int64_t rows, int k_splits,
                  bool swiglu = false) {
  c10::cuda::CUDAGuard device(x.device());
  const int64_t n = w.size(0), k = w.size(1);
  const std::string error =
      swiglu ? fused_kernels::LaunchFewRowSwiGlu(type, x.data_ptr(), k, w.data_ptr(), out.data_ptr(), n / 2, rows,
                                                 n / 2, k, k_splits, CurrentStream(x))
             : fused_kernels::LaunchFewRowMatmul(type, x.data_ptr(), k, w.data_ptr(),
                                                 residual.defined() ? residual.data_ptr() : nullptr, n, out.data_ptr(),
                                                 n, rows, n, k, k_splits, CurrentStream(x));
  TORCH_CHECK(error.empty(), swiglu ? "swiglu_matmul: " : "weight_matmul: ", error);
}

// x's shape with the last axis n.
std::vector<int64_t> WithLastAxis(const torch::Tensor& x, int64_t n) {
  std::vector<int64_t> sizes = x.sizes().vec();
  sizes.back() = n;
  return sizes;
}
#endif

}  // namespace

bool few_row_matmul_available(const torch::Device& device) {
#if LIP_DECODER_OPS_FUSED
  return device.is_cuda() && fused_kernels::FewRowMatmulSupported(device.has_index() ? device.index() : 0);
#else
  (void)device;
  return false;
#endif
}

int few_row_matmul_auto_splits(const torch::Device& device, int64_t n, int64_t k) {
#if LIP_DECODER_OPS_FUSED
  if (!few_row_matmul_available(device)) return 0;
  return fused_kernels::FewRowMatmulAutoSplits(device.has_index() ? device.index() : 0, n, k);
#else
  (void)device;
  (void)n;
  (void)k;
  return 0;
#endif
}

torch::Tensor weight_matmul(const torch::Tensor& x, const torch::Tensor& w, bool few_row_kernel, int k_splits) {
#if LIP_DECODER_OPS_FUSED
  fused_kernels::ElementType type;
  int64_t rows = 0;
  if (few_row_kernel && FewRowMatmulTakes(x, w, torch::Tensor(), &type, &rows)) {
    torch::Tensor out = torch::empty(WithLastAxis(x, w.size(0)), x.options());
    LaunchFewRow(type, x, w, torch::Tensor(), out, rows, k_splits);
    return out;
  }
#else
  (void)few_row_kernel;
  (void)k_splits;
#endif
  return torch::linear(x, w);
}

torch::Tensor weight_matmul_add_(const torch::Tensor& into, const torch::Tensor& x, const torch::Tensor& w,
                                 bool few_row_kernel, int k_splits) {
#if LIP_DECODER_OPS_FUSED
  fused_kernels::ElementType type;
  int64_t rows = 0;
  if (few_row_kernel && FewRowMatmulTakes(x, w, into, &type, &rows)) {
    LaunchFewRow(type, x, w, into, into, rows, k_splits);
    return into;
  }
#else
  (void)few_row_kernel;
  (void)k_splits;
#endif
  into.view({-1, w.size(0)}).addmm_(x.reshape({-1, w.size(1)}), w.t());
  return into;
}

torch::Tensor weight_matmul_add(const torch::Tensor& residual, const torch::Tensor& x, const torch::Tensor& w,
                                bool few_row_kernel, int k_splits) {
#if LIP_DECODER_OPS_FUSED
  fused_kernels::ElementType type;
  int64_t rows = 0;
  if (few_row_kernel && FewRowMatmulTakes(x, w, residual, &type, &rows)) {
    torch::Tensor out = torch::empty_like(residual);
    LaunchFewRow(type, x, w, residual, out, rows, k_splits);
    return out;
  }
#else
  (void)few_row_kernel;
  (void)k_splits;
#endif
  return torch::addmm(residual.reshape({-1, w.size(0)}), x.reshape({-1, w.size(1)}), w.t()).view(residual.sizes());
}

torch::Tensor swiglu_matmul(const torch::Tensor& x, const torch::Tensor& gate_up, bool few_row_kernel,
                            bool fused_kernel, int k_splits) {
#if LIP_DECODER_OPS_FUSED
  fused_kernels::ElementType type;
  int64_t rows = 0;
  const int64_t intermediate = gate_up.dim() == 2 ? gate_up.size(0) / 2 : 0;
  if (few_row_kernel && intermediate % 16 == 0 && gate_up.size(0) % 2 == 0 &&
      FewRowMatmulTakes(x, gate_up, torch::Tensor(), &type, &rows)) {
    torch::Tensor out = torch::empty(WithLastAxis(x, intermediate), x.options());
    LaunchFewRow(type, x, gate_up, torch::Tensor(), out, rows, k_splits, /*swiglu=*/true);
    return out;
  }
#else
  (void)few_row_kernel;
  (void)k_splits;
#endif
  return silu_mul(weight_matmul(x, gate_up, /*few_row_kernel=*/false), fused_kernel);
}

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
