// RegistryService: the gRPC face of the registry node (lip.v1.Registry).
// Thin, like route_guide's server: it checks the caller's role, calls the
// BridgeStore / NodeDirectory, and maps their absl::Status to grpc::Status.
//
// Role policy (roles come from the verified client certificate, see
// common/node/peer_identity.h):
//   PutBridge                      admin only
//   RegisterNode                   a node may register only its own role (admin: any)
//   Heartbeat, Leave               the node's registered role, admin
// and RegisterNode, Heartbeat and Leave act only for a node id the caller's
// certificate names (lip://node/<id>) or, for a certificate naming none, the
// ids it registered first (NodeDirectory's binding by CN); admins act for any.
//   ReportLinkStats                admin, sender, receiver
//   Get/Resolve/ListBridges, ListNodes, GetLinkStats   any LIP role
// Everything else gets PERMISSION_DENIED.
//
// Metrics (besides lip_rpc_*): lip_registry_bridges (gauge),
// lip_registry_upload_bytes_total, lip_registry_download_bytes_total, and per
// link {from, to}: lip_registry_link_messages_total, _errors_total,
// _bytes_total, _latency_ms_sum_total, lip_registry_link_latency_ms_mean,
// lip_registry_link_latency_ms_max, lip_registry_link_bandwidth_bytes_per_second
// (bytes / summed latency).
//
// Ownership: store, directory and metrics registry are borrowed and must
// outlive the service. Thread-safety: gRPC calls it from many threads; it is safe.
#ifndef LIP_SERVER_REGISTRY_REGISTRY_SERVICE_H_
#define LIP_SERVER_REGISTRY_REGISTRY_SERVICE_H_

#include <memory>

#include "common/node/metrics.h"
#include "common/node/peer_identity.h"
#include "absl/types/span.h"
#include "lip/v1/registry.grpc.pb.h"
#include "server/registry/bridge_store.h"
#include "server/registry/node_directory.h"
#include "server/rpc_guard.h"

namespace lip {

struct RegistryServiceOptions {
  bool insecure = false;                 // server runs without TLS: every caller has all roles
  size_t download_chunk_bytes = 1 << 20; // GetBridge data chunk size
};

class RegistryService final : public lip::v1::Registry::Service {
 public:
  RegistryService(BridgeStore* store, NodeDirectory* directory, metrics::Registry* metrics,
                  RegistryServiceOptions options);

  grpc::Status PutBridge(grpc::ServerContext* context,
                         grpc::ServerReader<lip::v1::PutBridgeChunk>* reader,
                         lip::v1::PutBridgeResponse* response) override;
  grpc::Status GetBridge(grpc::ServerContext* context, const lip::v1::GetBridgeRequest* request,
                         grpc::ServerWriter<lip::v1::BridgeChunk>* writer) override;
  grpc::Status ResolveBridge(grpc::ServerContext* context,
                             const lip::v1::ResolveBridgeRequest* request,
                             lip::v1::BridgeRecord* response) override;
  grpc::Status ListBridges(grpc::ServerContext* context, const lip::v1::ListBridgesRequest* request,
                           lip::v1::ListBridgesResponse* response) override;
  grpc::Status RegisterNode(grpc::ServerContext* context,
                            const lip::v1::RegisterNodeRequest* request,
                            lip::v1::RegisterNodeResponse* response) override;
  grpc::Status Heartbeat(grpc::ServerContext* context, const lip::v1::HeartbeatRequest* request,
                         lip::v1::HeartbeatResponse* response) override;
  grpc::Status Leave(grpc::ServerContext* context, const lip::v1::LeaveRequest* request,
                     lip::v1::LeaveResponse* response) override;
  grpc::Status ListNodes(grpc::ServerContext* context, const lip::v1::ListNodesRequest* request,
                         lip::v1::ListNodesResponse* response) override;
  grpc::Status ReportLinkStats(grpc::ServerContext* context,
                               const lip::v1::ReportLinkStatsRequest* request,
                               lip::v1::ReportLinkStatsResponse* response) override;
  grpc::Status GetLinkStats(grpc::ServerContext* context,
                            const lip::v1::GetLinkStatsRequest* request,
                            lip::v1::GetLinkStatsResponse* response) override;

  // Sets lip_registry_bridges from the store (called at startup and after uploads).
  void RefreshBridgeCount();

 private:
  absl::Status Authorize(grpc::ServerContext* context, absl::Span<const Role> allowed,
                         const char* action, PeerIdentity* peer = nullptr);
  // Who `peer` is for node `node_id`; PERMISSION_DENIED when its certificate names other nodes.
  absl::StatusOr<NodeClaimant> ClaimantFor(const PeerIdentity& peer, const std::string& node_id) const;
  // For Heartbeat and Leave: any LIP role, then (NOT_FOUND for an unknown node) the
  // node's registered role or admin, then the claimant the directory checks the binding with.
  absl::Status AuthorizeForNode(grpc::ServerContext* context, const std::string& node_id,
                                const char* action, NodeClaimant* claimant);

  // GetBridge's stream: the header, then the requested files' bytes in chunks.
  absl::Status WriteBridge(const lip::v1::GetBridgeRequest& request, grpc::ServerContext* context,
                           grpc::ServerWriter<lip::v1::BridgeChunk>* writer);
  // ReportLinkStats: checks every link, then adds them to the metrics and the directory.
  absl::Status AddLinkStats(const lip::v1::ReportLinkStatsRequest& request);

  BridgeStore* store_;
  NodeDirectory* directory_;
  const RegistryServiceOptions options_;
  RpcGuard rpc_;  // authorization, RPC metrics and status mapping of every RPC
  metrics::Gauge& bridges_;
  metrics::Counter& upload_bytes_;
  metrics::Counter& download_bytes_;
  metrics::Family<metrics::Counter>& link_messages_;
  metrics::Family<metrics::Counter>& link_errors_;
  metrics::Family<metrics::Counter>& link_bytes_;
  metrics::Family<metrics::Counter>& link_latency_sum_;
  metrics::Family<metrics::Gauge>& link_latency_mean_;
  metrics::Family<metrics::Gauge>& link_latency_max_;
  metrics::Family<metrics::Gauge>& link_bandwidth_;
};

}  // namespace lip

#endif  // LIP_SERVER_REGISTRY_REGISTRY_SERVICE_H_
