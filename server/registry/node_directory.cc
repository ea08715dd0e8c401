#include "server/registry/node_directory.h"

#include <algorithm>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

namespace lip {

NodeDirectory::NodeDirectory(NodeDirectoryOptions options) : options_(options) {}

absl::Status NodeDirectory::MayAct(const std::string& node_id, const Entry* entry,
                                   const NodeClaimant& claimant) {
  if (claimant.admin || claimant.named_in_certificate) return absl::OkStatus();
  if (claimant.certificate_name.empty()) {
    return absl::PermissionDeniedError(absl::StrCat(
        claimant.description, " may not act for node \"", node_id,
        "\": its certificate has no subject CN and names no node (lip://node/", node_id, ")"));
  }
  if (entry == nullptr) return absl::OkStatus();  // first registration binds it
  if (entry->bound_to_named) {
    return absl::PermissionDeniedError(absl::StrCat(
        claimant.description, " may not act for node \"", node_id,
        "\": it is bound to certificates naming it (lip://node/", node_id, ") and admins"));
  }
  if (!entry->bound_to.empty() && entry->bound_to != claimant.certificate_name) {
    return absl::PermissionDeniedError(absl::StrCat(
        claimant.description, " may not act for node \"", node_id,
        "\": it is bound to the certificate that registered it first"));
  }
  return absl::OkStatus();
}

absl::Status NodeDirectory::Register(const lip::v1::NodeInfo& node, absl::Time now,
                                     const NodeClaimant& claimant) {
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
  auto it = nodes_.find(node.node_id());
  const Entry* existing = it == nodes_.end() ? nullptr : &it->second;
  absl::Status allowed = MayAct(node.node_id(), existing, claimant);
  if (!allowed.ok()) return allowed;
  Entry entry;
  if (existing != nullptr) {
    entry.bound_to_named = existing->bound_to_named;
    entry.bound_to = existing->bound_to;
  }
  if (claimant.named_in_certificate) {
    entry.bound_to_named = true;
    entry.bound_to.clear();
  } else if (!claimant.admin) {
    entry.bound_to = claimant.certificate_name;  // binds a fresh or unbound entry; same name otherwise
  }
  entry.info = node;
  entry.info.set_last_heartbeat_unix_nanos(absl::ToUnixNanos(now));
  entry.info.set_alive(true);
  nodes_[node.node_id()] = std::move(entry);
  left_.erase(node.node_id());
  return absl::OkStatus();
}

absl::Status NodeDirectory::Heartbeat(const std::string& node_id, absl::Time now,
                                      const NodeClaimant& claimant) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = nodes_.find(node_id);
  if (it == nodes_.end()) {
    return absl::NotFoundError(absl::StrCat("node \"", node_id, "\" is not registered; register first"));
  }
  absl::Status allowed = MayAct(node_id, &it->second, claimant);
  if (!allowed.ok()) return allowed;
  it->second.info.set_last_heartbeat_unix_nanos(absl::ToUnixNanos(now));
  left_.erase(node_id);
  return absl::OkStatus();
}

absl::Status NodeDirectory::Leave(const std::string& node_id, const NodeClaimant& claimant) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = nodes_.find(node_id);
  if (it == nodes_.end()) {
    return absl::NotFoundError(absl::StrCat("node \"", node_id, "\" is not registered"));
  }
  absl::Status allowed = MayAct(node_id, &it->second, claimant);
  if (!allowed.ok()) return allowed;
  left_.insert(node_id);
  return absl::OkStatus();
}

std::vector<lip::v1::NodeInfo> NodeDirectory::List(lip::v1::NodeRole role, absl::Time now) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<lip::v1::NodeInfo> out;
  for (const auto& [id, entry] : nodes_) {
    const lip::v1::NodeInfo& node = entry.info;
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
  return it->second.info.role();
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
