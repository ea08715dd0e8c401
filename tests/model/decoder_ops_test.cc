// decoder_ops::rms_norm_fused, silu_mul and rope_fused_into: the same values as LibTorch's spelling of
// the math (for rope, as the transformers form rope/rotate_half; for RMSNorm, as float64) on every
// device; on a CUDA build with the fused kernels and a GPU, the kernels themselves — fp32 and bf16,
// rows of the real width and odd ones, strided views of a fused projection written in place,
// broadcast tables, inside a CUDA graph — with fresh random inputs and poisoned outputs, so that an
// element left unwritten or written twice shows. decoder_ops::weight_matmul and its _add forms:
// LibTorch's linear / addmm on the CPU; on a GPU that runs the few-row kernel, within rounding of
// float64 for every row count 1-64, every split of K, bf16 and fp16, tiny and real shapes, in place
// and out of place, and inside the CUDA graph; swiglu_matmul (SwiGLU's projection and product in the
// same kernel) likewise.
#include "bridge/model/decoder_ops.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "gtest/gtest.h"

#if LIP_TORCH2 && defined(LIP_CUDA) && LIP_CUDA
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#define LIP_TEST_CUDA_GRAPHS 1
#else
#define LIP_TEST_CUDA_GRAPHS 0
#endif

namespace lip {
namespace {

using decoder_ops::rms_norm_fused;
using decoder_ops::rope;
using decoder_ops::rope_fused_into;
using decoder_ops::silu_mul;

// ‖a − b‖ / ‖b‖ in float64.
double RelativeError(const torch::Tensor& a, const torch::Tensor& b) {
  const torch::Tensor a64 = a.to(torch::kCPU, torch::kFloat64), b64 = b.to(torch::kCPU, torch::kFloat64);
  return ((a64 - b64).norm() / b64.norm()).item<double>();
}

// Rope tables as RopeTables makes them for the fused form: cos, and [-sin, sin].
std::pair<torch::Tensor, torch::Tensor> Tables(int64_t B, int64_t T, int64_t D, torch::TensorOptions options) {
  torch::Tensor positions = torch::arange(T, torch::kFloat32).unsqueeze(0).expand({B, T}) +
                            torch::arange(B, torch::kFloat32).unsqueeze(1) * 3;  // each row its own offsets
  torch::Tensor inv_freq = torch::pow(10000.0, -torch::arange(0, D, 2, torch::kFloat32) / D);
  torch::Tensor freqs = positions.unsqueeze(-1) * inv_freq.view({1, 1, -1});
  torch::Tensor cos = torch::cat({freqs, freqs}, -1).cos();
  torch::Tensor signed_sin = torch::cat({-freqs.sin(), freqs.sin()}, -1);
  return {cos.to(options).unsqueeze(2), signed_sin.to(options).unsqueeze(2)};  // [B,T,1,D]
}

// The transformers form of the same rotation: x * cos + rotate_half(x) * sin, heads on axis 2.
torch::Tensor ReferenceRope(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& signed_sin) {
  const int64_t half = x.size(-1) / 2;
  torch::Tensor sin = torch::cat({-signed_sin.narrow(-1, 0, half), signed_sin.narrow(-1, half, half)}, -1);
  return rope(x.to(torch::kFloat64), cos.to(torch::kFloat64), sin.to(torch::kFloat64));
}

torch::Tensor ReferenceSiluMul(const torch::Tensor& gate_up) {
  const int64_t I = gate_up.size(-1) / 2;
  torch::Tensor g = gate_up.to(torch::kFloat64);
  return torch::silu(g.narrow(-1, 0, I)) * g.narrow(-1, I, I);
}

// RMSNorm in float64: x * rsqrt(mean(x^2) + eps) * weight over the last axis.
torch::Tensor ReferenceRmsNorm(const torch::Tensor& x, const torch::Tensor& weight, double eps) {
  torch::Tensor x64 = x.to(torch::kCPU, torch::kFloat64);
  return x64 * torch::rsqrt(x64.pow(2).mean(-1, /*keepdim=*/true) + eps) * weight.to(torch::kCPU, torch::kFloat64);
}

std::vector<torch::Device> Devices() {
  std::vector<torch::Device> devices{torch::Device(torch::kCPU)};
  if (torch::cuda::is_available()) devices.emplace_back(torch::kCUDA, 0);
  return devices;
}

TEST(DecoderOpsTest, SiluMulIsSiluOfTheFirstHalfTimesTheSecond) {
  for (const torch::Device& device : Devices()) {
    for (torch::Dtype dtype : {torch::kFloat32, torch::kBFloat16}) {
      if (device.is_cpu() && dtype == torch::kBFloat16) continue;
      for (int64_t rows : {1, 7, 70000}) {  // 70000 rows: more than one grid's worth of y blocks
        const int64_t width = rows > 1000 ? 48 : 1000;
        torch::manual_seed(rows);
        torch::Tensor gate_up = (torch::randn({rows, 2 * width}) * 3).to(device, dtype);
        torch::Tensor out = silu_mul(gate_up.view({1, rows, 2 * width}));
        ASSERT_EQ(out.sizes(), (std::vector<int64_t>{1, rows, width}));
        EXPECT_EQ(out.scalar_type(), dtype);
        EXPECT_FALSE(torch::isnan(out).any().item<bool>());
        const double tolerance = dtype == torch::kFloat32 ? 1e-6 : 8e-3;
        EXPECT_LT(RelativeError(out.squeeze(0), ReferenceSiluMul(gate_up)), tolerance)
            << device << " " << dtype << " rows " << rows;
      }
    }
  }
}

TEST(DecoderOpsTest, RmsNormScalesEveryRowByItsRootMeanSquare) {
  for (const torch::Device& device : Devices()) {
    for (torch::Dtype dtype : {torch::kFloat32, torch::kBFloat16}) {
      if (device.is_cpu() && dtype == torch::kBFloat16) continue;
      // Rows of the real width and odd ones (a partial last warp); rows of very different scales.
      for (auto [rows, width] : std::vector<std::pair<int64_t, int64_t>>{{1, 4096}, {24, 4096}, {3, 100}, {5000, 40}}) {
        torch::manual_seed(rows + width);
        torch::Tensor x = (torch::randn({rows, width}) * torch::exp(torch::randn({rows, 1}) * 2)).to(device, dtype);
        torch::Tensor weight = (torch::rand({width}) + 0.5).to(device, dtype);
        torch::Tensor out = rms_norm_fused(x.view({1, rows, width}), weight, 1e-5);
        ASSERT_EQ(out.sizes(), (std::vector<int64_t>{1, rows, width}));
        EXPECT_EQ(out.scalar_type(), dtype);
        const torch::Tensor expected = ReferenceRmsNorm(x, weight, 1e-5);
        // Within a rounding of the element type, element by element.
        const double ulp = dtype == torch::kFloat32 ? 2e-6 : 1.0 / 128;
        const torch::Tensor error = (out.squeeze(0).to(torch::kCPU, torch::kFloat64) - expected).abs();
        EXPECT_TRUE((error <= expected.abs() * ulp + 1e-6).all().item<bool>())
            << device << " " << dtype << " rows " << rows << " width " << width << " max error "
            << error.max().item<double>();
      }
    }
  }
}

TEST(DecoderOpsTest, SiluMulKeepsAutogradWhereTheInputNeedsIt) {
  torch::Tensor gate_up = torch::randn({3, 8}, torch::requires_grad());
  torch::Tensor out = silu_mul(gate_up);
  out.sum().backward();
  torch::Tensor g = gate_up.detach().clone().requires_grad_(true);
  (torch::silu(g.narrow(-1, 0, 4)) * g.narrow(-1, 4, 4)).sum().backward();
  EXPECT_TRUE(torch::allclose(gate_up.grad(), g.grad()));
}

// q and k as the fused runtime holds them: views of one [B,T,(Hq+2Hkv)*D] projection.
TEST(DecoderOpsTest, RopeOfAFusedProjectionsViewRotatesEveryHeadOfQAndK) {
  const int64_t B = 3, T = 5, Hq = 4, Hkv = 2, D = 16;
  for (const torch::Device& device : Devices()) {
    for (torch::Dtype dtype : {torch::kFloat32, torch::kBFloat16}) {
      if (device.is_cpu() && dtype == torch::kBFloat16) continue;
      torch::manual_seed(7);
      auto options = torch::TensorOptions().device(device).dtype(dtype);
      torch::Tensor qkv = torch::randn({B, T, (Hq + 2 * Hkv) * D}).to(options);
      const torch::Tensor before = qkv.clone();
      torch::Tensor qk = qkv.narrow(-1, 0, (Hq + Hkv) * D).view({B, T, Hq + Hkv, D});
      auto [cos, signed_sin] = Tables(B, T, D, options);
      torch::Tensor out = rope_fused_into(qk, cos, signed_sin);
      ASSERT_EQ(out.sizes(), qk.sizes());
      const double tolerance = dtype == torch::kFloat32 ? 1e-6 : 8e-3;
      EXPECT_LT(RelativeError(out, ReferenceRope(before.narrow(-1, 0, (Hq + Hkv) * D).view({B, T, Hq + Hkv, D}),
                                                 cos, signed_sin)),
                tolerance)
          << device << " " << dtype;
      // v, beside q and k in the same rows, is never touched.
      EXPECT_TRUE(torch::equal(qkv.narrow(-1, (Hq + Hkv) * D, Hkv * D), before.narrow(-1, (Hq + Hkv) * D, Hkv * D)));
    }
  }
}

TEST(DecoderOpsTest, RopeTablesOfOneRowServeEveryBatchRow) {
  const int64_t B = 4, T = 3, H = 2, D = 8;
  for (const torch::Device& device : Devices()) {
    auto options = torch::TensorOptions().device(device).dtype(torch::kFloat32);
    torch::manual_seed(3);
    torch::Tensor x = torch::randn({B, T, H, D}).to(options);
    auto [cos, signed_sin] = Tables(1, T, D, options);
    const torch::Tensor expected = ReferenceRope(x, cos, signed_sin);
    EXPECT_LT(RelativeError(rope_fused_into(x.clone(), cos, signed_sin), expected), 1e-6) << device;
  }
}

// Every element of `out` within rounding of the float64 product `reference`: half a unit in the last
// place of the element type (2^-8 relative for bf16, 2^-11 for fp16) plus fp32 summation's error,
// bounded by 2^-20 of Σ|x·w| (`magnitude`).
void ExpectWithinRounding(const torch::Tensor& out, const torch::Tensor& reference, const torch::Tensor& magnitude,
                          torch::Dtype dtype, const std::string& what) {
  const double relative = dtype == torch::kBFloat16 ? std::ldexp(1.0, -8) : std::ldexp(1.0, -11);
  const torch::Tensor error = (out.to(torch::kFloat64) - reference).abs();
  const torch::Tensor bound = reference.abs() * relative + magnitude * std::ldexp(1.0, -20) + 1e-30;
  EXPECT_FALSE(torch::isnan(out).any().item<bool>()) << what;
  EXPECT_TRUE((error <= bound).all().item<bool>())
      << what << ": worst error / bound " << (error / bound).max().item<double>();
}

TEST(DecoderOpsTest, WeightMatmulIsLinearAndAddmmWhereTheFewRowKernelDoesNotRun) {
  // On the CPU (and for shapes the kernel refuses anywhere) the three forms are LibTorch's own ops.
  torch::manual_seed(3);
  const torch::Tensor x = torch::randn({2, 3, 64}), w = torch::randn({32, 64}), residual = torch::randn({2, 3, 32});
  EXPECT_FALSE(decoder_ops::few_row_matmul_available(torch::Device(torch::kCPU)));
  EXPECT_TRUE(torch::equal(decoder_ops::weight_matmul(x, w, true), torch::linear(x, w)));
  const torch::Tensor expected = torch::addmm(residual.view({6, 32}), x.view({6, 64}), w.t()).view({2, 3, 32});
  const torch::Tensor kept = residual.clone();
  EXPECT_TRUE(torch::equal(decoder_ops::weight_matmul_add(residual, x, w, true), expected));
  EXPECT_TRUE(torch::equal(residual, kept)) << "the out-of-place form must leave the residual alone";
  torch::Tensor into = residual.clone();
  const torch::Tensor returned = decoder_ops::weight_matmul_add_(into, x, w, true);
  EXPECT_TRUE(torch::equal(into, expected));
  EXPECT_EQ(returned.data_ptr(), into.data_ptr());
}

TEST(DecoderOpsTest, FewRowMatmulMatchesFloat64ForEveryRowCountAndSplitOfK) {
  const torch::Device cuda(torch::kCUDA, 0);
  if (!torch::cuda::is_available() || !decoder_ops::few_row_matmul_available(cuda)) {
    GTEST_SKIP() << "needs a CUDA build with the fused kernels and a GPU of compute capability 9.0+";
  }
  struct Shape {
    int64_t n, k;
  };
  // Tiny and odd shapes (one warp's 16 rows; a row block of 64 with a partial tail; K of one step),
  // and the real ones: Mistral-7B's qkv [6144, 4096] and down [4096, 14336].
  const std::vector<Shape> shapes = {{16, 32}, {48, 96}, {80, 4096}, {6144, 4096}, {4096, 14336}};
  torch::NoGradGuard no_grad;
  for (torch::Dtype dtype : {torch::kBFloat16, torch::kFloat16}) {
    for (const Shape& shape : shapes) {
      torch::manual_seed(shape.n + shape.k);
      const torch::Tensor w = (torch::randn({shape.n, shape.k}) * 0.05).to(cuda, dtype);
      const torch::Tensor w64 = w.to(torch::kFloat64);
      for (int64_t rows : {1, 2, 7, 8, 9, 17, 24, 31, 33, 63, 64}) {
        const torch::Tensor x = torch::randn({rows, shape.k}).to(cuda, dtype);
        const torch::Tensor residual = torch::randn({rows, shape.n}).to(cuda, dtype);
        const torch::Tensor product = torch::matmul(x.to(torch::kFloat64), w64.t());
        const torch::Tensor magnitude = torch::matmul(x.to(torch::kFloat64).abs(), w64.abs().t());
        const torch::Tensor with_residual = product + residual.to(torch::kFloat64);
        for (int k_splits : {0, 1, 2, 4, 8}) {
          if (shape.k % (32 * std::max(k_splits, 1)) != 0) continue;
          const std::string what = c10::str(dtype, " [", shape.n, ", ", shape.k, "] rows ", rows, " k_splits ", k_splits);
          const torch::Tensor out = decoder_ops::weight_matmul(x, w, true, k_splits);
          ASSERT_EQ(out.sizes(), (std::vector<int64_t>{rows, shape.n})) << what;
          ExpectWithinRounding(out, product, magnitude, dtype, what);
          const torch::Tensor kept = residual.clone();
          ExpectWithinRounding(decoder_ops::weight_matmul_add(residual, x, w, true, k_splits), with_residual, magnitude,
                               dtype, what + " + residual");
          EXPECT_TRUE(torch::equal(residual, kept)) << what << ": the out-of-place form wrote its residual";
          // In place: an element the kernel skipped would keep the residual alone.
          torch::Tensor into = residual.clone();
          decoder_ops::weight_matmul_add_(into, x, w, true, k_splits);
          ExpectWithinRounding(into, with_residual, magnitude, dtype, what + " in place");
        }
      }
    }
  }
  // Three leading axes and more than 64 rows, a strided x: the same values (the kernel or LibTorch).
  const torch::Tensor w = (torch::randn({96, 128}) * 0.05).to(cuda, torch::kBFloat16);
  for (const torch::Tensor& x : {torch::randn({2, 3, 128}).to(cuda, torch::kBFloat16),
                                 torch::randn({2, 40, 128}).to(cuda, torch::kBFloat16),
                                 torch::randn({128, 6}).to(cuda, torch::kBFloat16).t().narrow(0, 0, 5)}) {
    const torch::Tensor x64 = x.to(torch::kFloat64);
    ExpectWithinRounding(decoder_ops::weight_matmul(x, w, true), torch::matmul(x64, w.to(torch::kFloat64).t()),
                         torch::matmul(x64.abs(), w.to(torch::kFloat64).abs().t()), torch::kBFloat16,
                         c10::str("x ", x.sizes()));
  }
}

TEST(DecoderOpsTest, SwigluMatmulIsSiluMulOfTheProjectionWhereTheFewRowKernelDoesNotRun) {
  torch::manual_seed(5);
  const torch::Tensor x = torch::randn({2, 3, 64}), gate_up = torch::randn({64, 64});
  EXPECT_TRUE(torch::equal(decoder_ops::swiglu_matmul(x, gate_up, true, true), silu_mul(torch::linear(x, gate_up))));
}

TEST(DecoderOpsTest, FewRowSwigluMatchesFloat64ForEveryRowCountAndSplitOfK) {
  const torch::Device cuda(torch::kCUDA, 0);
  if (!torch::cuda::is_available() || !decoder_ops::few_row_matmul_available(cuda)) {
    GTEST_SKIP() << "needs a CUDA build with the fused kernels and a GPU of compute capability 9.0+";
  }
  struct Shape {
    int64_t intermediate, k;
  };
  // One 32-row block with half its rows past the end (48 = 32 + 16), and Mistral-7B's [2 × 14336, 4096].
  const std::vector<Shape> shapes = {{16, 32}, {48, 128}, {14336, 4096}};
  torch::NoGradGuard no_grad;
  for (torch::Dtype dtype : {torch::kBFloat16, torch::kFloat16}) {
    const double relative = dtype == torch::kBFloat16 ? std::ldexp(1.0, -8) : std::ldexp(1.0, -11);
    for (const Shape& shape : shapes) {
      torch::manual_seed(shape.intermediate);
      const torch::Tensor gate_up = (torch::randn({2 * shape.intermediate, shape.k}) * 0.05).to(cuda, dtype);
      const torch::Tensor gate = gate_up.narrow(0, 0, shape.intermediate).to(torch::kFloat64);
      const torch::Tensor up = gate_up.narrow(0, shape.intermediate, shape.intermediate).to(torch::kFloat64);
      for (int64_t rows : {1, 7, 9, 24, 33, 64}) {
        const torch::Tensor x = torch::randn({rows, shape.k}).to(cuda, dtype);
        const torch::Tensor x64 = x.to(torch::kFloat64);
        const torch::Tensor g = torch::matmul(x64, gate.t()), u = torch::matmul(x64, up.t());
        const torch::Tensor reference = torch::silu(g) * u;
        // Rounding once, plus fp32 summation's error in g and u carried through silu(g) * u.
        const torch::Tensor bound = reference.abs() * relative +
                                    (torch::matmul(x64.abs(), gate.abs().t()) * u.abs() * 1.1 +
                                     torch::matmul(x64.abs(), up.abs().t()) * torch::silu(g).abs()) *
                                        std::ldexp(1.0, -18) +
                                    1e-30;
        for (int k_splits : {0, 1, 2, 4, 8}) {
          if (shape.k % (32 * std::max(k_splits, 1)) != 0) continue;
          const torch::Tensor out = decoder_ops::swiglu_matmul(x, gate_up, true, true, k_splits);
          const std::string what = c10::str(dtype, " I ", shape.intermediate, " K ", shape.k, " rows ", rows,
                                            " k_splits ", k_splits);
          ASSERT_EQ(out.sizes(), (std::vector<int64_t>{rows, shape.intermediate})) << what;
          EXPECT_FALSE(torch::isnan(out).any().item<bool>()) << what;
          const torch::Tensor error = (out.to(torch::kFloat64) - reference).abs();
          EXPECT_TRUE((error <= bound).all().item<bool>()) << what << ": worst error / bound "
                                                           << (error / bound).max().item<double>();
        }
      }
    }
  }
}

TEST(DecoderOpsTest, FusedKernelsRunInsideACudaGraphAndReplayOnNewInputs) {
#if !LIP_TEST_CUDA_GRAPHS
  GTEST_SKIP() << "needs a CUDA build (LIP_CUDA) with LibTorch 2";
#else
  if (!decoder_ops::fused_cuda_kernels_built() || !torch::cuda::is_available()) {
    GTEST_SKIP() << "needs a CUDA build with the fused kernels (LIP_FUSED_CUDA_KERNELS) and a GPU";
  }
  const int64_t B = 2, T = 4, H = 3, D = 8, W = 64;
  auto options = torch::TensorOptions().device(torch::kCUDA, 0).dtype(torch::kBFloat16);
  torch::Tensor x = torch::empty({B, T, H, D}, options), gate_up = torch::empty({B, T, 2 * W}, options);
  torch::Tensor hidden = torch::empty({B, T, W}, options), weight = (torch::rand({W}) + 0.5).to(options);
  auto [cos, signed_sin] = Tables(B, T, D, options);
  // The few-row projection where the GPU runs it (else LibTorch's, still inside the graph).
  const int64_t N = 48;
  torch::Tensor projection_weight = (torch::randn({N, W}) * 0.1).to(options);
  torch::Tensor residual = torch::empty({B, T, N}, options), accumulated = torch::empty({B, T, N}, options);
  torch::Tensor rotated, product, normed, projected, swiglu;
  auto body = [&] {
    rotated = rope_fused_into(x.clone(), cos, signed_sin);
    product = silu_mul(gate_up);
    normed = rms_norm_fused(hidden, weight, 1e-6);
    projected = decoder_ops::weight_matmul(hidden, projection_weight, true);
    swiglu = decoder_ops::swiglu_matmul(hidden, projection_weight.narrow(0, 0, 32), true, true);
    accumulated.copy_(residual);
    decoder_ops::weight_matmul_add_(accumulated, hidden, projection_weight, true);
  };
  torch::NoGradGuard no_grad;
  c10::cuda::CUDAStream stream = c10::cuda::getStreamFromPool();
  at::cuda::CUDAGraph graph;
  {
    c10::cuda::CUDAStreamGuard guard(stream);
    x.normal_();
    gate_up.normal_();
    hidden.normal_();
    residual.normal_();
    body();  // warm-up outside the capture
    stream.synchronize();
    graph.capture_begin();
    body();
    graph.capture_end();
  }
  for (int replay = 0; replay < 3; ++replay) {
    x.copy_(torch::randn({B, T, H, D}).to(options));
    gate_up.copy_(torch::randn({B, T, 2 * W}).to(options));
    hidden.copy_(torch::randn({B, T, W}).to(options));
    residual.copy_(torch::randn({B, T, N}).to(options));
    projected.fill_(std::numeric_limits<float>::quiet_NaN());
    swiglu.fill_(std::numeric_limits<float>::quiet_NaN());
    rotated.fill_(std::numeric_limits<float>::quiet_NaN());  // poisoned: the replay must write all
    product.fill_(std::numeric_limits<float>::quiet_NaN());
    normed.fill_(std::numeric_limits<float>::quiet_NaN());
    graph.replay();
    torch::cuda::synchronize();
    EXPECT_LT(RelativeError(rotated, ReferenceRope(x, cos, signed_sin)), 8e-3) << "replay " << replay;
    EXPECT_LT(RelativeError(product, ReferenceSiluMul(gate_up)), 8e-3) << "replay " << replay;
    EXPECT_LT(RelativeError(normed, ReferenceRmsNorm(hidden, weight, 1e-6)), 8e-3) << "replay " << replay;
    const torch::Tensor product64 = torch::matmul(hidden.to(torch::kFloat64), projection_weight.to(torch::kFloat64).t());
    EXPECT_LT(RelativeError(projected, product64), 8e-3) << "replay " << replay;
    EXPECT_LT(RelativeError(accumulated, product64 + residual.to(torch::kFloat64)), 8e-3) << "replay " << replay;
    EXPECT_LT(RelativeError(swiglu, torch::silu(product64.narrow(-1, 0, 16)) * product64.narrow(-1, 16, 16)), 8e-3)
        << "replay " << replay;
  }
#endif
}

}  // namespace
}  // namespace lip
