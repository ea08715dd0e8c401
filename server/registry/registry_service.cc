#include "server/registry/registry_service.h"

#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "common/node/grpc_status.h"
#include "common/node/logging.h"
#include "common/node/peer_identity.h"

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

}  // namespace

RegistryService::RegistryService(BridgeStore* store, NodeDirectory* directory,
                                 metrics::Registry* metrics, RegistryServiceOptions options)
    : store_(store),
      directory_(directory),
      options_(options),
      rpc_metrics_(*metrics, "lip.v1.Registry"),
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
  RpcTimer timer(rpc_metrics_, "PutBridge");
  PeerIdentity peer;
  absl::Status status = Authorize(context, {Role::kAdmin}, "write the registry", &peer);
  if (!status.ok()) return timer.Finish(ToGrpcStatus(status, context));

  lip::v1::PutBridgeChunk chunk;
  if (!reader->Read(&chunk) || !chunk.has_header()) {
    return timer.Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                     "PutBridge: the first message must carry the header"));
  }
  auto upload = store_->BeginUpload(chunk.header());
  if (!upload.ok()) return timer.Finish(ToGrpcStatus(upload.status(), context));
  while (reader->Read(&chunk)) {
    if (!chunk.has_data()) {
      return timer.Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                       "PutBridge: only the first message may carry a header"));
    }
    status = (*upload)->Append(chunk.data());
    if (!status.ok()) return timer.Finish(ToGrpcStatus(status, context));
    upload_bytes_.Increment(static_cast<double>(chunk.data().size()));
  }
  if (context->IsCancelled()) {
    return timer.Finish(grpc::Status(grpc::StatusCode::CANCELLED, "upload cancelled by the client"));
  }
  auto record = (*upload)->Commit();
  if (!record.ok()) return timer.Finish(ToGrpcStatus(record.status(), context));
  *response->mutable_record() = *record;
  RefreshBridgeCount();
  LogInfo(kComponent, "stored bridge",
          {{"name", record->id().name()}, {"version", record->id().version()},
           {"digest", record->id().digest()}, {"task", record->task()},
           {"bytes", (*upload)->bytes_received()}, {"by", peer.ToString()}});
  return timer.Finish(grpc::Status::OK);
}

grpc::Status RegistryService::GetBridge(grpc::ServerContext* context,
                                        const lip::v1::GetBridgeRequest* request,
                                        grpc::ServerWriter<lip::v1::BridgeChunk>* writer) {
  RpcTimer timer(rpc_metrics_, "GetBridge");
  absl::Status status = Authorize(context, kAnyRole, "read bridges");
  if (!status.ok()) return timer.Finish(ToGrpcStatus(status, context));
  auto record = store_->Get(request->name(), request->version());
  if (!record.ok()) return timer.Finish(ToGrpcStatus(record.status(), context));

  // The header lists exactly the files that follow, in order.
  lip::v1::BridgeChunk header;
  *header.mutable_header() = *record;
  header.mutable_header()->clear_files();
  std::vector<std::pair<lip::v1::BridgeFile, std::string>> files;
  for (const auto& file : record->files()) {
    bool wanted = request->files().empty();
    for (const auto& name : request->files()) wanted = wanted || name == file.name();
    if (!wanted) continue;
    auto path = store_->FilePath(*record, file.name());
    if (!path.ok()) return timer.Finish(ToGrpcStatus(path.status(), context));
    files.emplace_back(file, *path);
    *header.mutable_header()->add_files() = file;
  }
  for (const auto& name : request->files()) {
    bool known = false;
    for (const auto& file : record->files()) known = known || file.name() == name;
    if (!known) {
      return timer.Finish(ToGrpcStatus(
          absl::NotFoundError(absl::StrCat("bridge \"", record->id().name(), "\" version ",
                                           record->id().version(), " has no file \"", name, "\"")),
          context));
    }
  }
  if (!writer->Write(header)) return timer.Finish(grpc::Status(grpc::StatusCode::CANCELLED, "client went away"));
  std::string buffer(options_.download_chunk_bytes, '\0');
  for (const auto& [file, path] : files) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      return timer.Finish(grpc::Status(grpc::StatusCode::DATA_LOSS,
                                       absl::StrCat("stored file \"", file.name(), "\" is unreadable")));
    }
    uint64_t sent = 0;
    while (sent < file.size_bytes()) {
      in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
      const std::streamsize got = in.gcount();
      if (got <= 0) break;
      lip::v1::BridgeChunk data;
      data.set_data(buffer.data(), static_cast<size_t>(got));
      if (context->IsCancelled() || !writer->Write(data)) {
        return timer.Finish(grpc::Status(grpc::StatusCode::CANCELLED, "client went away"));
      }
      sent += static_cast<uint64_t>(got);
      download_bytes_.Increment(static_cast<double>(got));
    }
    if (sent != file.size_bytes()) {
      return timer.Finish(grpc::Status(
          grpc::StatusCode::DATA_LOSS,
          absl::StrCat("stored file \"", file.name(), "\" has ", sent, " bytes, record says ",
                       file.size_bytes())));
    }
  }
  return timer.Finish(grpc::Status::OK);
}

grpc::Status RegistryService::ResolveBridge(grpc::ServerContext* context,
                                            const lip::v1::ResolveBridgeRequest* request,
                                            lip::v1::BridgeRecord* response) {
  RpcTimer timer(rpc_metrics_, "ResolveBridge");
  absl::Status status = Authorize(context, kAnyRole, "resolve bridges");
  if (!status.ok()) return timer.Finish(ToGrpcStatus(status, context));
  auto record = store_->Resolve(request->sender_model(), request->receiver_model(), request->task());
  if (!record.ok()) return timer.Finish(ToGrpcStatus(record.status(), context));
  *response = *std::move(record);
  return timer.Finish(grpc::Status::OK);
}

grpc::Status RegistryService::ListBridges(grpc::ServerContext* context,
                                          const lip::v1::ListBridgesRequest* request,
                                          lip::v1::ListBridgesResponse* response) {
  RpcTimer timer(rpc_metrics_, "ListBridges");
  absl::Status status = Authorize(context, kAnyRole, "list bridges");
  if (!status.ok()) return timer.Finish(ToGrpcStatus(status, context));
  auto records = store_->List(request->name());
  if (!records.ok()) return timer.Finish(ToGrpcStatus(records.status(), context));
  for (auto& record : *records) *response->add_bridges() = std::move(record);
  return timer.Finish(grpc::Status::OK);
}

grpc::Status RegistryService::RegisterNode(grpc::ServerContext* context,
                                           const lip::v1::RegisterNodeRequest* request,
                                           lip::v1::RegisterNodeResponse* response) {
  RpcTimer timer(rpc_metrics_, "RegisterNode");
  PeerIdentity peer;
  absl::Status status = Authorize(
      context, {CertificateRoleFor(request->node().role()), Role::kAdmin},
      absl::StrCat("register a node with role ", lip::v1::NodeRole_Name(request->node().role())).c_str(),
      &peer);
  if (!status.ok()) return timer.Finish(ToGrpcStatus(status, context));  // Authorize logged it
  auto claimant = ClaimantFor(peer, request->node().node_id());
  status = claimant.ok() ? directory_->Register(request->node(), absl::Now(), *claimant)
                         : claimant.status();
  if (!status.ok()) {
    if (status.code() == absl::StatusCode::kPermissionDenied) {
      LogWarning(kComponent, "registration refused",
                 {{"node_id", request->node().node_id()}, {"by", peer.ToString()},
                  {"error", std::string(status.message())}});
    }
    return timer.Finish(ToGrpcStatus(status, context));
  }
  response->set_heartbeat_interval_ms(
      static_cast<uint32_t>(absl::ToInt64Milliseconds(directory_->options().heartbeat_interval)));
  LogInfo(kComponent, "node registered",
          {{"node_id", request->node().node_id()},
           {"role", lip::v1::NodeRole_Name(request->node().role())},
           {"address", request->node().address()}, {"model", request->node().model().name()},
           {"by", peer.ToString()}});
  return timer.Finish(grpc::Status::OK);
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
  RpcTimer timer(rpc_metrics_, "Heartbeat");
  NodeClaimant claimant;
  absl::Status status = AuthorizeForNode(context, request->node_id(), "send heartbeats", &claimant);
  if (status.ok()) status = directory_->Heartbeat(request->node_id(), absl::Now(), claimant);
  if (status.code() == absl::StatusCode::kPermissionDenied) {
    LogWarning(kComponent, "heartbeat refused",
               {{"node_id", request->node_id()}, {"error", std::string(status.message())}});
  }
  return timer.Finish(ToGrpcStatus(status, context));
}

grpc::Status RegistryService::Leave(grpc::ServerContext* context, const lip::v1::LeaveRequest* request,
                                    lip::v1::LeaveResponse* /*response*/) {
  RpcTimer timer(rpc_metrics_, "Leave");
  NodeClaimant claimant;
  absl::Status status = AuthorizeForNode(context, request->node_id(), "take a node out", &claimant);
  if (status.ok()) status = directory_->Leave(request->node_id(), claimant);
  if (status.ok()) LogInfo(kComponent, "node left", {{"node_id", request->node_id()}});
  if (status.code() == absl::StatusCode::kPermissionDenied) {
    LogWarning(kComponent, "leave refused",
               {{"node_id", request->node_id()}, {"error", std::string(status.message())}});
  }
  return timer.Finish(ToGrpcStatus(status, context));
}

grpc::Status RegistryService::ListNodes(grpc::ServerContext* context,
                                        const lip::v1::ListNodesRequest* request,
                                        lip::v1::ListNodesResponse* response) {
  RpcTimer timer(rpc_metrics_, "ListNodes");
  absl::Status status = Authorize(context, kAnyRole, "list nodes");
  if (!status.ok()) return timer.Finish(ToGrpcStatus(status, context));
  for (auto& node : directory_->List(request->role(), absl::Now())) {
    *response->add_nodes() = std::move(node);
  }
  return timer.Finish(grpc::Status::OK);
}

grpc::Status RegistryService::ReportLinkStats(grpc::ServerContext* context,
                                              const lip::v1::ReportLinkStatsRequest* request,
                                              lip::v1::ReportLinkStatsResponse* /*response*/) {
  RpcTimer timer(rpc_metrics_, "ReportLinkStats");
  absl::Status status =
      Authorize(context, {Role::kAdmin, Role::kSender, Role::kReceiver}, "report link statistics");
  if (!status.ok()) return timer.Finish(ToGrpcStatus(status, context));
  std::vector<lip::v1::LinkStats> report(request->links().begin(), request->links().end());
  for (const auto& link : report) {
    if (link.from_node().empty() || link.to_node().empty()) {
      return timer.Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                       "link statistics need from_node and to_node"));
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
  return timer.Finish(grpc::Status::OK);
}

grpc::Status RegistryService::GetLinkStats(grpc::ServerContext* context,
                                           const lip::v1::GetLinkStatsRequest* /*request*/,
                                           lip::v1::GetLinkStatsResponse* response) {
  RpcTimer timer(rpc_metrics_, "GetLinkStats");
  absl::Status status = Authorize(context, kAnyRole, "read link statistics");
  if (!status.ok()) return timer.Finish(ToGrpcStatus(status, context));
  for (auto& link : directory_->LinkTotals()) *response->add_links() = std::move(link);
  return timer.Finish(grpc::Status::OK);
}

}  // namespace lip
