#include "bridge/model/cuda_graph_capture.h"

#if LIP_CUDA_GRAPHS
#include <cuda_runtime_api.h>

namespace lip {

c10::cuda::CUDAStream CudaGraphCaptureStream(c10::DeviceIndex device) {
  static std::mutex mutex;
  static std::map<c10::DeviceIndex, c10::cuda::CUDAStream>* streams = new std::map<c10::DeviceIndex, c10::cuda::CUDAStream>();
  std::lock_guard<std::mutex> lock(mutex);
  auto it = streams->find(device);
  if (it == streams->end()) {
    it = streams->emplace(device, c10::cuda::getStreamFromPool(/*isHighPriority=*/false, device)).first;
  }
  return it->second;
}

std::unique_ptr<at::cuda::CUDAGraph> CaptureCudaGraph(c10::cuda::CUDAStream stream, CudaGraphPool pool,
                                                      int eager_runs, const std::function<void()>& body) {
  // One capture at a time in the process: captures share CudaGraphCaptureStream, and a stream
  // captures one graph at a time. (Captures are rare: a node's warm-up, a new bucket.)
  static std::mutex capture_mutex;
  std::lock_guard<std::mutex> one_capture(capture_mutex);
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
