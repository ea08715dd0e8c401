// NodeDirectory: which nodes exist (registered with their role, address,
// model and bridges), whether each is alive (a heartbeat within
// `liveness_timeout`), and the link statistics nodes report.
//
// In memory on purpose: nodes re-register after a registry restart (a
// Heartbeat for an unknown node answers NOT_FOUND, which tells the node to
// register again). Link totals restart from zero with the registry.
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

class NodeDirectory {
 public:
  explicit NodeDirectory(NodeDirectoryOptions options = {});

  // Adds or replaces a node (keyed by node_id) and counts as a heartbeat.
  // INVALID_ARGUMENT for an empty node_id/address or an unspecified role.
  absl::Status Register(const lip::v1::NodeInfo& node, absl::Time now);
  // NOT_FOUND for a node that never registered (or registered before a restart).
  absl::Status Heartbeat(const std::string& node_id, absl::Time now);
  // Marks a node as gone (it stops gracefully): listed with alive = false until it registers
  // or heartbeats again. NOT_FOUND for an unknown node.
  absl::Status Leave(const std::string& node_id);
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
  const NodeDirectoryOptions options_;
  mutable std::mutex mu_;
  std::map<std::string, lip::v1::NodeInfo> nodes_;
  std::set<std::string> left_;  // nodes that left and have not come back
  std::map<std::pair<std::string, std::string>, lip::v1::LinkStats> links_;
};

}  // namespace lip

#endif  // LIP_SERVER_REGISTRY_NODE_DIRECTORY_H_
