// The LoadOptions behind the tools' and nodes' --device flag: "cpu" runs the model in fp32, "cuda" or
// "cuda:N" in bf16 on that GPU (the first for plain "cuda"). `activations` chooses, on CUDA, between
// fp32 activations ("fp32", the default: the parity mode, see LoadOptions::fp32_activations) and
// activations in the weights' bf16 ("model": as transformers' bf16 models compute; faster, and what the
// real-scale benchmarks use). One place, so lip-train, lip-eval, lip-vector-bridge and the nodes load
// the frozen models identically for the same flags.
#ifndef LIP_BRIDGE_MODEL_DEVICE_LOAD_OPTIONS_H_
#define LIP_BRIDGE_MODEL_DEVICE_LOAD_OPTIONS_H_

#include <string>

#include "absl/status/statusor.h"
#include "bridge/model/decoder_model.h"

namespace lip {

// INVALID_ARGUMENT for a device other than "cpu" / "cuda" / "cuda:N" or activations other than
// "fp32" / "model"; FAILED_PRECONDITION for CUDA when LibTorch sees no CUDA device or fewer than N+1.
absl::StatusOr<LoadOptions> LoadOptionsForDevice(const std::string& device,
                                                 const std::string& activations = "fp32");

}  // namespace lip

#endif  // LIP_BRIDGE_MODEL_DEVICE_LOAD_OPTIONS_H_
