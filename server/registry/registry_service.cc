#include "server/registry/registry_service.h"

#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "common/node/logging.h"
#include "common/node/peer_identity.h"
#include "common/wire/status_macros.h"

namespace lip {
namespace {

constexpr char kComponent[] = "registry";

const Role kAnyRole[] = {Role::kAdmin, Role::kRegistry, Role::kSender, Role::kReceiver};

// The certificate role that may act for a node of `role` (besides admin, which may act for any).
Role CertificateRoleFor(lip::v1::NodeRole role) {
  switch (role) {
    case lip::v1::NODE_ROLE_SENDER: return Role::kSender;
    case lip::v1::NODE_ROLE_RECEIVER: return Role::kReceiver;
    case lip::v1::NODE_ROLE_REGISTRY: return Role::kRegistry;
    default: return Role::kAdmin;
  }
}

// Logs a PERMISSION_DENIED `status` of a node's own request (heartbeat, leave) and passes it on.
absl::Status LogRefusal(const char* what, const std::string& node_id, absl::Status status) {
  if (status.code() == absl::StatusCode::kPermissionDenied) {
    LogWarning(kComponent, what, {{"node_id", node_id}, {"error", std::string(status.message())}});
  }
  return status;
}

}  // namespace

RegistryService::RegistryService(BridgeStore* store, NodeDirectory* directory,
                                 metrics::Registry* metrics, RegistryServiceOptions options)
    : store_(store),
      directory_(directory),
      options_(options),
      rpc_(*metrics, "lip.v1.Registry"),
      bridges_(metrics::BuildGauge().Name("lip_registry_bridges")
                   .Help("Bridge checkpoints stored (all versions)").Register(*metrics).Add({})),
      upload_bytes_(metrics::BuildCounter().Name("lip_registry_upload_bytes_total")
                        .Help("Checkpoint bytes received by PutBridge").Register(*metrics).Add({})),
      download_bytes_(metrics::BuildCounter().Name("lip_registry_download_bytes_total")
                          .Help("Checkpoint bytes sent by GetBridge").Register(*metrics).Add({})),
      link_messages_(metrics::BuildCounter().Name("lip_registry_link_messages_total")
                         .Help("Messages reported per link").Register(*metrics)),
      link_errors_(metrics::BuildCounter().Name("lip_registry_link_errors_total")
                       .Help("Failed messages reported per link").Register(*metrics)),
      link_bytes_(metrics::BuildCounter().Name("lip_registry_link_bytes_total")
                      .Help("Wire bytes reported per link").Register(*metrics)),
      link_latency_sum_(metrics::BuildCounter().Name("lip_registry_link_latency_ms_sum_total")
                            .Help("Summed round-trip latency reported per link (ms)").Register(*metrics)),
      link_latency_mean_(metrics::BuildGauge().Name("lip_registry_link_latency_ms_mean")
                             .Help("Mean round-trip latency per link (ms)").Register(*metrics)),
      link_latency_max_(metrics::BuildGauge().Name("lip_registry_link_latency_ms_max")
                            .Help("Largest round-trip latency seen per link (ms)").Register(*metrics)),
      link_bandwidth_(metrics::BuildGauge().Name("lip_registry_link_bandwidth_bytes_per_second")
                          .Help("Wire bytes per second of summed latency, per link").Register(*metrics)) {
  RefreshBridgeCount();
}

void RegistryService::RefreshBridgeCount() {
  auto all = store_->List("");
  if (all.ok()) bridges_.Set(static_cast<double>(all->size()));
}

absl::Status RegistryService::Authorize(grpc::ServerContext* context,
                                        absl::Span<const Role> allowed, const char* action,
                                        PeerIdentity* peer_out) {
  auto peer = PeerIdentityFromContext(*context, options_.insecure);
  if (!peer.ok()) return peer.status();
  absl::Status allowed_status = RequireRole(*peer, allowed, action);
  if (!allowed_status.ok()) {
    LogWarning(kComponent, "refused", {{"peer", peer->ToString()}, {"action", action}});
    return allowed_status;
  }
  if (peer_out != nullptr) *peer_out = *std::move(peer);
  return absl::OkStatus();
}

grpc::Status RegistryService::PutBridge(grpc::ServerContext* context,
                                        grpc::ServerReader<lip::v1::PutBridgeChunk>* reader,
                                        lip::v1::PutBridgeResponse* response) {
  PeerIdentity peer;
  auto authorize = [&] { return Authorize(context, {Role::kAdmin}, "write the registry", &peer); };
  return rpc_.Serve(context, "PutBridge", authorize, [&]() -> absl::Status {
    lip::v1::PutBridgeChunk chunk;
    if (!reader->Read(&chunk) || !chunk.has_header()) {
      return absl::InvalidArgumentError("PutBridge: the first message must carry the header");
    }
    LIP_ASSIGN_OR_RETURN(auto upload, store_->BeginUpload(chunk.header()));
    while (reader->Read(&chunk)) {
      if (!chunk.has_data()) {
        return absl::InvalidArgumentError("PutBridge: only the first message may carry a header");
      }
      LIP_RETURN_IF_ERROR(upload->Append(chunk.data()));
      upload_bytes_.Increment(static_cast<double>(chunk.data().size()));
    }
    if (context->IsCancelled()) return absl::CancelledError("upload cancelled by the client");
    LIP_ASSIGN_OR_RETURN(*response->mutable_record(), upload->Commit());
    const lip::v1::BridgeRecord& record = response->record();
    RefreshBridgeCount();
    LogInfo(kComponent, "stored bridge",
            {{"name", record.id().name()}, {"version", record.id().version()},
             {"digest", record.id().digest()}, {"task", record.task()},
             {"bytes", upload->bytes_received()}, {"by", peer.ToString()}});
    return absl::OkStatus();
  });
}

grpc::Status RegistryService::GetBridge(grpc::ServerContext* context,
                                        const lip::v1::GetBridgeRequest* request,
                                        grpc::ServerWriter<lip::v1::BridgeChunk>* writer) {
  auto authorize = [&] { return Authorize(context, kAnyRole, "read bridges"); };
  return rpc_.Serve(context, "GetBridge", authorize, [&] { return WriteBridge(*request, context, writer); });
}

absl::Status RegistryService::WriteBridge(const lip::v1::GetBridgeRequest& request,
                                          grpc::ServerContext* context,
                                          grpc::ServerWriter<lip::v1::BridgeChunk>* writer) {
  LIP_ASSIGN_OR_RETURN(const lip::v1::BridgeRecord record, store_->Get(request.name(), request.version()));
  // The header lists exactly the files that follow, in order.
  lip::v1::BridgeChunk header;
  *header.mutable_header() = record;
  header.mutable_header()->clear_files();
  std::vector<std::pair<lip::v1::BridgeFile, std::string>> files;
  for (const auto& file : record.files()) {
    bool wanted = request.files().empty();
    for (const auto& name : request.files()) wanted = wanted || name == file.name();
    if (!wanted) continue;
    LIP_ASSIGN_OR_RETURN(std::string path, store_->FilePath(record, file.name()));
    files.emplace_back(file, std::move(path));
    *header.mutable_header()->add_files() = file;
  }
  for (const auto& name : request.files()) {
    bool known = false;
    for (const auto& file : record.files()) known = known || file.name() == name;
    if (!known) {
      return absl::NotFoundError(absl::StrCat("bridge \"", record.id().name(), "\" version ",
                                              record.id().version(), " has no file \"", name, "\""));
    }
  }
  if (!writer->Write(header)) return absl::CancelledError("client went away");
  std::string buffer(options_.download_chunk_bytes, '\0');
  for (const auto& [file, path] : files) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return absl::DataLossError(absl::StrCat("stored file \"", file.name(), "\" is unreadable"));
    uint64_t sent = 0;
    while (sent < file.size_bytes()) {
      in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
      const std::streamsize got = in.gcount();
      if (got <= 0) break;
      lip::v1::BridgeChunk data;
      data.set_data(buffer.data(), static_cast<size_t>(got));
      if (context->IsCancelled() || !writer->Write(data)) return absl::CancelledError("client went away");
      sent += static_cast<uint64_t>(got);
      download_bytes_.Increment(static_cast<double>(got));
    }
    if (sent != file.size_bytes()) {
      return absl::DataLossError(absl::StrCat("stored file \"", file.name(), "\" has ", sent,
                                              " bytes, record says ", file.size_bytes()));
    }
  }
  return absl::OkStatus();
}

grpc::Status RegistryService::ResolveBridge(grpc::ServerContext* context,
                                            const lip::v1::ResolveBridgeRequest* request,
                                            lip::v1::BridgeRecord* response) {
  auto authorize = [&] { return Authorize(context, kAnyRole, "resolve bridges"); };
  return rpc_.Serve(context, "ResolveBridge", authorize, [&]() -> absl::Status {
    LIP_ASSIGN_OR_RETURN(*response,
                         store_->Resolve(request->sender_model(), request->receiver_model(), request->task()));
    return absl::OkStatus();
  });
}

grpc::Status RegistryService::ListBridges(grpc::ServerContext* context,
                                          const lip::v1::ListBridgesRequest* request,
                                          lip::v1::ListBridgesResponse* response) {
  auto authorize = [&] { return Authorize(context, kAnyRole, "list bridges"); };
  return rpc_.Serve(context, "ListBridges", authorize, [&]() -> absl::Status {
    LIP_ASSIGN_OR_RETURN(auto records, store_->List(request->name()));
    for (auto& record : records) *response->add_bridges() = std::move(record);
    return absl::OkStatus();
  });
}

grpc::Status RegistryService::RegisterNode(grpc::ServerContext* context,
                                           const lip::v1::RegisterNodeRequest* request,
                                           lip::v1::RegisterNodeResponse* response) {
  const lip::v1::NodeInfo& node = request->node();
  PeerIdentity peer;
  auto authorize = [&] {
    return Authorize(context, {CertificateRoleFor(node.role()), Role::kAdmin},
                     absl::StrCat("register a node with role ", lip::v1::NodeRole_Name(node.role())).c_str(),
                     &peer);  // Authorize logs a refusal
  };
  return rpc_.Serve(context, "RegisterNode", authorize, [&]() -> absl::Status {
    auto claimant = ClaimantFor(peer, node.node_id());
    const absl::Status status =
        claimant.ok() ? directory_->Register(node, absl::Now(), *claimant) : claimant.status();
    if (status.code() == absl::StatusCode::kPermissionDenied) {
      LogWarning(kComponent, "registration refused",
                 {{"node_id", node.node_id()}, {"by", peer.ToString()},
                  {"error", std::string(status.message())}});
    }
    LIP_RETURN_IF_ERROR(status);
    response->set_heartbeat_interval_ms(
        static_cast<uint32_t>(absl::ToInt64Milliseconds(directory_->options().heartbeat_interval)));
    LogInfo(kComponent, "node registered",
            {{"node_id", node.node_id()}, {"role", lip::v1::NodeRole_Name(node.role())},
             {"address", node.address()}, {"model", node.model().name()}, {"by", peer.ToString()}});
    return absl::OkStatus();
  });
}

absl::StatusOr<NodeClaimant> RegistryService::ClaimantFor(const PeerIdentity& peer,
                                                          const std::string& node_id) const {
  NodeClaimant claimant;
  claimant.description = peer.ToString();
  claimant.admin = peer.Has(Role::kAdmin);  // also every caller of an --insecure registry
  if (claimant.admin) return claimant;
  if (peer.NamesNodes()) {
    if (!peer.Names(node_id)) {
      std::vector<std::string> named(peer.node_ids.begin(), peer.node_ids.end());
      return absl::PermissionDeniedError(absl::StrCat(
          peer.ToString(), " may not act for node \"", node_id,
          "\": its certificate names only node(s) ", absl::StrJoin(named, ", ")));
    }
    claimant.named_in_certificate = true;
    return claimant;
  }
  claimant.certificate_name = peer.common_name;
  return claimant;
}

absl::Status RegistryService::AuthorizeForNode(grpc::ServerContext* context,
                                               const std::string& node_id, const char* action,
                                               NodeClaimant* claimant) {
  // Strangers (no LIP role) learn nothing, not even whether the node exists.
  PeerIdentity peer;
  absl::Status status = Authorize(context, kAnyRole, action, &peer);
  if (!status.ok()) return status;
  auto registered_role = directory_->RoleOf(node_id);
  if (!registered_role.ok()) return registered_role.status();
  // Only the node's own role (or an admin) may act for it...
  status = Authorize(context, {CertificateRoleFor(*registered_role), Role::kAdmin},
                     absl::StrCat(action, " (a node with role ",
                                  lip::v1::NodeRole_Name(*registered_role), ")").c_str());
  if (!status.ok()) return status;
  // ...and only for a node its certificate names or is bound to (the directory checks that).
  auto made = ClaimantFor(peer, node_id);
  if (!made.ok()) return made.status();  // the caller logs refusals
  *claimant = *std::move(made);
  return absl::OkStatus();
}

grpc::Status RegistryService::Heartbeat(grpc::ServerContext* context,
                                        const lip::v1::HeartbeatRequest* request,
                                        lip::v1::HeartbeatResponse* /*response*/) {
  const std::string& node_id = request->node_id();
  NodeClaimant claimant;
  auto authorize = [&] {
    return LogRefusal("heartbeat refused", node_id,
                      AuthorizeForNode(context, node_id, "send heartbeats", &claimant));
  };
  return rpc_.Serve(context, "Heartbeat", authorize, [&] {
    return LogRefusal("heartbeat refused", node_id, directory_->Heartbeat(node_id, absl::Now(), claimant));
  });
}

grpc::Status RegistryService::Leave(grpc::ServerContext* context, const lip::v1::LeaveRequest* request,
                                    lip::v1::LeaveResponse* /*response*/) {
  const std::string& node_id = request->node_id();
  NodeClaimant claimant;
  auto authorize = [&] {
    return LogRefusal("leave refused", node_id, AuthorizeForNode(context, node_id, "take a node out", &claimant));
  };
  return rpc_.Serve(context, "Leave", authorize, [&]() -> absl::Status {
    LIP_RETURN_IF_ERROR(LogRefusal("leave refused", node_id, directory_->Leave(node_id, claimant)));
    LogInfo(kComponent, "node left", {{"node_id", node_id}});
    return absl::OkStatus();
  });
}

grpc::Status RegistryService::ListNodes(grpc::ServerContext* context,
                                        const lip::v1::ListNodesRequest* request,
                                        lip::v1::ListNodesResponse* response) {
  auto authorize = [&] { return Authorize(context, kAnyRole, "list nodes"); };
  return rpc_.Serve(context, "ListNodes", authorize, [&] {
    for (auto& node : directory_->List(request->role(), absl::Now())) *response->add_nodes() = std::move(node);
    return absl::OkStatus();
  });
}

grpc::Status RegistryService::ReportLinkStats(grpc::ServerContext* context,
                                              const lip::v1::ReportLinkStatsRequest* request,
                                              lip::v1::ReportLinkStatsResponse* /*response*/) {
  auto authorize = [&] {
    return Authorize(context, {Role::kAdmin, Role::kSender, Role::kReceiver}, "report link statistics");
  };
  return rpc_.Serve(context, "ReportLinkStats", authorize, [&] { return AddLinkStats(*request); });
}

absl::Status RegistryService::AddLinkStats(const lip::v1::ReportLinkStatsRequest& request) {
  std::vector<lip::v1::LinkStats> report(request.links().begin(), request.links().end());
  for (const auto& link : report) {
    if (link.from_node().empty() || link.to_node().empty()) {
      return absl::InvalidArgumentError("link statistics need from_node and to_node");
    }
  }
  for (const auto& link : report) {
    const metrics::Labels labels = {{"from", link.from_node()}, {"to", link.to_node()}};
    link_messages_.Add(labels).Increment(static_cast<double>(link.messages()));
    link_errors_.Add(labels).Increment(static_cast<double>(link.errors()));
    link_bytes_.Add(labels).Increment(static_cast<double>(link.bytes()));
    link_latency_sum_.Add(labels).Increment(link.latency_ms_sum());
  }
  for (const auto& total : directory_->AddLinkStats(report)) {
    const metrics::Labels labels = {{"from", total.from_node()}, {"to", total.to_node()}};
    if (total.messages() > 0) {
      link_latency_mean_.Add(labels).Set(total.latency_ms_sum() / static_cast<double>(total.messages()));
    }
    link_latency_max_.Add(labels).Set(total.latency_ms_max());
    if (total.latency_ms_sum() > 0) {
      link_bandwidth_.Add(labels).Set(static_cast<double>(total.bytes()) /
                                      (total.latency_ms_sum() / 1000.0));
    }
  }
  return absl::OkStatus();
}

grpc::Status RegistryService::GetLinkStats(grpc::ServerContext* context,
                                           const lip::v1::GetLinkStatsRequest* /*request*/,
                                           lip::v1::GetLinkStatsResponse* response) {
  auto authorize = [&] { return Authorize(context, kAnyRole, "read link statistics"); };
  return rpc_.Serve(context, "GetLinkStats", authorize, [&] {
    for (auto& link : directory_->LinkTotals()) *response->add_links() = std::move(link);
    return absl::OkStatus();
  });
}

}  // namespace lip
