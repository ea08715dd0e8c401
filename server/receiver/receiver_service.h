// ReceiverService: the gRPC face of a receiver node (lip.v1.LatentReceiver).
//
// Thin, like route_guide's server, on gRPC's callback API with raw (byte
// buffer) methods, so that the service itself parses each request:
//   1. the caller's role is checked (sender certificates only);
//   2. the request bytes are parsed — bytes that are no lip.v1 request are
//      INVALID_ARGUMENT with reason MALFORMED (gRPC's own parser would answer
//      INTERNAL with an empty message);
//   3. the packet becomes a pipeline message through LatentMessageFromPacket
//      (bridge/latent/latent_packet.h): validated by the codec (a bad packet
//      is INVALID_ARGUMENT with its reason) and checked against this
//      receiver's bridge, model and calibration (FAILED_PRECONDITION,
//      BRIDGE_MISMATCH / RECEIVER_MISMATCH / CALIBRATION_MISMATCH);
//      A LIP 1.1 compact message (docs/protocol.md §12) is first rebuilt into
//      its full packet from the header the caller left in the HeaderCache
//      (header_cache.h; a miss is FAILED_PRECONDITION, HEADER_NOT_CACHED), and
//      a valid packet that sets header_id leaves its header there
//      (SendLatentResponse.header_cached);
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
// RECEIVER_MISMATCH, CALIBRATION_MISMATCH, LIMIT_EXCEEDED, QUEUE_FULL, SHUTTING_DOWN, or else the
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
#include "common/node/metrics.h"
#include "common/wire/packet_limits.h"
#include "lip/v1/receiver.grpc.pb.h"
#include "server/receiver/header_cache.h"
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
  // Headers kept for LIP 1.1 compact messages, per caller (header_cache.h).
  HeaderCacheOptions header_cache;
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

  // What the stream reactor shares with the unary calls.
  // Checks the caller's role; `caller` (may be null) gets its certificate's CN.
  absl::Status Authorize(const grpc::CallbackServerContext& context, std::string* caller = nullptr) const;
  RecentAnswers& recent_answers() { return recent_answers_; }
  HeaderCache& header_cache() { return header_cache_; }
  // The packet a request carries, moved out of it: its full packet, or the packet its compact
  // message (LIP 1.1) stands for, rebuilt from the header `caller` put in the header cache
  // (PacketOfRequest in common/wire/compact_packet.h, errors included).
  absl::StatusOr<lip::v1::LipPacket> TakePacket(const std::string& caller, lip::v1::SendLatentRequest* request);
  // Counts the request's bytes and the packet's M, and turns the packet into a pipeline message
  // (LatentMessageFromPacket). When that succeeds and the packet sets header_id, its header is
  // kept for `caller`; *header_cached says whether it was.
  absl::StatusOr<LatentMessage> Admit(const char* rpc, const std::string& caller, const lip::v1::LipPacket& packet,
                                      size_t request_bytes, bool* header_cached);
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
  HeaderCache header_cache_;
};

// The identity a request's answer echoes (packet_id, conversation_id, sequence), as far as the
// request carries it: a compact message echoes its packet id (given or derived) and sequence.
lip::v1::SendLatentResponse EchoOf(const lip::v1::SendLatentRequest& request);

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
