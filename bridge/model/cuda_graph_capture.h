// One CUDA-graph capture for the model runtime. DecoderModel's cache-free forward and the static
// decoder's step (bridge/model/static_decoder.h) both capture through CaptureCudaGraph, so the
// side stream, capture begin/end and the clean-up after a failed capture are written once.
//
// LIP_CUDA_GRAPHS is 1 in a build that can capture (a CUDA LibTorch 2.x with -DLIP_CUDA=ON and
// -DLIP_CUDA_GRAPHS=ON), else 0, and then nothing below is declared.
#ifndef LIP_BRIDGE_MODEL_CUDA_GRAPH_CAPTURE_H_
#define LIP_BRIDGE_MODEL_CUDA_GRAPH_CAPTURE_H_

#include "bridge/torch_compat.h"

#if LIP_TORCH2 && defined(LIP_CUDA) && LIP_CUDA && defined(LIP_CUDA_GRAPHS_BUILD)
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#define LIP_CUDA_GRAPHS 1
#else
#define LIP_CUDA_GRAPHS 0
#endif

#if LIP_CUDA_GRAPHS
#include <functional>
#include <map>
#include <mutex>
#include <memory>
#include <utility>

namespace lip {

// A graph memory pool id as at::cuda::CUDAGraph takes and returns it; {0, 0} asks for a new pool.
using CudaGraphPool = decltype(std::declval<at::cuda::CUDAGraph&>().pool());

// The one side stream every pool-sharing capture on `device` runs on (as torch.cuda.graph's default
// capture stream). The caching allocator reuses a freed block only on the stream that allocated it,
// so graphs that share a memory pool share its memory only when captured on the same stream: one
// stream per capture made each graph keep its own peak (measured: a receiver with ~120 graphs held
// 60 GiB of an H100).
c10::cuda::CUDAStream CudaGraphCaptureStream(c10::DeviceIndex device);

// Waits for the device, then on `stream` runs `body` `eager_runs` times (the lazy set-up that must
// not happen inside a capture: cuBLAS handle and workspace of that stream, kernel choices) and
// captures one more call of it into a graph, in thread-local capture mode (other threads keep
// running eagerly), allocating from `pool`; one capture at a time per process. The captured call
// records its kernels without running them; replay() runs them on the caller's current stream.
// Returns nullptr when LibTorch reports an error in any of it: the capture is ended and CUDA's last
// error cleared, so later launches do not report it. The caller keeps `body`'s buffers to itself
// (a lock) until the capture returns.
std::unique_ptr<at::cuda::CUDAGraph> CaptureCudaGraph(c10::cuda::CUDAStream stream, CudaGraphPool pool,
                                                      int eager_runs, const std::function<void()>& body);

}  // namespace lip

#endif  // LIP_CUDA_GRAPHS
#endif  // LIP_BRIDGE_MODEL_CUDA_GRAPH_CAPTURE_H_
