// SenderService: the gRPC face of a sender node (lip.v1.Sender).
//
//   Encode    text -> TextBatcher (server/sender/text_batcher.h: concurrent texts are encoded in one
//             SenderPipeline call) -> soft tokens Z -> PacketFromLatent (bridge/latent/latent_packet.h)
//             -> LipPacket; encode_ms counts from the request, the wait for a batch included
//   Send      Encode, then SendLatent to the receiver given in the request or resolved through
//             the registry (an alive receiver that runs the bridge's receiver model and serves
//             this same bridge: server/receiver_selection.h; messages are spread round-robin;
//             the registry's list is reused for receiver_list_ttl, 1 s by default);
//             replies with the answer, per-stage timings (wire = round trip - receiver total)
//             and wire bytes (the packet bytes sent to the receiver that answered: a full
//             LipPacket or, with compact_wire, a CompactPacket, plus a full resend after
//             HEADER_NOT_CACHED) next to the text's bytes
//   SendFanOut (protocol.md §13) one text encoded ONCE, then a packet per target receiver, each with its
//             own bridge's id (the sender's bridge for that receiver model among FanOutBridges:
//             server/sender/fanout_bridges.h), sent to all targets at once (each resolved and
//             failed over as Send does); replies with every receiver's answer or error (a failed
//             receiver does not lose the others' answers) and, for classification, the joint
//             answer (RescoreJointly: bridge/latent/joint_rescoring.h) over those that answered.
//             INVALID_ARGUMENT for a bad request (no or > kMaxFanOutTargets targets, a target
//             without receiver model or twice the same, encode.receiver_model set, label sets
//             that differ between the bridges without task labels), NOT_FOUND for a receiver
//             model without a bridge here; when every receiver failed, the first one's error
//             with every receiver's in its message.
//   RelayText the text-relay baseline: the sender's model writes a message about the text (in a
//             batch with concurrent RelayText calls: TextBatcher;
//             WriteRelayMessage, kTextRelayFrame: bridge/latent/text_relay.h; at most max_new_tokens, 0 =
//             kDefaultRelayTokens; stops at EOS) and the receiver reads what it wrote, even when
//             that is empty. (The receiver reading the original text is LatentReceiver.SendText.)
//
// Failover: when a receiver resolved through the registry answers UNAVAILABLE (it died, refused
// the connection or is shutting down), the message is sent once more to another alive receiver
// serving the same bridge, and the failed address is avoided for `breaker_open_for`
// (server/sender/receiver_breaker.h) without waiting for the registry to notice. The retry
// carries the same packet (same packet_id), and the caller gets one answer. A receiver named in
// the request is not replaced.
//
// Callers need the admin or sender role. The service calls receivers with
// this node's own certificate (role sender), and keeps per-receiver link
// statistics that TakeLinkStats() hands to the registry reporter.
//
// Metrics: lip_sender_messages_total{rpc, code}, lip_stage_ms{stage=sender_queue|encode|wire|total},
// lip_sender_batch_size{work=encode|relay}, lip_sender_queue_depth{work}, lip_sender_rejected_total{work},
// lip_sender_wire_bytes_total{path=latent|text}, lip_sender_soft_tokens,
// lip_sender_failovers_total, plus lip_rpc_*.
//
// Ownership: pipeline, registry client (may be null) and metrics registry are
// borrowed. Thread-safety: safe for gRPC's many threads.
#ifndef LIP_SERVER_SENDER_SENDER_SERVICE_H_
#define LIP_SERVER_SENDER_SENDER_SERVICE_H_

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "bridge/latent/sender_pipeline.h"
#include "client/lip_client.h"
#include "common/node/metrics.h"
#include "lip/v1/sender.grpc.pb.h"
#include "server/rpc_guard.h"
#include "server/rpc_metrics.h"
#include "server/sender/fanout_bridges.h"
#include "server/sender/receiver_breaker.h"
#include "server/sender/text_batcher.h"

namespace lip {

struct SenderServiceOptions {
  std::string node_id;                           // this node, for link statistics
  bool insecure = false;                         // plaintext server: every caller has every role
  TlsOptions outbound_tls;                       // certificate used to call receivers
  lip::v1::DType default_dtype = lip::v1::DTYPE_FP16;  // when the request leaves it unspecified
  absl::Duration receiver_timeout = absl::Seconds(60);
  absl::Duration breaker_open_for = absl::Seconds(10);  // a failed receiver is avoided this long
  // How long the registry's receiver list is reused before it is asked again (0 = every
  // message). A receiver answering UNAVAILABLE drops the list at once.
  absl::Duration receiver_list_ttl = absl::Seconds(1);
  // LIP 1.1 compact wire to receivers (ClientOptions::compact_wire): a packet whose header a
  // receiver holds goes as a CompactPacket; HEADER_NOT_CACHED is answered by a full resend.
  bool compact_wire = false;
  // Dynamic batching of concurrent texts (TextBatcher), the receiver's policy and defaults.
  DynamicBatcherOptions batching;
  // The bridges SendFanOut may address (null = the pipeline's bridge alone).
  std::shared_ptr<const FanOutBridges> fanout;
};

// The most receivers one SendFanOut may address.
inline constexpr int kMaxFanOutTargets = 16;

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
  grpc::Status SendFanOut(grpc::ServerContext* context, const lip::v1::SendFanOutRequest* request,
                          lip::v1::SendFanOutResponse* response) override;

  // Where an encode's time went: waiting for a batch, then the sender pipeline's run of that batch,
  // of which device_ms on the device (EncodedText::device_ms); the rest of EncodeResponse::encode_ms
  // builds the packet.
  struct EncodeStages {
    double queue_ms = 0;
    double pipeline_ms = 0;
    double device_ms = 0;
  };
  // text -> packet through the batcher, without gRPC (exposed for tests and tools). `gone` as
  // TextBatcher::Encode; `stages` (may be null) gets the encode's stages.
  absl::StatusOr<lip::v1::EncodeResponse> EncodeText(const lip::v1::EncodeRequest& request,
                                                     absl::Time deadline = absl::InfiniteFuture(),
                                                     const TextBatcher::CallerGone& gone = {},
                                                     EncodeStages* stages = nullptr);

  // Link statistics gathered since the last call (one entry per receiver).
  std::vector<lip::v1::LinkStats> TakeLinkStats();

 private:
  struct Target {
    std::string address;
    std::string node_id;
  };
  absl::Status Authorize(grpc::ServerContext* context) const;
  // The packet of `encoded` for `bridge` (one of fanout_'s: its id, labels and calibration), with
  // the request's dtype, task, priming, conversation and receiver model.
  absl::StatusOr<lip::v1::LipPacket> PacketFor(const EncodedText& encoded, const lip::v1::EncodeRequest& request,
                                               const BridgeMetadata& bridge) const;
  // The receivers to try, in order: the one named in the request, or those the registry lists
  // for `bridge`, rotated round-robin, with recently failed ones last.
  absl::StatusOr<std::vector<Target>> ResolveReceivers(const std::string& address,
                                                       const lip::v1::ModelId& receiver_model,
                                                       const BridgeMetadata& bridge);
  // Sends `packet` to `target`'s receiver (resolved, failed over as Send), filling `outcome`
  // with its answer or its error.
  void SendToTarget(grpc::ServerContext* context, const lip::v1::FanOutTarget& target,
                    const lip::v1::LipPacket& packet, const BridgeMetadata& bridge,
                    lip::v1::ReceiverOutcome* outcome);
  // The registry's receivers, reused for options_.receiver_list_ttl.
  absl::StatusOr<std::vector<lip::v1::NodeInfo>> ListReceivers();
  absl::StatusOr<ReceiverClient*> ClientFor(const std::string& address);
  // Calls `call` on targets[0]; if that receiver is UNAVAILABLE and there is another target,
  // records the failure and calls targets[1] once. `used` is the receiver of the last attempt,
  // `round_trip_ms` that attempt's round trip.
  // `call` sets *bytes to what it sent; CallReceiver's *bytes is that of the last attempt.
  using ReceiverCall =
      std::function<absl::StatusOr<lip::v1::SendLatentResponse>(ReceiverClient&, uint64_t* bytes)>;
  absl::StatusOr<lip::v1::SendLatentResponse> CallReceiver(const std::vector<Target>& targets,
                                                           const ReceiverCall& call, uint64_t* bytes,
                                                           Target* used, double* round_trip_ms);
  void RecordLink(const Target& target, bool ok, uint64_t bytes, double latency_ms);
  // lip_stage_ms of one encode (Encode and Send): its batch wait, pipeline, device part and whole.
  void ObserveEncodeStages(const EncodeStages& stages, double encode_ms);

  const SenderPipeline* pipeline_;
  RegistryClient* registry_;
  const SenderServiceOptions options_;
  MessageCounter messages_;
  RpcGuard rpc_;  // authorization, RPC metrics, messages_, status mapping of every RPC
  metrics::Family<metrics::Histogram>& stage_ms_;
  metrics::Family<metrics::Counter>& wire_bytes_;
  metrics::Histogram& soft_tokens_;
  metrics::Counter& failovers_;
  ReceiverBreaker breaker_;
  TextBatcher batcher_;
  std::shared_ptr<const FanOutBridges> fanout_;

  std::mutex mu_;
  std::map<std::string, std::unique_ptr<ReceiverClient>> clients_;  // by address
  std::map<std::string, lip::v1::LinkStats> links_;                 // by receiver node id
  std::vector<lip::v1::NodeInfo> receiver_list_;                    // ListReceivers' last answer
  absl::Time receiver_list_fetched_ = absl::InfinitePast();         // when it came; past = none
};

}  // namespace lip

#endif  // LIP_SERVER_SENDER_SENDER_SERVICE_H_
