// SenderService: the gRPC face of a sender node (lip.v1.Sender).
//
//   Encode    text -> SenderPipeline (soft tokens Z + calibration) -> packet codec -> LipPacket
//   Send      Encode, then SendLatent to the receiver given in the request or resolved through
//             the registry (an alive receiver that runs the bridge's receiver model and serves
//             this same bridge: server/receiver_selection.h);
//             replies with the answer, per-stage timings (wire = round trip - receiver total)
//             and wire bytes next to the text's bytes
//   RelayText the text-relay baseline: the sender's model writes a message about the text
//             (WriteRelayMessage, kTextRelayFrame: bridge/latent/text_relay.h; at most max_new_tokens, 0 =
//             kDefaultRelayTokens; stops at EOS) and the receiver reads what it wrote, even when
//             that is empty. (The receiver reading the original text is LatentReceiver.SendText.)
//
// Callers need the admin or sender role. The service calls receivers with
// this node's own certificate (role sender), and keeps per-receiver link
// statistics that TakeLinkStats() hands to the registry reporter.
//
// Metrics: lip_sender_messages_total{rpc, code}, lip_stage_ms{stage=encode|wire|total},
// lip_sender_wire_bytes_total{path=latent|text}, lip_sender_soft_tokens, plus lip_rpc_*.
//
// Ownership: pipeline, registry client (may be null) and metrics registry are
// borrowed. Thread-safety: safe for gRPC's many threads.
#ifndef LIP_SERVER_SENDER_SENDER_SERVICE_H_
#define LIP_SERVER_SENDER_SENDER_SERVICE_H_

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "bridge/latent/sender_pipeline.h"
#include "client/lip_client.h"
#include "common/metrics.h"
#include "lip/v1/sender.grpc.pb.h"
#include "server/rpc_metrics.h"

namespace lip {

struct SenderServiceOptions {
  std::string node_id;                           // this node, for link statistics
  bool insecure = false;                         // plaintext server: every caller has every role
  TlsOptions outbound_tls;                       // certificate used to call receivers
  lip::v1::DType default_dtype = lip::v1::DTYPE_FP16;  // when the request leaves it unspecified
  absl::Duration receiver_timeout = absl::Seconds(60);
};

class SenderService final : public lip::v1::Sender::Service {
 public:
  SenderService(const SenderPipeline* pipeline, RegistryClient* registry, metrics::Registry* metrics,
                SenderServiceOptions options);

  grpc::Status Encode(grpc::ServerContext* context, const lip::v1::EncodeRequest* request,
                      lip::v1::EncodeResponse* response) override;
  grpc::Status Send(grpc::ServerContext* context, const lip::v1::SendRequest* request,
                    lip::v1::SendResponse* response) override;
  grpc::Status RelayText(grpc::ServerContext* context, const lip::v1::RelayTextRequest* request,
                         lip::v1::RelayTextResponse* response) override;

  // text -> packet, without gRPC (exposed for tests and tools).
  absl::StatusOr<lip::v1::EncodeResponse> EncodeText(const lip::v1::EncodeRequest& request) const;

  // Link statistics gathered since the last call (one entry per receiver).
  std::vector<lip::v1::LinkStats> TakeLinkStats();

 private:
  struct Target {
    std::string address;
    std::string node_id;
  };
  absl::Status Authorize(grpc::ServerContext* context) const;
  absl::StatusOr<Target> ResolveReceiver(const std::string& address,
                                         const lip::v1::ModelId& receiver_model);
  absl::StatusOr<ReceiverClient*> ClientFor(const std::string& address);
  void RecordLink(const Target& target, bool ok, uint64_t bytes, double latency_ms);

  const SenderPipeline* pipeline_;
  RegistryClient* registry_;
  const SenderServiceOptions options_;
  RpcMetrics rpc_metrics_;
  MessageCounter messages_;
  metrics::Family<metrics::Histogram>& stage_ms_;
  metrics::Family<metrics::Counter>& wire_bytes_;
  metrics::Histogram& soft_tokens_;

  std::mutex mu_;
  std::map<std::string, std::unique_ptr<ReceiverClient>> clients_;  // by address
  std::map<std::string, lip::v1::LinkStats> links_;                 // by receiver node id
};

}  // namespace lip

#endif  // LIP_SERVER_SENDER_SENDER_SERVICE_H_
