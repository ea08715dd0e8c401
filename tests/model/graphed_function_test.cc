// GraphedFunction: the same values as the body run eagerly, a capture per key and input shapes
// (on a CUDA build with a GPU), and a plain eager call everywhere else.
#include "bridge/model/graphed_function.h"

#include <set>

#include "gtest/gtest.h"

namespace lip {
namespace {

// y = relu(x @ w) + 1, and the row sums: two outputs, a few kernels.
std::vector<torch::Tensor> Body(const std::vector<torch::Tensor>& in, const torch::Tensor& w, int* calls) {
  ++*calls;
  torch::Tensor y = torch::relu(torch::matmul(in[0], w)) + 1;
  return {y, y.sum(-1)};
}

TEST(GraphedFunctionTest, BucketsRoundBatchesToPowersOfTwoAndTokensFinestWhereShort) {
  EXPECT_EQ(GraphBatchBucket(1), 1);
  EXPECT_EQ(GraphBatchBucket(3), 4);
  EXPECT_EQ(GraphBatchBucket(64), 64);
  EXPECT_EQ(GraphTokenBucket(1), 8);
  EXPECT_EQ(GraphTokenBucket(20), 24);  // the receiver's primed latent message of the real-shape bridge
  EXPECT_EQ(GraphTokenBucket(64), 64);
  EXPECT_EQ(GraphTokenBucket(65), 80);
  EXPECT_EQ(GraphTokenBucket(128), 128);
  EXPECT_EQ(GraphTokenBucket(129), 160);
  EXPECT_EQ(GraphTokenBucket(256), 256);
  std::set<int64_t> buckets;
  for (int64_t t = 1; t <= 256; ++t) {
    const int64_t b = GraphTokenBucket(t);
    EXPECT_GE(b, t);
    EXPECT_LE(b - t, t <= 64 ? 7 : t <= 128 ? 15 : 31) << t;  // padding under one step
    buckets.insert(b);
  }
  EXPECT_EQ(buckets.size(), 16u);
}

TEST(GraphedFunctionTest, OffCudaEveryRunIsOneEagerCallOfTheBody) {
  GraphedFunction graphed(torch::Device(torch::kCPU), /*enabled=*/true, /*max_graphs=*/8);
  EXPECT_FALSE(graphed.uses_graphs());
  torch::manual_seed(1);
  const torch::Tensor w = torch::randn({8, 4});
  int calls = 0;
  for (int run = 0; run < 3; ++run) {
    const torch::Tensor x = torch::randn({2, 8});
    auto out = graphed.Run("f", {x}, [&](const auto& in) { return Body(in, w, &calls); });
    ASSERT_EQ(out.size(), 2u);
    EXPECT_TRUE(torch::equal(out[0], torch::relu(torch::matmul(x, w)) + 1));
    EXPECT_EQ(calls, run + 1);
  }
  EXPECT_EQ(graphed.num_graphs(), 0);
}

TEST(GraphedFunctionTest, OnCudaReplaysAGraphPerShapeWithTheEagerValues) {
  GraphedFunction graphed(torch::Device(torch::kCUDA, 0), /*enabled=*/true, /*max_graphs=*/8);
  if (!graphed.uses_graphs() || !torch::cuda::is_available()) {
    GTEST_SKIP() << "needs a CUDA build with CUDA graphs (LIP_CUDA_GRAPHS) and a GPU";
  }
  torch::NoGradGuard no_grad;
  torch::manual_seed(2);
  const torch::Tensor w = torch::randn({8, 4}, torch::kCUDA);
  int calls = 0;
  for (int64_t rows : {2, 4, 2, 4, 2}) {
    const torch::Tensor x = torch::randn({rows, 8}, torch::kCUDA);
    auto out = graphed.Run("f", {x}, [&](const auto& in) { return Body(in, w, &calls); });
    int unused = 0;
    auto eager = Body({x}, w, &unused);
    EXPECT_TRUE(torch::allclose(out[0], eager[0])) << rows;
    EXPECT_TRUE(torch::allclose(out[1], eager[1])) << rows;
  }
  EXPECT_EQ(graphed.num_graphs(), 2);  // one per input shape
  EXPECT_EQ(calls, 2 * 3);             // per shape: two eager runs and the capture, then replays only
}

}  // namespace
}  // namespace lip
