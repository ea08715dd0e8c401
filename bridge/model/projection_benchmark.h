// BENCHMARK ONLY: the device time of one decoder block's four projections (qkv, o, gate_up, down) at
// a model's real shapes, as cuBLAS runs them (the forms DecoderModel uses: linear; addmm into the
// residual for o and down; gate_up followed by SwiGLU's product, silu_mul) and as the few-row kernel
// does (bridge/model/few_row_matmul.h; gate_up with the product in the same kernel) at each split of
// K, with random weights. It answers "which is faster, by how much, at which row count"
// for `lip-model projections` on a GPU, and checks both against an fp32 reference at those shapes.
//
// Each timing replays one CUDA graph of calls that cycle over distinct copies of the weight, at
// least 384 MB in all, so the 50 MB L2 cache of an H100 holds none of them between uses (a repeated
// weight would be read from L2 and time faster than any model can).
#ifndef LIP_BRIDGE_MODEL_PROJECTION_BENCHMARK_H_
#define LIP_BRIDGE_MODEL_PROJECTION_BENCHMARK_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "bridge/model/model_config.h"
#include "bridge/torch_compat.h"

namespace lip {

struct ProjectionTiming {
  std::string projection;         // "qkv", "o", "gate_up" or "down"
  int64_t rows = 0;               // input rows (tokens × batch)
  int64_t n = 0, k = 0;           // the weight is [n, k]
  bool adds_residual = false;     // o and down: out = residual + x · wᵀ, in place
  bool swiglu = false;            // gate_up: silu(gate) * up of the two halves
  int64_t weight_copies = 0;      // distinct weights cycled per timing
  double weight_gb = 0;           // one weight's bytes / 1e9
  double cublas_us = 0;           // per call
  int auto_splits = 0;            // the kernel's own choice of K split
  std::map<int, double> kernel_us;  // per call, by k_splits (0 = its own choice)
  // ‖result − fp32 reference‖ / ‖fp32 reference‖ on the first copy's weight.
  double cublas_relative_error = 0, kernel_relative_error = 0;
};

// Times every projection of `config`'s block at each of `rows` (1..64) on CUDA `device` in `dtype`
// (bf16 or fp16), each timing the mean of `iters` replays. FAILED_PRECONDITION where the build has no
// CUDA graphs or the device does not run the few-row kernel; INVALID_ARGUMENT for rows outside
// [1, 64], a dtype other than bf16 / fp16 or iters < 1; INTERNAL when LibTorch fails (out of memory).
absl::StatusOr<std::vector<ProjectionTiming>> TimeBlockProjections(const ModelConfig& config,
                                                                   const torch::Device& device, torch::Dtype dtype,
                                                                   const std::vector<int64_t>& rows, int iters);

}  // namespace lip

#endif  // LIP_BRIDGE_MODEL_PROJECTION_BENCHMARK_H_
