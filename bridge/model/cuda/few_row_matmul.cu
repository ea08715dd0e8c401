// The kernel of bridge/model/few_row_matmul.h.
//
// Fragment layout (PTX ISA, mma.m16n8k16 with .row.col): lane = 4 * g + t. The 16×16 A tile (here 16
// weight rows × 16 of K) sits in four 32-bit registers of two elements each: a0 = (row g, k-slots
// 2t, 2t+1), a1 = (row g+8, 2t, 2t+1), a2 = (row g, 2t+8, 2t+9), a3 = (row g+8, 2t+8, 2t+9); the 16×8
// B tile (16 of K × 8 input rows) in two: b0 = (slots 2t, 2t+1; input row g), b1 = (2t+8, 2t+9; g);
// the fp32 result c0..c3 = (weight row g, input rows 2t, 2t+1), (g+8, 2t, 2t+1).
// A dot product does not care in which order its K positions are visited, only that A and B agree:
// a lane owns the slots {2t, 2t+1, 2t+8, 2t+9} in both, so it may fill them from any four K positions
// of its own. Each lane therefore loads 8 contiguous elements (16 bytes) of a weight row and of an
// input row at K offset 8t of a 32-wide step, and feeds the first four to one mma and the last four
// to a second: two tensor-core products per 16-byte load, with no shuffles and no shared memory.
#include "bridge/model/few_row_matmul.h"

#include <cooperative_groups.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <mutex>

namespace lip {
namespace fused_kernels {
namespace {

namespace cg = cooperative_groups;

constexpr int kWarps = 4;                        // per block
constexpr int kRowsPerWarp = 16;                 // weight rows: the mma's M
constexpr int kBlockRows = kWarps * kRowsPerWarp;
constexpr int kStepK = 32;                       // K per 16-byte load of a lane: two mma of K = 16
constexpr int kUnroll = 4;                       // steps whose weight loads are in flight together
constexpr int kMaxSplits = 8;                    // the portable cluster size
constexpr int kMaxDevices = 64;

__device__ __forceinline__ float ToFloat(__nv_bfloat16 x) { return __bfloat162float(x); }
__device__ __forceinline__ float ToFloat(__half x) { return __half2float(x); }
template <typename T>
__device__ __forceinline__ T FromFloat(float x);
template <>
__device__ __forceinline__ __nv_bfloat16 FromFloat<__nv_bfloat16>(float x) { return __float2bfloat16(x); }
template <>
__device__ __forceinline__ __half FromFloat<__half>(float x) { return __float2half(x); }

// c += A · B for one 16×8×16 tile (layouts above).
template <typename T>
__device__ __forceinline__ void Mma(float (&c)[4], uint32_t a0, uint32_t a1, uint32_t a2, uint32_t a3, uint32_t b0,
                                    uint32_t b1);
template <>
__device__ __forceinline__ void Mma<__nv_bfloat16>(float (&c)[4], uint32_t a0, uint32_t a1, uint32_t a2, uint32_t a3,
                                                   uint32_t b0, uint32_t b1) {
  asm("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
}
template <>
__device__ __forceinline__ void Mma<__half>(float (&c)[4], uint32_t a0, uint32_t a1, uint32_t a2, uint32_t a3,
                                            uint32_t b0, uint32_t b1) {
  asm("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
}

// 16 bytes of the weight: read once, so through the non-coherent path without a place in L1 (which
// keeps the input rows, read by all four warps), and with a 256-byte L2 prefetch.
__device__ __forceinline__ uint4 LoadWeight(const void* p) {
  uint4 v;
  asm("ld.global.nc.L1::no_allocate.L2::256B.v4.u32 {%0,%1,%2,%3}, [%4];"
      : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
      : "l"(p));
  return v;
}

// One 32-wide K step of a warp: its 16 weight rows (this lane's 8 elements of rows g and g+8 in
// wa, wb) against every 8-row tile of the input.
template <typename T, int kTiles>
__device__ __forceinline__ void Step(float (&acc)[kTiles][4], const uint4& wa, const uint4& wb,
                                     const T* const (&x_lane)[kTiles], const bool (&x_real)[kTiles], int k) {
#pragma unroll
  for (int j = 0; j < kTiles; ++j) {
    const uint4 xv = x_real[j] ? __ldg(reinterpret_cast<const uint4*>(x_lane[j] + k)) : make_uint4(0, 0, 0, 0);
    Mma<T>(acc[j], wa.x, wb.x, wa.y, wb.y, xv.x, xv.y);  // K positions 8t .. 8t+3
    Mma<T>(acc[j], wa.z, wb.z, wa.w, wb.w, xv.z, xv.w);  // K positions 8t+4 .. 8t+7
  }
}

// Grid (row blocks, K splits), one cluster of (1, K splits) blocks per row block. kTiles = the input
// rows rounded up to 8, over 8. kSwiGlu: w is SwiGLU's stacked [gate; up] (n_out = 2 I rows); a block
// owns 32 gate rows (warps 0, 1) and the 32 up rows of the same outputs (warps 2, 3) and writes
// out[r, i] = silu(gate) * up, I wide, instead of the 2 I projections.
template <typename T, int kTiles, bool kSwiGlu>
__global__ void __launch_bounds__(kWarps * 32)
    FewRowMatmulKernel(const T* __restrict__ x, int64_t x_stride, const T* __restrict__ w, const T* residual,
                       int64_t residual_stride, T* out, int64_t out_stride, int rows, int n_out, int k,
                       int k_per_split) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  constexpr int kInputRows = 8 * kTiles;
  // This block's partial sums, [weight row][input row] (+1: fewer bank conflicts when read by column).
  __shared__ float partial[kBlockRows][kInputRows + 1];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
  // This warp's first weight row, and whether its rows exist (n_out, and I, are multiples of 16:
  // a warp's rows are all real or all past the end).
  int row0 = blockIdx.x * kBlockRows + warp * kRowsPerWarp;
  bool real_rows = row0 < n_out;
  if constexpr (kSwiGlu) {
    const int half = n_out / 2, gate_row = blockIdx.x * (kBlockRows / 2) + (warp % 2) * kRowsPerWarp;
    row0 = gate_row + (warp >= 2 ? half : 0);
    real_rows = gate_row < half;
  }
  float acc[kTiles][4];
#pragma unroll
  for (int j = 0; j < kTiles; ++j) acc[j][0] = acc[j][1] = acc[j][2] = acc[j][3] = 0.0f;
  if (real_rows) {
    const T* wa_lane = w + static_cast<int64_t>(row0 + g) * k + 8 * t;
    const T* wb_lane = wa_lane + static_cast<int64_t>(8) * k;
    const T* x_lane[kTiles];
    bool x_real[kTiles];
#pragma unroll
    for (int j = 0; j < kTiles; ++j) {
      x_real[j] = 8 * j + g < rows;
      x_lane[j] = x + static_cast<int64_t>(x_real[j] ? 8 * j + g : 0) * x_stride + 8 * t;
    }
    int kk = blockIdx.y * k_per_split;
    const int k_end = kk + k_per_split;
    for (; kk + kStepK * kUnroll <= k_end; kk += kStepK * kUnroll) {
      uint4 wa[kUnroll], wb[kUnroll];
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) {
        wa[u] = LoadWeight(wa_lane + kk + u * kStepK);
        wb[u] = LoadWeight(wb_lane + kk + u * kStepK);
      }
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) Step<T, kTiles>(acc, wa[u], wb[u], x_lane, x_real, kk + u * kStepK);
    }
    for (; kk < k_end; kk += kStepK) {
      const uint4 wa = LoadWeight(wa_lane + kk), wb = LoadWeight(wb_lane + kk);
      Step<T, kTiles>(acc, wa, wb, x_lane, x_real, kk);
    }
  }
  const int r = warp * kRowsPerWarp + g;
#pragma unroll
  for (int j = 0; j < kTiles; ++j) {
    partial[r][8 * j + 2 * t] = acc[j][0];
    partial[r][8 * j + 2 * t + 1] = acc[j][1];
    partial[r + 8][8 * j + 2 * t] = acc[j][2];
    partial[r + 8][8 * j + 2 * t + 1] = acc[j][3];
  }
  // Every block of the cluster has written its partial sums; block `rank` then adds up, over the
  // cluster's blocks in rank order, the outputs e = rank * 128 + i (mod splits * 128), e = input
  // row * 64 + weight row of this row block (so consecutive threads write consecutive outputs).
  cg::cluster_group cluster = cg::this_cluster();
  cluster.sync();
  const int splits = static_cast<int>(cluster.num_blocks());
  const int rank = static_cast<int>(cluster.block_rank());
  if constexpr (kSwiGlu) {  // outputs e = input row * 32 + gate row of this block
    constexpr int kOutputs = kBlockRows / 2;
    for (int e = rank * kWarps * 32 + threadIdx.x; e < rows * kOutputs; e += splits * kWarps * 32) {
      const int input_row = e / kOutputs, local = e % kOutputs;
      const int i = blockIdx.x * kOutputs + local;
      if (i >= n_out / 2) continue;
      float gate = 0.0f, up = 0.0f;
      for (int q = 0; q < splits; ++q) {
        const float* remote = cluster.map_shared_rank(&partial[0][0], q);
        gate += remote[local * (kInputRows + 1) + input_row];
        up += remote[(kOutputs + local) * (kInputRows + 1) + input_row];
      }
      out[static_cast<int64_t>(input_row) * out_stride + i] = FromFloat<T>(gate / (1.0f + __expf(-gate)) * up);
    }
  } else {
    for (int e = rank * kWarps * 32 + threadIdx.x; e < rows * kBlockRows; e += splits * kWarps * 32) {
      const int input_row = e / kBlockRows, local = e % kBlockRows;
      const int n = blockIdx.x * kBlockRows + local;
      if (n >= n_out) continue;
      float sum = 0.0f;
      for (int q = 0; q < splits; ++q) {
        sum += cluster.map_shared_rank(&partial[0][0], q)[local * (kInputRows + 1) + input_row];
      }
      if (residual != nullptr) sum += ToFloat(residual[static_cast<int64_t>(input_row) * residual_stride + n]);
      out[static_cast<int64_t>(input_row) * out_stride + n] = FromFloat<T>(sum);
    }
  }
  cluster.sync();  // no block leaves while another still reads its shared memory
#endif
}

struct DeviceInfo {
  std::once_flag once;
  int sms = 0;
  bool supported = false;
};

// The device's SM count and whether the kernel runs there (compute capability 9.0+ and code for it).
DeviceInfo& Info(int device) {
  static DeviceInfo infos[kMaxDevices];
  DeviceInfo& info = infos[device];
  std::call_once(info.once, [&] {
    int previous = 0, major = 0;
    if (cudaGetDevice(&previous) != cudaSuccess || cudaSetDevice(device) != cudaSuccess) {
      cudaGetLastError();
      return;
    }
    cudaFuncAttributes attributes{};
    if (cudaDeviceGetAttribute(&info.sms, cudaDevAttrMultiProcessorCount, device) == cudaSuccess &&
        cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device) == cudaSuccess &&
        cudaFuncGetAttributes(&attributes, FewRowMatmulKernel<__nv_bfloat16, 1, false>) == cudaSuccess) {
      info.supported = major >= 9 && attributes.binaryVersion >= 90;
    }
    cudaGetLastError();
    cudaSetDevice(previous);
  });
  return info;
}

int CurrentDevice() {
  int device = -1;
  return cudaGetDevice(&device) == cudaSuccess ? device : -1;
}

template <typename T, int kTiles, bool kSwiGlu>
cudaError_t LaunchTiles(const void* x, int64_t x_stride, const void* w, const void* residual, int64_t residual_stride,
                        void* out, int64_t out_stride, int rows, int n_out, int k, int splits, cudaStream_t stream) {
  cudaLaunchConfig_t config = {};
  const int rows_per_block = kSwiGlu ? kBlockRows / 2 : kBlockRows;
  const int block_rows = kSwiGlu ? n_out / 2 : n_out;
  config.gridDim = dim3(static_cast<unsigned>((block_rows + rows_per_block - 1) / rows_per_block),
                        static_cast<unsigned>(splits), 1);
  config.blockDim = dim3(kWarps * 32, 1, 1);
  config.dynamicSmemBytes = 0;
  config.stream = stream;
  cudaLaunchAttribute attribute[1];
  attribute[0].id = cudaLaunchAttributeClusterDimension;
  attribute[0].val.clusterDim.x = 1;
  attribute[0].val.clusterDim.y = static_cast<unsigned>(splits);
  attribute[0].val.clusterDim.z = 1;
  config.attrs = attribute;
  config.numAttrs = 1;
  return cudaLaunchKernelEx(&config, FewRowMatmulKernel<T, kTiles, kSwiGlu>, static_cast<const T*>(x), x_stride,
                            static_cast<const T*>(w), static_cast<const T*>(residual), residual_stride,
                            static_cast<T*>(out), out_stride, rows, n_out, k, k / splits);
}

template <typename T, bool kSwiGlu>
cudaError_t Launch(const void* x, int64_t x_stride, const void* w, const void* residual, int64_t residual_stride,
                   void* out, int64_t out_stride, int rows, int n_out, int k, int splits, cudaStream_t stream) {
  switch ((rows + 7) / 8) {
#define LIP_FEW_ROW_CASE(tiles)                                                                                   \
  case tiles:                                                                                                     \
    return LaunchTiles<T, tiles, kSwiGlu>(x, x_stride, w, residual, residual_stride, out, out_stride, rows, n_out, \
                                          k, splits, stream);
    LIP_FEW_ROW_CASE(1)
    LIP_FEW_ROW_CASE(2)
    LIP_FEW_ROW_CASE(3)
    LIP_FEW_ROW_CASE(4)
    LIP_FEW_ROW_CASE(5)
    LIP_FEW_ROW_CASE(6)
    LIP_FEW_ROW_CASE(7)
    LIP_FEW_ROW_CASE(8)
#undef LIP_FEW_ROW_CASE
  }
  return cudaErrorInvalidValue;
}

}  // namespace

bool FewRowMatmulSupported(int device) { return device >= 0 && device < kMaxDevices && Info(device).supported; }

int FewRowMatmulAutoSplits(int device, int64_t n_out, int64_t k) {
  // Enough blocks for ~4 per SM where the row blocks alone are fewer, each split keeping K a
  // multiple of 64 (two 32-wide steps at least).
  const int64_t row_blocks = (n_out + kBlockRows - 1) / kBlockRows;
  const int64_t sms = device >= 0 && device < kMaxDevices ? Info(device).sms : 0;
  int splits = 1;
  while (splits < kMaxSplits && row_blocks * splits < 4 * sms && k % (2 * kStepK * splits * 2) == 0) splits *= 2;
  return splits;
}

namespace {

// LaunchFewRowMatmul (swiglu false) and LaunchFewRowSwiGlu (true, n_out = 2 I).
std::string LaunchFewRow(bool swiglu, ElementType type, const void* x, int64_t x_stride, const void* w,
                         const void* residual, int64_t residual_stride, void* out, int64_t out_stride, int64_t rows,
                         int64_t n_out, int64_t k, int k_splits, void* stream) {
  if (type == ElementType::kFloat32) return "LaunchFewRowMatmul: bf16 or fp16 only";
  if (swiglu && n_out % 32 != 0) return "LaunchFewRowSwiGlu: the intermediate width is not a multiple of 16";
  if (rows < 1 || rows > kFewRowMatmulMaxRows) return "LaunchFewRowMatmul: rows outside [1, 64]";
  if (n_out < 16 || n_out % 16 != 0 || n_out > 0x7fffffff) return "LaunchFewRowMatmul: n_out is not a multiple of 16";
  if (k < kStepK || k % kStepK != 0 || k > 0x7fffffff) return "LaunchFewRowMatmul: k is not a multiple of 32";
  if (x_stride % 8 != 0 || reinterpret_cast<uintptr_t>(x) % 16 != 0 || reinterpret_cast<uintptr_t>(w) % 16 != 0) {
    return "LaunchFewRowMatmul: x or w is not 16-byte aligned";
  }
  const int device = CurrentDevice();
  if (!FewRowMatmulSupported(device)) return "LaunchFewRowMatmul: this device does not run the kernel";
  const int splits = k_splits == 0 ? FewRowMatmulAutoSplits(device, n_out, k) : k_splits;
  if ((splits != 1 && splits != 2 && splits != 4 && splits != 8) || k % (kStepK * splits) != 0) {
    return "LaunchFewRowMatmul: k_splits must be 1, 2, 4 or 8 and split k into multiples of 32";
  }
  cudaStream_t s = static_cast<cudaStream_t>(stream);
  const int r = static_cast<int>(rows), n = static_cast<int>(n_out), kk = static_cast<int>(k);
  cudaError_t error;
  if (type == ElementType::kBFloat16) {
    error = swiglu ? Launch<__nv_bfloat16, true>(x, x_stride, w, nullptr, 0, out, out_stride, r, n, kk, splits, s)
                   : Launch<__nv_bfloat16, false>(x, x_stride, w, residual, residual_stride, out, out_stride, r, n, kk,
                                                  splits, s);
  } else {
    error = swiglu ? Launch<__half, true>(x, x_stride, w, nullptr, 0, out, out_stride, r, n, kk, splits, s)
                   : Launch<__half, false>(x, x_stride, w, residual, residual_stride, out, out_stride, r, n, kk, splits,
                                           s);
  }
  if (error != cudaSuccess) {
    cudaGetLastError();
    return std::string("LaunchFewRowMatmul: ") + cudaGetErrorString(error);
  }
  return "";
}

}  // namespace

std::string LaunchFewRowMatmul(ElementType type, const void* x, int64_t x_stride, const void* w, const void* residual,
                               int64_t residual_stride, void* out, int64_t out_stride, int64_t rows, int64_t n_out,
                               int64_t k, int k_splits, void* stream) {
  return LaunchFewRow(false, type, x, x_stride, w, residual, residual_stride, out, out_stride, rows, n_out, k, k_splits,
                      stream);
}

std::string LaunchFewRowSwiGlu(ElementType type, const void* x, int64_t x_stride, const void* gate_up, void* out,
                               int64_t out_stride, int64_t rows, int64_t intermediate, int64_t k, int k_splits,
                               void* stream) {
  return LaunchFewRow(true, type, x, x_stride, gate_up, nullptr, 0, out, out_stride, rows, 2 * intermediate, k,
                      k_splits, stream);
}

}  // namespace fused_kernels
}  // namespace lip
