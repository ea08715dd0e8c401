#include "server/receiver_selection.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace lip {

bool SameBridge(const lip::v1::BridgeId& a, const lip::v1::BridgeId& b) {
  if (a.name() != b.name() || a.version() != b.version()) return false;
  return a.digest().empty() || b.digest().empty() || a.digest() == b.digest();
}

absl::StatusOr<std::vector<lip::v1::NodeInfo>> ReceiversServingBridge(
    const std::vector<lip::v1::NodeInfo>& nodes, const std::string& model_name,
    const lip::v1::BridgeId& bridge) {
  std::vector<lip::v1::NodeInfo> chosen;
  std::vector<std::string> other_bridges;  // what alive receivers of this model serve instead
  for (const lip::v1::NodeInfo& node : nodes) {
    if (node.role() != lip::v1::NODE_ROLE_RECEIVER || !node.alive() || node.model().name() != model_name) {
      continue;
    }
    bool serves = false;
    for (const lip::v1::BridgeId& served : node.bridges()) {
      if (SameBridge(served, bridge)) {
        serves = true;
      } else {
        other_bridges.push_back(absl::StrCat(node.node_id(), ": ", served.name(), " v", served.version()));
      }
    }
    if (serves) chosen.push_back(node);
  }
  if (!chosen.empty()) return chosen;
  if (other_bridges.empty()) {
    return absl::UnavailableError(
        absl::StrCat("the registry knows no alive receiver with model \"", model_name, "\""));
  }
  return absl::UnavailableError(absl::StrCat(
      "no alive receiver with model \"", model_name, "\" serves bridge ", bridge.name(), " v", bridge.version(),
      " (they serve ", absl::StrJoin(other_bridges, ", "), ")"));
}

}  // namespace lip
