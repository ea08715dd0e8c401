// The kernels of bridge/model/fused_block_kernels.h. Both are memory-bound and small at the sizes a
// message has (a few thousand to a few million elements): one read and one write of each element,
// fp32 arithmetic, no shared memory.
#include "bridge/model/fused_block_kernels.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>

namespace lip {
namespace fused_kernels {
namespace {

__device__ __forceinline__ float ToFloat(float x) { return x; }
__device__ __forceinline__ float ToFloat(__nv_bfloat16 x) { return __bfloat162float(x); }
__device__ __forceinline__ float ToFloat(__half x) { return __half2float(x); }

template <typename T>
__device__ __forceinline__ T FromFloat(float x);
template <>
__device__ __forceinline__ float FromFloat<float>(float x) { return x; }
template <>
__device__ __forceinline__ __nv_bfloat16 FromFloat<__nv_bfloat16>(float x) { return __float2bfloat16(x); }
template <>
__device__ __forceinline__ __half FromFloat<__half>(float x) { return __float2half(x); }

constexpr int kThreads = 256;
constexpr int64_t kMaxGridY = 65535;

// Grid: x over the columns of a row, y over rows (striding when rows exceed the grid).
template <typename T>
__global__ void SiluMulKernel(const T* __restrict__ gate_up, T* __restrict__ out, int64_t rows, int64_t width) {
  const int64_t c = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (c >= width) return;
  for (int64_t r = blockIdx.y; r < rows; r += gridDim.y) {
    const float gate = ToFloat(gate_up[r * 2 * width + c]);
    const float up = ToFloat(gate_up[r * 2 * width + width + c]);
    out[r * width + c] = FromFloat<T>(gate / (1.0f + __expf(-gate)) * up);
  }
}

// One block per (batch, position); its threads walk the heads' first halves, each thread rotating
// one pair (d, d + half) of one head.
template <typename T>
__global__ void RopeKernel(T* __restrict__ x, const T* __restrict__ cos, const T* __restrict__ signed_sin,
                           int64_t positions, int64_t heads, int64_t half, int64_t x_stride_b, int64_t x_stride_t,
                           int64_t x_stride_h, int64_t table_stride_b, int64_t table_stride_t) {
  const int64_t b = blockIdx.x / positions, t = blockIdx.x % positions;
  T* row = x + b * x_stride_b + t * x_stride_t;
  const T* c = cos + b * table_stride_b + t * table_stride_t;
  const T* s = signed_sin + b * table_stride_b + t * table_stride_t;
  for (int64_t j = threadIdx.x; j < heads * half; j += blockDim.x) {
    const int64_t h = j / half, d = j - h * half;
    T* head = row + h * x_stride_h;
    const float x1 = ToFloat(head[d]), x2 = ToFloat(head[d + half]);
    head[d] = FromFloat<T>(x1 * ToFloat(c[d]) + x2 * ToFloat(s[d]));
    head[d + half] = FromFloat<T>(x2 * ToFloat(c[d + half]) + x1 * ToFloat(s[d + half]));
  }
}

std::string LastError() {
  const cudaError_t error = cudaGetLastError();
  return error == cudaSuccess ? std::string() : std::string("CUDA kernel launch failed: ") + cudaGetErrorString(error);
}

template <typename T>
std::string SiluMul(const void* gate_up, void* out, int64_t rows, int64_t width, cudaStream_t stream) {
  if (rows == 0 || width == 0) return "";
  const dim3 grid(static_cast<unsigned>((width + kThreads - 1) / kThreads),
                  static_cast<unsigned>(std::min(rows, kMaxGridY)));
  SiluMulKernel<T><<<grid, kThreads, 0, stream>>>(static_cast<const T*>(gate_up), static_cast<T*>(out), rows, width);
  return LastError();
}

template <typename T>
std::string Rope(void* x, const void* cos, const void* signed_sin, int64_t batch, int64_t positions, int64_t heads,
                 int64_t half, int64_t x_stride_b, int64_t x_stride_t, int64_t x_stride_h, int64_t table_stride_b,
                 int64_t table_stride_t, cudaStream_t stream) {
  if (batch == 0 || positions == 0 || heads == 0 || half == 0) return "";
  RopeKernel<T><<<static_cast<unsigned>(batch * positions), kThreads, 0, stream>>>(
      static_cast<T*>(x), static_cast<const T*>(cos), static_cast<const T*>(signed_sin), positions, heads, half,
      x_stride_b, x_stride_t, x_stride_h, table_stride_b, table_stride_t);
  return LastError();
}

}  // namespace

std::string LaunchSiluMul(ElementType type, const void* gate_up, void* out, int64_t rows, int64_t width,
                          void* stream) {
  cudaStream_t s = static_cast<cudaStream_t>(stream);
  switch (type) {
    case ElementType::kFloat32: return SiluMul<float>(gate_up, out, rows, width, s);
    case ElementType::kBFloat16: return SiluMul<__nv_bfloat16>(gate_up, out, rows, width, s);
    case ElementType::kFloat16: return SiluMul<__half>(gate_up, out, rows, width, s);
  }
  return "LaunchSiluMul: unknown element type";
}

std::string LaunchRopeInPlace(ElementType type, void* x, const void* cos, const void* signed_sin, int64_t batch,
                              int64_t positions, int64_t heads, int64_t half, int64_t x_stride_b,
                              int64_t x_stride_t, int64_t x_stride_h, int64_t table_stride_b,
                              int64_t table_stride_t, void* stream) {
  cudaStream_t s = static_cast<cudaStream_t>(stream);
  switch (type) {
    case ElementType::kFloat32:
      return Rope<float>(x, cos, signed_sin, batch, positions, heads, half, x_stride_b, x_stride_t, x_stride_h,
                         table_stride_b, table_stride_t, s);
    case ElementType::kBFloat16:
      return Rope<__nv_bfloat16>(x, cos, signed_sin, batch, positions, heads, half, x_stride_b, x_stride_t,
                                 x_stride_h, table_stride_b, table_stride_t, s);
    case ElementType::kFloat16:
      return Rope<__half>(x, cos, signed_sin, batch, positions, heads, half, x_stride_b, x_stride_t, x_stride_h,
                          table_stride_b, table_stride_t, s);
  }
  return "LaunchRopeInPlace: unknown element type";
}

}  // namespace fused_kernels
}  // namespace lip
