#include "bridge/model/device_load_options.h"

#include "absl/strings/str_cat.h"

namespace lip {

absl::StatusOr<LoadOptions> LoadOptionsForDevice(const std::string& device) {
  LoadOptions options;
  if (device == "cpu") return options;
  if (device != "cuda") {
    return absl::InvalidArgumentError(absl::StrCat("--device must be cpu or cuda, got \"", device, "\""));
  }
  if (!torch::cuda::is_available()) return absl::FailedPreconditionError("--device=cuda: no CUDA device available");
  options.device = torch::Device(torch::kCUDA, 0);
  options.dtype = torch::kBFloat16;
  return options;
}

}  // namespace lip
