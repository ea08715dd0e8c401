// ReceiverService: the gRPC face of a receiver node (lip.v1.LatentReceiver).
// Thin, like route_guide's server: it checks the caller's role (sender
// certificates only), validates the packet with the codec
// (common/packet_codec.h: a bad packet is INVALID_ARGUMENT with its reason in
// the `lip-error-reason` trailer, or MessageError.reason inside a stream),
// checks that the packet is for this receiver's bridge and model
// (FAILED_PRECONDITION otherwise), and hands the message to the LatentBatcher,
// which runs the ReceiverPipeline. Deadlines and cancellation are honoured
// while a message waits; past the queue limit the answer is RESOURCE_EXHAUSTED.
//
// StreamLatents answers in completion order; each answer carries the
// packet_id / conversation_id / sequence it answers, and a bad message gets a
// MessageError without closing the stream.
//
// Metrics: lip_receiver_messages_total{rpc, code}, lip_stage_ms{stage=adapt|
// prefill|decode|queue|total}, lip_receiver_wire_bytes_total,
// lip_receiver_soft_tokens (histogram of M), plus lip_rpc_* and the batcher's.
//
// Ownership: pipeline, batcher and metrics registry are borrowed.
// Thread-safety: safe for gRPC's many threads.
#ifndef LIP_SERVER_RECEIVER_RECEIVER_SERVICE_H_
#define LIP_SERVER_RECEIVER_RECEIVER_SERVICE_H_

#include "absl/status/statusor.h"
#include "common/metrics.h"
#include "common/packet_limits.h"
#include "lip/v1/receiver.grpc.pb.h"
#include "server/receiver/latent_batcher.h"
#include "server/rpc_metrics.h"

namespace lip {

struct ReceiverServiceOptions {
  bool insecure = false;  // plaintext server: every caller has every role
  PacketLimits limits;    // packet limits (may only tighten the protocol maxima)
};

class ReceiverService final : public lip::v1::LatentReceiver::Service {
 public:
  ReceiverService(const ReceiverPipeline* pipeline, LatentBatcher* batcher,
                  metrics::Registry* metrics, ReceiverServiceOptions options);

  grpc::Status SendLatent(grpc::ServerContext* context, const lip::v1::SendLatentRequest* request,
                          lip::v1::SendLatentResponse* response) override;
  grpc::Status StreamLatents(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<lip::v1::SendLatentResponse, lip::v1::SendLatentRequest>* stream) override;
  grpc::Status SendText(grpc::ServerContext* context, const lip::v1::SendTextRequest* request,
                        lip::v1::SendLatentResponse* response) override;

  // The packet -> pipeline message step (validation included), exposed for tests.
  absl::StatusOr<LatentMessage> MessageFromPacket(const lip::v1::LipPacket& packet) const;

 private:
  absl::Status Authorize(grpc::ServerContext* context) const;
  // Runs one job through the batcher and waits for it, honouring the
  // context's deadline and cancellation.
  absl::StatusOr<BatchedAnswer> RunAndWait(grpc::ServerContext* context,
                                           std::variant<LatentMessage, TextMessage> message);
  void FillResponse(const BatchedAnswer& answer, absl::Time start,
                    lip::v1::SendLatentResponse* response);

  const ReceiverPipeline* pipeline_;
  LatentBatcher* batcher_;
  const ReceiverServiceOptions options_;
  RpcMetrics rpc_metrics_;
  MessageCounter messages_;
  metrics::Family<metrics::Histogram>& stage_ms_;
  metrics::Counter& wire_bytes_;
  metrics::Histogram& soft_tokens_;
};

}  // namespace lip

#endif  // LIP_SERVER_RECEIVER_RECEIVER_SERVICE_H_
