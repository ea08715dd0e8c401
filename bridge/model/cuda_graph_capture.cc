#include "bridge/model/cuda_graph_capture.h"

#if LIP_CUDA_GRAPHS
#include <cuda_runtime_api.h>

namespace lip {

std::unique_ptr<at::cuda::CUDAGraph> CaptureCudaGraph(c10::cuda::CUDAStream stream, CudaGraphPool pool,
                                                      int eager_runs, const std::function<void()>& body) {
  torch::cuda::synchronize();
  c10::cuda::CUDAStreamGuard guard(stream);
  torch::NoGradGuard no_grad;
  auto graph = std::make_unique<at::cuda::CUDAGraph>();
  try {
    for (int run = 0; run < eager_runs; ++run) body();
    stream.synchronize();
    graph->capture_begin(pool, cudaStreamCaptureModeThreadLocal);
    try {
      body();
    } catch (...) {
      try {
        graph->capture_end();
      } catch (...) {
      }
      throw;
    }
    graph->capture_end();
    stream.synchronize();
    return graph;
  } catch (const c10::Error&) {
    (void)cudaGetLastError();
    return nullptr;
  }
}

}  // namespace lip

#endif  // LIP_CUDA_GRAPHS
