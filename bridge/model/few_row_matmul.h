// A matmul of a few input rows against a weight matrix, out = x · wᵀ (+ residual), as one CUDA
// kernel that streams the weight from GPU memory once. At 1–64 rows (a message's tokens at batch 1,
// a decode step's batch) every projection of a decoder block is bound by reading its weight; this
// kernel is built for that case only. Measured (benchmarks/README.md, run 8, one H100): correct, and
// slower than cuBLAS — 95–97 % of cuBLAS's bandwidth at one row, 38–82 % at 24–64 rows, where cuBLAS
// streams the block's projections at 64–87 % of the HBM peak — so DecoderModel uses it only when
// asked (LoadOptions::few_row_matmul, off by default). A staged version (inputs and weights through
// shared memory in a multi-stage pipeline) is what would have to beat cuBLAS at 8+ rows.
//
// How: each block of 4 warps owns 64 weight rows; each warp's 16 rows are one operand of the
// tensor cores' 16×8×16 bf16/fp16 product (mma.sync) and 8 input rows at a time the other, every
// lane loading 16 contiguous bytes of a weight row per step (read-only, not kept in L1). Where there
// are too few row blocks to keep every SM streaming, the reduction dimension K is split over up to 8
// blocks of one thread-block cluster (Hopper), whose partial sums meet in distributed shared memory:
// no workspace, no second kernel, a fixed summation order (the result does not depend on timing).
// fp32 accumulation, one rounding to the element type. Built with the fused kernels
// (LIP_FUSED_CUDA_KERNELS); callers go through decoder_ops::weight_matmul (decoder_ops.h), which
// falls back to LibTorch's matmul wherever this kernel does not apply.
//
// No LibTorch or CUDA header here: pointers are raw, strides in elements, the stream a cudaStream_t
// passed as void*.
#ifndef LIP_BRIDGE_MODEL_FEW_ROW_MATMUL_H_
#define LIP_BRIDGE_MODEL_FEW_ROW_MATMUL_H_

#include <cstdint>
#include <string>

#include "bridge/model/fused_block_kernels.h"

namespace lip {
namespace fused_kernels {

// The most input rows one launch takes.
constexpr int64_t kFewRowMatmulMaxRows = 64;

// Whether LaunchFewRowMatmul runs on CUDA device `device`: compute capability 9.0 or newer (the
// thread-block clusters) and this build's code compiled for it. Cached per device.
bool FewRowMatmulSupported(int device);

// out[r, n] = Σ_k x[r, k] · w[n, k] (+ residual[r, n]) for r < rows, n < n_out, summed in fp32 and
// rounded once to `type` (kBFloat16 or kFloat16; kFloat32 is refused). x's row r starts at
// x + r * x_stride; w is [n_out, k] contiguous; out's and residual's row r at r * out_stride and
// r * residual_stride. residual may be null, or equal to out (in place: each element is read before
// it is written, by the same thread). Requires 1 <= rows <= kFewRowMatmulMaxRows, n_out % 16 == 0,
// k % 32 == 0, x_stride % 8 == 0, x and w 16-byte aligned. `k_splits`: how many blocks share each
// row block's K (1, 2, 4 or 8, dividing k into multiples of 32), or 0 to choose by the device's SM
// count. Runs on `stream` (capturable into a CUDA graph). Returns "" or what was wrong.
std::string LaunchFewRowMatmul(ElementType type, const void* x, int64_t x_stride, const void* w, const void* residual,
                               int64_t residual_stride, void* out, int64_t out_stride, int64_t rows, int64_t n_out,
                               int64_t k, int k_splits, void* stream);

// SwiGLU's first half with its product: out[r, i] = silu(Σ_k x[r, k] · gate_up[i, k]) ·
// Σ_k x[r, k] · gate_up[intermediate + i, k] for r < rows, i < intermediate, where gate_up is the
// stacked [gate; up] weight [2 * intermediate, k] contiguous; the sums, silu and product in fp32,
// rounded once (the unfused path rounds the two projections first). The same requirements as
// LaunchFewRowMatmul with n_out = 2 * intermediate (intermediate % 16 == 0).
std::string LaunchFewRowSwiGlu(ElementType type, const void* x, int64_t x_stride, const void* gate_up, void* out,
                               int64_t out_stride, int64_t rows, int64_t intermediate, int64_t k, int k_splits,
                               void* stream);

// The k_splits LaunchFewRowMatmul chooses for 0 on device `device` (for benchmarks and tests).
int FewRowMatmulAutoSplits(int device, int64_t n_out, int64_t k);

}  // namespace fused_kernels
}  // namespace lip

#endif  // LIP_BRIDGE_MODEL_FEW_ROW_MATMUL_H_
