// Which registered receivers may take a sender's messages.
//
// A receiver turns soft tokens into its embeddings with the receiver half of one
// bridge, so running the bridge's receiver model is not enough: a receiver of the
// same model that serves another bridge (or another version of this one) would
// answer, and answer wrongly. A sender therefore sends only to alive receivers
// that run the wanted model and serve the same bridge.
#ifndef LIP_SERVER_RECEIVER_SELECTION_H_
#define LIP_SERVER_RECEIVER_SELECTION_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "lip/v1/packet.pb.h"
#include "lip/v1/registry.pb.h"

namespace lip {

// True when `a` and `b` name the same bridge checkpoint: same name and version,
// and the same digest where both carry one.
bool SameBridge(const lip::v1::BridgeId& a, const lip::v1::BridgeId& b);

// The receivers among `nodes` that are alive, run the model named `model_name` and
// list `bridge` among their bridges, in registry order. UNAVAILABLE, saying what the
// registry does know, when none qualifies.
absl::StatusOr<std::vector<lip::v1::NodeInfo>> ReceiversServingBridge(
    const std::vector<lip::v1::NodeInfo>& nodes, const std::string& model_name,
    const lip::v1::BridgeId& bridge);

}  // namespace lip

#endif  // LIP_SERVER_RECEIVER_SELECTION_H_
