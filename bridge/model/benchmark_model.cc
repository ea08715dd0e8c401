#include "bridge/model/benchmark_model.h"

#include "bridge/model/model_config.h"

namespace lip {

absl::StatusOr<std::unique_ptr<DecoderModel>> RandomModelForBenchmark(const std::string& model_dir,
                                                                      const LoadOptions& options,
                                                                      uint64_t seed) {
  absl::StatusOr<ModelConfig> config = ReadModelConfig(model_dir + "/config.json");
  if (!config.ok()) return config.status();
  return DecoderModel::RandomInit(*config, options, seed);
}

}  // namespace lip
