#include "server/registry/node_directory.h"

#include <algorithm>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

namespace lip {

NodeDirectory::NodeDirectory(NodeDirectoryOptions options) : options_(options) {}

absl::Status NodeDirectory::Register(const lip::v1::NodeInfo& node, absl::Time now) {
  if (node.node_id().empty() || node.node_id().size() > 256) {
    return absl::InvalidArgumentError(
        absl::StrCat("node_id must be 1..256 bytes, got ", node.node_id().size()));
  }
  if (node.role() == lip::v1::NODE_ROLE_UNSPECIFIED || !lip::v1::NodeRole_IsValid(node.role())) {
    return absl::InvalidArgumentError(
        absl::StrCat("node \"", node.node_id(), "\" has role ", node.role(), ", expected sender, receiver or registry"));
  }
  if (node.address().empty()) {
    return absl::InvalidArgumentError(absl::StrCat("node \"", node.node_id(), "\" has no address"));
  }
  std::lock_guard<std::mutex> lock(mu_);
  lip::v1::NodeInfo stored = node;
  stored.set_last_heartbeat_unix_nanos(absl::ToUnixNanos(now));
  stored.set_alive(true);
  nodes_[node.node_id()] = std::move(stored);
  left_.erase(node.node_id());
  return absl::OkStatus();
}

absl::Status NodeDirectory::Heartbeat(const std::string& node_id, absl::Time now) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = nodes_.find(node_id);
  if (it == nodes_.end()) {
    return absl::NotFoundError(absl::StrCat("node \"", node_id, "\" is not registered; register first"));
  }
  it->second.set_last_heartbeat_unix_nanos(absl::ToUnixNanos(now));
  left_.erase(node_id);
  return absl::OkStatus();
}

absl::Status NodeDirectory::Leave(const std::string& node_id) {
  std::lock_guard<std::mutex> lock(mu_);
  if (nodes_.find(node_id) == nodes_.end()) {
    return absl::NotFoundError(absl::StrCat("node \"", node_id, "\" is not registered"));
  }
  left_.insert(node_id);
  return absl::OkStatus();
}

std::vector<lip::v1::NodeInfo> NodeDirectory::List(lip::v1::NodeRole role, absl::Time now) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<lip::v1::NodeInfo> out;
  for (const auto& [id, node] : nodes_) {
    if (role != lip::v1::NODE_ROLE_UNSPECIFIED && node.role() != role) continue;
    lip::v1::NodeInfo copy = node;
    copy.set_alive(left_.count(id) == 0 &&
                   now - absl::FromUnixNanos(node.last_heartbeat_unix_nanos()) <= options_.liveness_timeout);
    out.push_back(std::move(copy));
  }
  return out;
}

absl::StatusOr<lip::v1::NodeRole> NodeDirectory::RoleOf(const std::string& node_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = nodes_.find(node_id);
  if (it == nodes_.end()) return absl::NotFoundError(absl::StrCat("node \"", node_id, "\" is not registered"));
  return it->second.role();
}

std::vector<lip::v1::LinkStats> NodeDirectory::AddLinkStats(
    const std::vector<lip::v1::LinkStats>& report) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<lip::v1::LinkStats> updated;
  for (const auto& link : report) {
    lip::v1::LinkStats& total = links_[{link.from_node(), link.to_node()}];
    total.set_from_node(link.from_node());
    total.set_to_node(link.to_node());
    total.set_messages(total.messages() + link.messages());
    total.set_errors(total.errors() + link.errors());
    total.set_bytes(total.bytes() + link.bytes());
    total.set_latency_ms_sum(total.latency_ms_sum() + link.latency_ms_sum());
    total.set_latency_ms_max(std::max(total.latency_ms_max(), link.latency_ms_max()));
    updated.push_back(total);
  }
  return updated;
}

std::vector<lip::v1::LinkStats> NodeDirectory::LinkTotals() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<lip::v1::LinkStats> out;
  for (const auto& [key, link] : links_) out.push_back(link);
  return out;
}

}  // namespace lip
