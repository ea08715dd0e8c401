// The kernels of bridge/model/fused_block_kernels.h. All are memory-bound and small at the sizes a
// message has (a few thousand to a few million elements): one read and one write of each element
// (RMSNorm reads its row twice, the second time from cache), fp32 arithmetic; only RMSNorm's
// row sum uses shared memory.
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

// The sum of every thread's `value` in the block, returned to all of them (blockDim.x a multiple of 32).
__device__ float BlockSum(float value) {
  __shared__ float warp_sums[32];
  __shared__ float total;
  for (int offset = 16; offset > 0; offset >>= 1) value += __shfl_xor_sync(0xffffffffu, value, offset);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (lane == 0) warp_sums[warp] = value;
  __syncthreads();
  if (warp == 0) {
    value = lane < static_cast<int>(blockDim.x / 32) ? warp_sums[lane] : 0.0f;
    for (int offset = 16; offset > 0; offset >>= 1) value += __shfl_xor_sync(0xffffffffu, value, offset);
    if (lane == 0) total = value;
  }
  __syncthreads();
  return total;
}

// One block per row: the row's sum of squares, then every element scaled and weighted.
template <typename T>
__global__ void RmsNormKernel(const T* __restrict__ x, const T* __restrict__ weight, T* __restrict__ out, int64_t width,
                              float eps) {
  const T* row = x + static_cast<int64_t>(blockIdx.x) * width;
  T* out_row = out + static_cast<int64_t>(blockIdx.x) * width;
  float squares = 0.0f;
  for (int64_t c = threadIdx.x; c < width; c += blockDim.x) {
    const float v = ToFloat(row[c]);
    squares += v * v;
  }
  const float scale = rsqrtf(BlockSum(squares) / static_cast<float>(width) + eps);
  for (int64_t c = threadIdx.x; c < width; c += blockDim.x) {
    out_row[c] = FromFloat<T>(ToFloat(row[c]) * scale * ToFloat(weight[c]));
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

template <typename T>
std::string RmsNorm(const void* x, const void* weight, void* out, int64_t rows, int64_t width, float eps,
                    cudaStream_t stream) {
  if (rows == 0 || width == 0) return "";
  if (rows > 0x7fffffff) return "RmsNorm: more rows than one grid holds";
  // About eight elements per thread, in whole warps, 32..1024 threads.
  const int64_t threads = std::min<int64_t>(1024, std::max<int64_t>(32, (width / 8 + 31) / 32 * 32));
  RmsNormKernel<T><<<static_cast<unsigned>(rows), static_cast<unsigned>(threads), 0, stream>>>(
      static_cast<const T*>(x), static_cast<const T*>(weight), static_cast<T*>(out), width, eps);
  return LastError();
}

}  // namespace

std::string LaunchRmsNorm(ElementType type, const void* x, const void* weight, void* out, int64_t rows, int64_t width,
                          float eps, void* stream) {
  cudaStream_t s = static_cast<cudaStream_t>(stream);
  switch (type) {
    case ElementType::kFloat32: return RmsNorm<float>(x, weight, out, rows, width, eps, s);
    case ElementType::kBFloat16: return RmsNorm<__nv_bfloat16>(x, weight, out, rows, width, eps, s);
    case ElementType::kFloat16: return RmsNorm<__half>(x, weight, out, rows, width, eps, s);
  }
  return "LaunchRmsNorm: unknown element type";
}

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
