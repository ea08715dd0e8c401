// The LoadOptions behind the tools' --device flag: "cpu" runs the model in fp32, "cuda" in bf16 on
// the first GPU (fp32 activations, see LoadOptions). One place, so lip-train, lip-eval and
// lip-vector-bridge load the frozen models identically for the same flag.
#ifndef LIP_BRIDGE_MODEL_DEVICE_LOAD_OPTIONS_H_
#define LIP_BRIDGE_MODEL_DEVICE_LOAD_OPTIONS_H_

#include <string>

#include "absl/status/statusor.h"
#include "bridge/model/decoder_model.h"

namespace lip {

// INVALID_ARGUMENT for anything but "cpu" / "cuda"; FAILED_PRECONDITION for "cuda" when LibTorch
// sees no CUDA device.
absl::StatusOr<LoadOptions> LoadOptionsForDevice(const std::string& device);

}  // namespace lip

#endif  // LIP_BRIDGE_MODEL_DEVICE_LOAD_OPTIONS_H_
