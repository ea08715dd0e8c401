#include "bridge/model/projection_benchmark.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "bridge/model/cuda_graph_capture.h"
#include "bridge/model/decoder_ops.h"

namespace lip {
namespace {

constexpr double kCycledBytes = 384e6;  // > 7× an H100's L2

struct ProjectionShape {
  const char* name;
  int64_t n, k;
  bool adds_residual;
  bool swiglu;  // gate_up: the projection and SwiGLU's product, as the block runs it
};

}  // namespace

absl::StatusOr<std::vector<ProjectionTiming>> TimeBlockProjections(const ModelConfig& config,
                                                                   const torch::Device& device, torch::Dtype dtype,
                                                                   const std::vector<int64_t>& rows, int iters) {
  if (dtype != torch::kBFloat16 && dtype != torch::kFloat16) {
    return absl::InvalidArgumentError("projection timings run in bf16 or fp16");
  }
  if (iters < 1) return absl::InvalidArgumentError(absl::StrCat("iters ", iters, " < 1"));
  for (int64_t r : rows) {
    if (r < 1 || r > 64) return absl::InvalidArgumentError(absl::StrCat("rows ", r, " outside [1, 64]"));
  }
#if !LIP_CUDA_GRAPHS
  (void)config;
  (void)device;
  return absl::FailedPreconditionError("projection timings need a CUDA build with CUDA graphs (LibTorch 2.x)");
#else
  if (!device.is_cuda() || !decoder_ops::few_row_matmul_available(device)) {
    return absl::FailedPreconditionError(absl::StrCat("the few-row kernel does not run on ", device.str(),
                                                      " (a CUDA build with the fused kernels, compute capability 9.0+)"));
  }
  const int64_t H = config.hidden_size, D = config.head_dim, I = config.intermediate_size;
  const std::vector<ProjectionShape> shapes = {
      {"qkv", (config.num_attention_heads + 2 * config.num_key_value_heads) * D, H, false, false},
      {"o", H, config.num_attention_heads * D, true, false},
      {"gate_up", 2 * I, H, false, true},
      {"down", H, I, true, false},
  };
  try {
    torch::NoGradGuard no_grad;
    c10::cuda::CUDAGuard guard(device);
    const auto options = torch::TensorOptions().device(device).dtype(dtype);
    std::vector<ProjectionTiming> timings;
    for (const ProjectionShape& shape : shapes) {
      const double bytes = static_cast<double>(shape.n) * shape.k * torch::elementSize(dtype);
      const int64_t copies = std::max<int64_t>(2, static_cast<int64_t>(std::ceil(kCycledBytes / bytes)));
      std::vector<torch::Tensor> weights;
      for (int64_t c = 0; c < copies; ++c) weights.push_back(torch::randn({shape.n, shape.k}, options) * 0.02);
      for (int64_t r : rows) {
        const torch::Tensor x = torch::randn({r, shape.k}, options);
        const torch::Tensor residual = torch::randn({r, shape.n}, options);
        std::vector<torch::Tensor> outputs(copies), accumulators;
        for (int64_t c = 0; c < copies; ++c) accumulators.push_back(residual.clone());
        // Per call, µs: one graph of `copies` calls (each on its own weight), replayed `iters` times;
        // negative when the capture failed.
        auto time = [&](bool few_row, int k_splits) -> double {
          auto body = [&] {
            for (int64_t c = 0; c < copies; ++c) {
              if (shape.adds_residual) {
                decoder_ops::weight_matmul_add_(accumulators[c], x, weights[c], few_row, k_splits);
              } else if (shape.swiglu) {
                outputs[c] = decoder_ops::swiglu_matmul(x, weights[c], few_row, /*fused_kernel=*/true, k_splits);
              } else {
                outputs[c] = decoder_ops::weight_matmul(x, weights[c], few_row, k_splits);
              }
            }
          };
          auto graph = CaptureCudaGraph(CudaGraphCaptureStream(device.index()), CudaGraphPool{0, 0},
                                        /*eager_runs=*/1, body);
          if (graph == nullptr) return -1.0;
          graph->replay();
          torch::cuda::synchronize(device.index());
          const auto start = std::chrono::steady_clock::now();
          for (int i = 0; i < iters; ++i) graph->replay();
          torch::cuda::synchronize(device.index());
          const double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count();
          return us / (static_cast<double>(iters) * copies);
        };
        ProjectionTiming t;
        t.projection = shape.name;
        t.rows = r;
        t.n = shape.n;
        t.k = shape.k;
        t.adds_residual = shape.adds_residual;
        t.swiglu = shape.swiglu;
        t.weight_copies = copies;
        t.weight_gb = bytes / 1e9;
        t.cublas_us = time(false, 0);
        t.auto_splits = decoder_ops::few_row_matmul_auto_splits(device, shape.n, shape.k);
        for (int k_splits : {0, 1, 2, 4, 8}) {
          if (shape.k % (32 * std::max(k_splits, 1)) == 0) t.kernel_us[k_splits] = time(true, k_splits);
        }
        // Both against fp32 arithmetic on the same rounded inputs.
        torch::Tensor reference = torch::linear(x.to(torch::kFloat32), weights[0].to(torch::kFloat32));
        if (shape.adds_residual) reference = reference + residual.to(torch::kFloat32);
        if (shape.swiglu) reference = torch::silu(reference.narrow(-1, 0, I)) * reference.narrow(-1, I, I);
        auto relative_error = [&](const torch::Tensor& result) {
          return ((result.to(torch::kFloat32) - reference).norm() / reference.norm()).item<double>();
        };
        auto result = [&](bool few_row) {
          if (shape.swiglu) return decoder_ops::swiglu_matmul(x, weights[0], few_row, /*fused_kernel=*/true);
          return shape.adds_residual ? decoder_ops::weight_matmul_add(residual, x, weights[0], few_row)
                                     : decoder_ops::weight_matmul(x, weights[0], few_row);
        };
        t.cublas_relative_error = relative_error(result(false));
        t.kernel_relative_error = relative_error(result(true));
        timings.push_back(std::move(t));
      }
    }
    return timings;
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("projection timings failed: ", e.what_without_backtrace()));
  }
#endif
}

}  // namespace lip
