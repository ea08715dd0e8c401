// BENCHMARK ONLY: a DecoderModel with the shape of a real Hugging Face model and random weights, for
// timing nodes and the runtime at real scale without the weights (which never travel to the test or
// benchmark machines). Never used unless a caller asks for it by name (e.g. the nodes'
// --random_weights_for_benchmark); its answers mean nothing.
#ifndef LIP_BRIDGE_MODEL_BENCHMARK_MODEL_H_
#define LIP_BRIDGE_MODEL_BENCHMARK_MODEL_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "bridge/model/decoder_model.h"

namespace lip {

// Reads model_dir/config.json and draws the weights with DecoderModel::RandomInit(config, options,
// seed) directly on options.device. NOT_FOUND / INVALID_ARGUMENT from the config reader (naming the
// file); INTERNAL when LibTorch fails (e.g. out of GPU memory).
absl::StatusOr<std::unique_ptr<DecoderModel>> RandomModelForBenchmark(const std::string& model_dir,
                                                                      const LoadOptions& options,
                                                                      uint64_t seed);

}  // namespace lip

#endif  // LIP_BRIDGE_MODEL_BENCHMARK_MODEL_H_
