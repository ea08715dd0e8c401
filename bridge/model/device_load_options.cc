#include "bridge/model/device_load_options.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace lip {

absl::StatusOr<LoadOptions> LoadOptionsForDevice(const std::string& device, const std::string& activations) {
  if (activations != "fp32" && activations != "model") {
    return absl::InvalidArgumentError(
        absl::StrCat("--activations must be fp32 or model, got \"", activations, "\""));
  }
  LoadOptions options;
  if (device == "cpu") return options;
  int index = 0;
  if (device.rfind("cuda:", 0) == 0) {
    if (!absl::SimpleAtoi(device.substr(5), &index) || index < 0) {
      return absl::InvalidArgumentError(absl::StrCat("--device \"", device, "\": the GPU index must be a number >= 0"));
    }
  } else if (device != "cuda") {
    return absl::InvalidArgumentError(
        absl::StrCat("--device must be cpu, cuda or cuda:N, got \"", device, "\""));
  }
  if (!torch::cuda::is_available()) {
    return absl::FailedPreconditionError(absl::StrCat("--device=", device, ": no CUDA device available"));
  }
  const int count = static_cast<int>(torch::cuda::device_count());
  if (index >= count) {
    return absl::FailedPreconditionError(
        absl::StrCat("--device=", device, ": only ", count, " CUDA device(s) available"));
  }
  options.device = torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(index));
  options.dtype = torch::kBFloat16;
  options.fp32_activations = activations == "fp32";
  return options;
}

}  // namespace lip
