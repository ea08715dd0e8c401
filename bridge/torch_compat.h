// Small shims over the differences between LibTorch 1.13 (Debian, CPU) and
// LibTorch 2.x (CUDA, the GPU machine). Every version check lives here so the
// rest of bridge/ reads the same on both.
#ifndef LIP_BRIDGE_TORCH_COMPAT_H_
#define LIP_BRIDGE_TORCH_COMPAT_H_

#include <torch/torch.h>
#include <torch/version.h>

#if defined(TORCH_VERSION_MAJOR) && TORCH_VERSION_MAJOR >= 2
#define LIP_TORCH2 1
#else
#define LIP_TORCH2 0
#endif

// at::rms_norm exists from LibTorch 2.4 and runs as one fused kernel on CUDA from 2.8.
#if LIP_TORCH2 && (TORCH_VERSION_MAJOR > 2 || TORCH_VERSION_MINOR >= 4)
#define LIP_TORCH_RMS_NORM 1
#else
#define LIP_TORCH_RMS_NORM 0
#endif

// scaled_dot_product_attention takes enable_gqa (key/value heads shared by groups of query heads,
// read without copying them) from LibTorch 2.5.
#if LIP_TORCH2 && (TORCH_VERSION_MAJOR > 2 || TORCH_VERSION_MINOR >= 5)
#define LIP_TORCH_SDPA_GQA 1
#else
#define LIP_TORCH_SDPA_GQA 0
#endif

#endif  // LIP_BRIDGE_TORCH_COMPAT_H_
