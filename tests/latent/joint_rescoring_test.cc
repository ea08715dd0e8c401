// Joint rescoring of several receivers' label scores (bridge/latent/joint_rescoring.h).
#include "bridge/latent/joint_rescoring.h"

#include <cmath>
#include <limits>

#include "gtest/gtest.h"

namespace lip {
namespace {

TEST(JointRescoringTest, SumsEachReceiversLabelDistributionNormalisedOverTheLabels) {
  // Receiver 0 prefers label 0 a little; receiver 1 prefers label 1 strongly. Its raw scores are
  // all low (a receiver with longer verbalizers): only their spread over the labels counts.
  const std::vector<float> r0 = {std::log(0.5f), std::log(0.3f), std::log(0.2f)};
  const std::vector<float> r1 = {std::log(0.01f * 0.1f), std::log(0.01f * 0.8f), std::log(0.01f * 0.1f)};
  auto joint = RescoreJointly({r0, r1});
  ASSERT_TRUE(joint.ok()) << joint.status();
  EXPECT_EQ(joint->label_index, 1);
  ASSERT_EQ(joint->log_probs.size(), 3u);
  EXPECT_NEAR(joint->log_probs[0], std::log(0.5 * 0.1), 1e-5);
  EXPECT_NEAR(joint->log_probs[1], std::log(0.3 * 0.8), 1e-5);
  EXPECT_NEAR(joint->log_probs[2], std::log(0.2 * 0.1), 1e-5);
  double total = 0;
  for (double p : joint->probabilities) total += p;
  EXPECT_NEAR(total, 1.0, 1e-9);
  EXPECT_NEAR(joint->probabilities[1], 0.24 / (0.05 + 0.24 + 0.02), 1e-5);

  // One receiver alone: its own argmax.
  auto alone = RescoreJointly({r0});
  ASSERT_TRUE(alone.ok());
  EXPECT_EQ(alone->label_index, 0);
}

TEST(JointRescoringTest, RejectsScoresThatCannotBeCombined) {
  EXPECT_EQ(RescoreJointly({}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(RescoreJointly({{}}).status().code(), absl::StatusCode::kInvalidArgument);
  auto mismatch = RescoreJointly({{-1.0f, -2.0f}, {-1.0f, -2.0f, -3.0f}});
  EXPECT_EQ(mismatch.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(mismatch.status().message().find("3 labels"), std::string::npos) << mismatch.status();
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(RescoreJointly({{-1.0f, std::nanf("")}}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(RescoreJointly({{-1.0f, inf}}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(RescoreJointly({{-inf, -inf}}).status().code(), absl::StatusCode::kInvalidArgument);
  // A label a receiver rules out (-inf) is fine while another label is possible.
  auto ruled_out = RescoreJointly({{-inf, -0.1f}});
  ASSERT_TRUE(ruled_out.ok());
  EXPECT_EQ(ruled_out->label_index, 1);
}

}  // namespace
}  // namespace lip
