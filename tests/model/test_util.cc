#include "tests/model/test_util.h"

#include "gtest/gtest.h"

namespace lip::testing {

const std::vector<std::string>& FixtureNames() {
  static const std::vector<std::string> names = {"llama_gqa", "llama3_mqa", "mistral_sw", "qwen2_tied"};
  return names;
}

std::string FixtureDir(const std::string& name) {
  return std::string(LIP_SOURCE_DIR) + "/tests/data/models/" + name;
}

Golden LoadGolden(const std::string& name) {
  auto file = SafetensorsFile::Open(FixtureDir(name) + "/golden.safetensors");
  EXPECT_TRUE(file.ok()) << file.status();
  Golden g;
  if (file.ok()) g.file = *std::move(file);
  return g;
}

torch::Tensor Golden::Get(const std::string& name) const {
  auto t = file->Tensor(name);
  EXPECT_TRUE(t.ok()) << t.status();
  return t.ok() ? t->clone() : torch::Tensor();
}

double RelativeError(const torch::Tensor& a, const torch::Tensor& b) {
  torch::Tensor a32 = a.detach().to(torch::kCPU, torch::kFloat64);
  torch::Tensor b32 = b.detach().to(torch::kCPU, torch::kFloat64);
  EXPECT_EQ(a32.sizes(), b32.sizes());
  if (a32.sizes() != b32.sizes()) return 1e30;
  const double scale = b32.abs().max().item<double>();
  return (a32 - b32).abs().max().item<double>() / (scale > 0 ? scale : 1.0);
}

}  // namespace lip::testing
