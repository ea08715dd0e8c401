// The bridge's identity structs (bridge/latent/bridge_config.h) as the lip.v1
// messages the nodes put in packets, answers and registrations. Header-only:
// plain field copies, shared by the receiver, the sender and their start-up.
#ifndef LIP_BRIDGE_LATENT_BRIDGE_PROTO_H_
#define LIP_BRIDGE_LATENT_BRIDGE_PROTO_H_

#include "bridge/latent/bridge_config.h"
#include "lip/v1/packet.pb.h"

namespace lip {

inline lip::v1::ModelId ModelIdToProto(const BridgeModelId& id) {
  lip::v1::ModelId out;
  out.set_family(id.family);
  out.set_name(id.name);
  out.set_revision(id.revision);
  out.set_weights_digest(id.weights_digest);
  return out;
}

inline lip::v1::BridgeId BridgeIdToProto(const BridgeMetadata& bridge) {
  lip::v1::BridgeId out;
  out.set_name(bridge.name);
  out.set_version(bridge.version);
  out.set_digest(bridge.digest);
  return out;
}

}  // namespace lip

#endif  // LIP_BRIDGE_LATENT_BRIDGE_PROTO_H_
