// NodeDirectory: which nodes exist (registered with their role, address,
// model and bridges), whether each is alive (a heartbeat within
// `liveness_timeout`), and the link statistics nodes report.
//
// In memory on purpose: nodes re-register after a registry restart (a
// Heartbeat for an unknown node answers NOT_FOUND, which tells the node to
// register again). Link totals restart from zero with the registry.
//
// Node identity: every change to a node's entry (Register, Heartbeat, Leave)
// comes with a NodeClaimant saying who asks. A claimant whose certificate
// names the node id (lip://node/<id>) or an admin may always act; a
// certificate that names no node ids is bound, by its name (CN), to each node
// id it registers first, and may then act only for those. The binding is kept
// in the entry (so it lasts while the registry runs; nodes re-register after
// a registry restart and bind again). Checking and changing happen under one
// lock, so two certificates racing for a fresh id cannot both win.
//
// Knows nothing of gRPC. Thread-safe.
#ifndef LIP_SERVER_REGISTRY_NODE_DIRECTORY_H_
#define LIP_SERVER_REGISTRY_NODE_DIRECTORY_H_

#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "lip/v1/registry.pb.h"

namespace lip {

struct NodeDirectoryOptions {
  absl::Duration heartbeat_interval = absl::Seconds(1);  // told to nodes on registration
  absl::Duration liveness_timeout = absl::Seconds(3);    // no heartbeat for this long = dead
};

// Who asks to change a node's entry; the registry service fills it in from the
// caller's verified certificate after checking that certificate's role.
struct NodeClaimant {
  // An admin certificate: may act for any node; its registrations keep the
  // entry's binding as it was (a fresh entry stays unbound).
  bool admin = false;
  // The certificate names this node id (lip://node/<id>): may act for it; its
  // registration binds the entry to "certificates naming it" only.
  bool named_in_certificate = false;
  // Otherwise: the certificate's subject CN, the name an entry is bound to.
  std::string certificate_name;
  // For messages: the caller as PeerIdentity::ToString() says it.
  std::string description;
};

class NodeDirectory {
 public:
  explicit NodeDirectory(NodeDirectoryOptions options = {});

  // Adds or replaces a node (keyed by node_id) and counts as a heartbeat.
  // INVALID_ARGUMENT for an empty node_id/address or an unspecified role;
  // PERMISSION_DENIED when the entry is bound to another certificate (see above), or when
  // a certificate that names no node ids has no CN to bind to.
  absl::Status Register(const lip::v1::NodeInfo& node, absl::Time now, const NodeClaimant& claimant);
  // NOT_FOUND for a node that never registered (or registered before a restart);
  // PERMISSION_DENIED when the entry is bound to another certificate.
  absl::Status Heartbeat(const std::string& node_id, absl::Time now, const NodeClaimant& claimant);
  // Marks a node as gone (it stops gracefully): listed with alive = false until it registers
  // or heartbeats again. NOT_FOUND for an unknown node; PERMISSION_DENIED as for Heartbeat.
  absl::Status Leave(const std::string& node_id, const NodeClaimant& claimant);
  // Nodes of `role` (all for NODE_ROLE_UNSPECIFIED), with `alive` computed at `now`.
  std::vector<lip::v1::NodeInfo> List(lip::v1::NodeRole role, absl::Time now) const;
  // The registered role of a node, NOT_FOUND if unknown.
  absl::StatusOr<lip::v1::NodeRole> RoleOf(const std::string& node_id) const;

  // Adds one report to the per-(from, to) totals; returns the updated totals
  // of each link in the report.
  std::vector<lip::v1::LinkStats> AddLinkStats(const std::vector<lip::v1::LinkStats>& report);
  std::vector<lip::v1::LinkStats> LinkTotals() const;

  const NodeDirectoryOptions& options() const { return options_; }

 private:
  struct Entry {
    lip::v1::NodeInfo info;
    bool bound_to_named = false;  // registered by a certificate naming the id
    std::string bound_to;         // else the CN of the certificate that registered it; "" = unbound
  };
  // OK when `claimant` may act for `entry` (nullptr = no entry yet). Caller holds mu_.
  static absl::Status MayAct(const std::string& node_id, const Entry* entry,
                             const NodeClaimant& claimant);

  const NodeDirectoryOptions options_;
  mutable std::mutex mu_;
  std::map<std::string, Entry> nodes_;
  std::set<std::string> left_;  // nodes that left and have not come back
  std::map<std::pair<std::string, std::string>, lip::v1::LinkStats> links_;
};

}  // namespace lip

#endif  // LIP_SERVER_REGISTRY_NODE_DIRECTORY_H_
