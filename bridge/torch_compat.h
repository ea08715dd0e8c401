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

#endif  // LIP_BRIDGE_TORCH_COMPAT_H_
