// Helpers shared by the model runtime tests: fixture paths, golden outputs, tolerances.
#ifndef LIP_TESTS_MODEL_TEST_UTIL_H_
#define LIP_TESTS_MODEL_TEST_UTIL_H_

#include <string>
#include <vector>

#include "bridge/model/decoder_model.h"
#include "bridge/model/safetensors.h"

namespace lip::testing {

// The tiny transformers checkpoints under tests/data/models/.
const std::vector<std::string>& FixtureNames();
std::string FixtureDir(const std::string& name);

// golden.safetensors of a fixture, tensors copied out of the mapping.
struct Golden {
  std::unique_ptr<SafetensorsFile> file;
  torch::Tensor Get(const std::string& name) const;
};
Golden LoadGolden(const std::string& name);

// max|a - b| / max|b|: the relative error the 1e-4 bound is stated in.
double RelativeError(const torch::Tensor& a, const torch::Tensor& b);

}  // namespace lip::testing

#endif  // LIP_TESTS_MODEL_TEST_UTIL_H_
