// ReceiverService: the gRPC face of a receiver node (lip.v1.LatentReceiver).
//
// Thin, like route_guide's server, on gRPC's callback API with raw (byte
// buffer) methods, so that the service itself parses each request:
//   1. the caller's role is checked (sender certificates only);
//   2. the request bytes are parsed — bytes that are no lip.v1 request are
//      INVALID_ARGUMENT with reason MALFORMED (gRPC's own parser would answer
//      INTERNAL with an empty message);
//   3. the packet is validated by the codec (common/packet_codec.h: a bad
//      packet is INVALID_ARGUMENT with its reason) and checked against this
//      receiver's bridge (name, version, digest) and model
//      (FAILED_PRECONDITION, BRIDGE_MISMATCH / RECEIVER_MISMATCH);
//   4. the message goes to the LatentBatcher, which runs the ReceiverPipeline
//      (work caps, see receiver_pipeline.h) and calls back with the answer.
// No thread waits for a message: a handler returns once the message is queued.
// A caller's cancellation or passed deadline marks its message abandoned; the
// batcher and the pipeline then skip it. Past the queue limit a unary call is
// RESOURCE_EXHAUSTED (reason QUEUE_FULL).
//
// StreamLatents (server/receiver/latent_stream_reactor.h) answers in
// completion order with flow control: at most `stream_window` messages of a
// stream are in the receiver at once; further messages are not read until one
// is answered, so a fast client is slowed down instead of refused. A bad
// message gets a MessageError (with a reason, always) without closing the
// stream.
//
// A packet that arrives again from the same caller (same packet_id) after it was answered gets
// the same answer without running again (server/receiver/recent_answers.h).
//
// Every error carries a machine-readable reason: the codec's, BRIDGE_MISMATCH,
// RECEIVER_MISMATCH, LIMIT_EXCEEDED, QUEUE_FULL, SHUTTING_DOWN, or else the
// status code's name (unary: `lip-error-reason` trailer; streams:
// MessageError.reason).
//
// Metrics: lip_receiver_messages_total{rpc, code}, lip_stage_ms{stage=adapt|
// prefill|decode|queue|total}, lip_receiver_wire_bytes_total,
// lip_receiver_soft_tokens (histogram of M), plus lip_rpc_* and the batcher's.
//
// Ownership: pipeline, batcher and metrics registry are borrowed.
// Thread-safety: safe for gRPC's many threads.
#ifndef LIP_SERVER_RECEIVER_RECEIVER_SERVICE_H_
#define LIP_SERVER_RECEIVER_RECEIVER_SERVICE_H_

#include <memory>
#include <string>

#include <grpcpp/support/byte_buffer.h>

#include "absl/status/statusor.h"
#include "common/metrics.h"
#include "common/packet_limits.h"
#include "lip/v1/receiver.grpc.pb.h"
#include "server/receiver/latent_batcher.h"
#include "server/receiver/recent_answers.h"
#include "server/rpc_metrics.h"

namespace lip {

struct ReceiverServiceOptions {
  bool insecure = false;   // plaintext server: every caller has every role
  PacketLimits limits;     // packet limits (may only tighten the protocol maxima)
  int stream_window = 8;   // messages of one stream in the receiver at once
  // Answers kept to answer a repeated packet (same caller, same packet_id) once (recent_answers.h).
  size_t recent_answers = 1024;
  absl::Duration recent_answers_ttl = absl::Minutes(10);
};

using ReceiverServiceBase = lip::v1::LatentReceiver::WithRawCallbackMethod_SendLatent<
    lip::v1::LatentReceiver::WithRawCallbackMethod_StreamLatents<
        lip::v1::LatentReceiver::WithRawCallbackMethod_SendText<lip::v1::LatentReceiver::Service>>>;

class ReceiverService final : public ReceiverServiceBase {
 public:
  ReceiverService(const ReceiverPipeline* pipeline, LatentBatcher* batcher,
                  metrics::Registry* metrics, ReceiverServiceOptions options);

  grpc::ServerUnaryReactor* SendLatent(grpc::CallbackServerContext* context,
                                       const grpc::ByteBuffer* request,
                                       grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* SendText(grpc::CallbackServerContext* context,
                                     const grpc::ByteBuffer* request,
                                     grpc::ByteBuffer* response) override;
  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* StreamLatents(
      grpc::CallbackServerContext* context) override;

  // The packet -> pipeline message step (validation included), exposed for tests and fuzzing.
  absl::StatusOr<LatentMessage> MessageFromPacket(const lip::v1::LipPacket& packet) const;

  // What the stream reactor shares with the unary calls.
  // Checks the caller's role; `caller` (may be null) gets its certificate's CN.
  absl::Status Authorize(const grpc::CallbackServerContext& context, std::string* caller = nullptr) const;
  RecentAnswers& recent_answers() { return recent_answers_; }
  // Counts the packet's bytes and M, and turns it into a pipeline message.
  absl::StatusOr<LatentMessage> Admit(const char* rpc, const lip::v1::LipPacket& packet);
  LatentBatcher& batcher() { return *batcher_; }
  const ReceiverServiceOptions& options() const { return options_; }
  RpcMetrics& rpc_metrics() { return rpc_metrics_; }
  MessageCounter& messages() { return messages_; }
  // Fills `response` from an answer (classification or generation, identity, timings).
  void FillResponse(const ReceiverAnswer& answer, double queue_ms, int batch_size, absl::Time start,
                    lip::v1::SendLatentResponse* response);

 private:
  const ReceiverPipeline* pipeline_;
  LatentBatcher* batcher_;
  const ReceiverServiceOptions options_;
  RpcMetrics rpc_metrics_;
  MessageCounter messages_;
  metrics::Family<metrics::Histogram>& stage_ms_;
  metrics::Counter& wire_bytes_;
  metrics::Histogram& soft_tokens_;
  RecentAnswers recent_answers_;
};

// The reason an error answer carries: the status's own (codec, bridge, limits, queue), or the
// name of its code ("DEADLINE_EXCEEDED", ...) when it has none.
std::string ReasonOrCode(const absl::Status& status);

// A digest of request bytes for RecentAnswers keys: size and CRC32C over the slices as they
// arrived (no copy, independent of how the bytes were split).
uint64_t RequestDigest(const grpc::ByteBuffer& bytes);

// Parses request bytes; INVALID_ARGUMENT with reason MALFORMED when they are not a `what`.
absl::Status ParseRequest(const grpc::ByteBuffer& bytes, google::protobuf::Message* request,
                          const char* what);

}  // namespace lip

#endif  // LIP_SERVER_RECEIVER_RECEIVER_SERVICE_H_
