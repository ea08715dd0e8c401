// The bridges one sender node can fan a message out over (lip.v1.Sender.SendFanOut, protocol.md §13):
// its own bridge plus bridges to other receiver models that share its sender half — the same
// sender model and the same sender.safetensors (sender_file_digest), as lip-train
// --method=joint_receivers writes them. One encode then yields soft tokens every one of them
// reads; each packet carries its own bridge's id, receiver model, calibration and labels.
//
// Thread-safety: build before serving, then read-only (safe from any thread).
#ifndef LIP_SERVER_SENDER_FANOUT_BRIDGES_H_
#define LIP_SERVER_SENDER_FANOUT_BRIDGES_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "bridge/latent/bridge_config.h"

namespace lip {

class FanOutBridges {
 public:
  // `own`: the bridge the sender pipeline runs (its sender half encodes every fan-out).
  explicit FanOutBridges(BridgeMetadata own);

  // Adds a bridge to another receiver model. INVALID_ARGUMENT naming the bridge when its sender
  // half is not `own`'s (another sender model or weights, another sender half file, another
  // shape) or a bridge for its receiver model is already there.
  absl::Status Add(BridgeMetadata other);

  // The bridge for `receiver_model` (a model name, as BridgeMetadata::receiver_model.name).
  // NOT_FOUND naming the receiver models this sender can reach otherwise. The pointer lives as
  // long as this object.
  absl::StatusOr<const BridgeMetadata*> ForReceiver(const std::string& receiver_model) const;

  // The receiver model names, own bridge's first.
  std::vector<std::string> receiver_models() const;
  size_t size() const { return bridges_.size(); }

 private:
  std::vector<BridgeMetadata> bridges_;  // [0] = own
};

}  // namespace lip

#endif  // LIP_SERVER_SENDER_FANOUT_BRIDGES_H_
