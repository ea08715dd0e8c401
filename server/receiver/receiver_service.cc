#include "server/receiver/receiver_service.h"

#include <algorithm>
#include <string>
#include <vector>

#include <grpcpp/support/proto_buffer_reader.h>
#include <grpcpp/support/proto_buffer_writer.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/wire/compact_packet.h"
#include "common/wire/crc32c.h"
#include "common/node/grpc_status.h"
#include "common/node/logging.h"
#include "common/wire/packet_codec.h"
#include "common/wire/packet_error.h"
#include "common/node/peer_identity.h"
#include "bridge/latent/bridge_proto.h"
#include "bridge/latent/latent_packet.h"
#include "server/receiver/latent_stream_reactor.h"

namespace lip {
namespace {

constexpr char kComponent[] = "receiver";

// One unary call (SendLatent or SendText): finishes exactly once, with the answer or an error
// that carries a reason, and records its metrics. Deletes itself when gRPC is done with it.
class UnaryCall final : public grpc::ServerUnaryReactor {
 public:
  UnaryCall(ReceiverService* service, grpc::CallbackServerContext* context, const char* rpc,
            grpc::ByteBuffer* response)
      : service_(service),
        context_(context),
        rpc_(rpc),
        response_(response),
        timer_(service->rpc_metrics(), rpc),
        cancelled_(std::make_shared<std::atomic<bool>>(false)) {}

  void OnCancel() override { cancelled_->store(true); }
  void OnDone() override { delete this; }

  const std::shared_ptr<std::atomic<bool>>& cancelled() const { return cancelled_; }
  absl::Time deadline() const { return absl::FromChrono(context_->deadline()); }

  // Finishes with an error. Nothing of `this` is touched after Finish (OnDone may run at once).
  void Fail(const absl::Status& error) {
    service_->messages().Count(rpc_, error);
    grpc::Status status = timer_.Finish(WithErrorReason(error, ReasonOrCode(error)), context_);
    Finish(status);
  }

  // When set, a successful answer is kept under this key for a repeated packet.
  void RememberAs(std::string key) { remember_key_ = std::move(key); }

  void Answer(const lip::v1::SendLatentResponse& response) {
    std::string bytes;
    if (!response.SerializeToString(&bytes)) {
      Fail(absl::InternalError("cannot serialize the answer"));
      return;
    }
    if (!remember_key_.empty()) service_->recent_answers().Remember(remember_key_, bytes, absl::Now());
    // An answer computed after its caller left is dropped, and counted as what happened to it.
    if (cancelled_->load()) {
      Fail(absl::Now() >= deadline() ? absl::DeadlineExceededError("deadline passed while the message ran")
                                     : absl::CancelledError("the caller cancelled while the message ran"));
      return;
    }
    AnswerBytes(bytes);
  }

  // Finishes with an already serialized answer.
  void AnswerBytes(const std::string& bytes) {
    grpc::Slice slice(bytes);
    *response_ = grpc::ByteBuffer(&slice, 1);
    service_->messages().Count(rpc_, absl::OkStatus());
    grpc::Status status = timer_.Finish(grpc::Status::OK);
    Finish(status);
  }

 private:
  ReceiverService* service_;
  grpc::CallbackServerContext* context_;
  const char* rpc_;
  grpc::ByteBuffer* response_;
  RpcTimer timer_;
  std::shared_ptr<std::atomic<bool>> cancelled_;
  std::string remember_key_;
};

// The batcher's callback for a unary call: answer or error, and the request's identity echoed.
LatentBatcher::Callback AnswerUnary(ReceiverService* service, UnaryCall* call, lip::v1::SendLatentResponse echo,
                                    absl::Time start) {
  return [service, call, echo = std::move(echo), start](BatchedAnswer batched) mutable {
    if (!batched.answer.ok()) {
      call->Fail(batched.answer.status());
      return;
    }
    service->FillResponse(*batched.answer, batched.queue_ms, batched.batch_size, start, &echo);
    call->Answer(echo);
  };
}

}  // namespace

std::string ReasonOrCode(const absl::Status& status) {
  std::string reason = ErrorReasonOf(status);
  if (reason.empty() && !status.ok()) reason = absl::StatusCodeToString(status.code());
  return reason;
}

uint64_t RequestDigest(const grpc::ByteBuffer& bytes) {
  std::vector<grpc::Slice> slices;
  uint32_t crc = 0;
  if (bytes.Dump(&slices).ok()) {
    for (const grpc::Slice& slice : slices) crc = Crc32cExtend(crc, slice.begin(), slice.size());
  }
  return (uint64_t{bytes.Length()} << 32) | crc;
}

absl::Status ParseRequest(const grpc::ByteBuffer& bytes, google::protobuf::Message* request,
                          const char* what) {
  grpc::ByteBuffer copy(bytes);  // ProtoBufferReader takes a mutable buffer
  grpc::ProtoBufferReader reader(&copy);
  if (!reader.status().ok() || !request->ParseFromZeroCopyStream(&reader)) {
    return PacketError(PacketDefect::kMalformed,
                       absl::StrCat("request (", bytes.Length(), " bytes) is not a valid ", what));
  }
  return absl::OkStatus();
}

ReceiverService::ReceiverService(const ReceiverPipeline* pipeline, LatentBatcher* batcher,
                                 metrics::Registry* metrics, ReceiverServiceOptions options)
    : pipeline_(pipeline),
      batcher_(batcher),
      options_(options),
      rpc_metrics_(*metrics, "lip.v1.LatentReceiver"),
      messages_(*metrics, "lip_receiver_messages_total", "Messages answered, by RPC and status code"),
      stage_ms_(metrics::BuildHistogram().Name("lip_stage_ms")
                    .Help("Per-message time in each stage (ms)").Register(*metrics)),
      wire_bytes_(metrics::BuildCounter().Name("lip_receiver_wire_bytes_total")
                      .Help("Request bytes received: serialized SendLatentRequests, full or compact").Register(*metrics).Add({})),
      soft_tokens_(metrics::BuildHistogram().Name("lip_receiver_soft_tokens")
                       .Help("Soft tokens (M) per message").Register(*metrics)
                       .Add({}, metrics::Histogram::BucketBoundaries{1, 2, 4, 8, 16, 32, 64, 128})),
      recent_answers_(options_.recent_answers, options_.recent_answers_ttl),
      header_cache_(options_.header_cache) {}

absl::Status ReceiverService::Authorize(const grpc::CallbackServerContext& context, std::string* caller) const {
  auto peer = PeerIdentityFromContext(context, options_.insecure);
  if (!peer.ok()) return peer.status();
  if (caller != nullptr) *caller = peer->common_name;
  return RequireRole(*peer, {Role::kSender}, "send messages to a receiver");
}

lip::v1::SendLatentResponse EchoOf(const lip::v1::SendLatentRequest& request) {
  lip::v1::SendLatentResponse echo;
  if (request.has_compact()) {
    const lip::v1::CompactPacket& compact = request.compact();
    echo.set_packet_id(compact.packet_id().empty() && compact.header_id() != 0
                           ? DerivedPacketId(compact.header_id(), compact.sequence())
                           : compact.packet_id());
    echo.set_sequence(compact.sequence());
    return echo;
  }
  echo.set_packet_id(request.packet().packet_id());
  echo.set_conversation_id(request.packet().conversation_id());
  echo.set_sequence(request.packet().sequence());
  return echo;
}

absl::StatusOr<lip::v1::LipPacket> ReceiverService::TakePacket(const std::string& caller,
                                                               lip::v1::SendLatentRequest* request) {
  return PacketOfRequest(request, [&](uint64_t header_id) { return header_cache_.Find(caller, header_id); });
}

absl::StatusOr<LatentMessage> ReceiverService::Admit(const char* rpc, const std::string& caller,
                                                     const lip::v1::LipPacket& packet, size_t request_bytes,
                                                     bool* header_cached) {
  *header_cached = false;
  wire_bytes_.Increment(static_cast<double>(request_bytes));
  auto message = LatentMessageFromPacket(packet, pipeline_->bridge(), pipeline_->model_id(), options_.limits);
  if (!message.ok()) {
    LogInfo(kComponent, "refused packet",
            {{"rpc", rpc}, {"reason", ErrorReasonOf(message.status())}, {"error", message.status().ToString()}});
    return message.status();
  }
  if (packet.header_id() != 0) *header_cached = header_cache_.Put(caller, packet.header_id(), PacketHeader(packet));
  soft_tokens_.Observe(static_cast<double>(message->num_soft_tokens));
  return message;
}

void ReceiverService::FillResponse(const ReceiverAnswer& answer, double queue_ms, int batch_size,
                                   absl::Time start, lip::v1::SendLatentResponse* response) {
  if (!answer.label.empty() || answer.label_index >= 0) {
    auto* classification = response->mutable_classification();
    classification->set_label(answer.label);
    classification->set_label_index(static_cast<uint32_t>(std::max<int64_t>(answer.label_index, 0)));
    for (float log_prob : answer.label_log_probs) classification->add_log_probs(log_prob);
  } else {
    auto* generation = response->mutable_generation();
    generation->set_text(answer.text);
    for (int32_t id : answer.token_ids) generation->add_token_ids(static_cast<uint32_t>(id));
    generation->set_stop_reason(answer.stop_reason);
  }
  *response->mutable_bridge() = BridgeIdToProto(pipeline_->bridge());
  *response->mutable_receiver_model() = ModelIdToProto(pipeline_->model_id());
  auto* timings = response->mutable_timings();
  timings->set_adapt_ms(answer.timings.adapt_ms);
  timings->set_prefill_ms(answer.timings.prefill_ms);
  timings->set_decode_ms(answer.timings.decode_ms);
  timings->set_queue_ms(queue_ms);
  timings->set_total_ms(absl::ToDoubleMilliseconds(absl::Now() - start));
  response->set_batch_size(static_cast<uint32_t>(batch_size));
  const auto buckets = metrics::DefaultLatencyBucketsMs();
  stage_ms_.Add({{"stage", "adapt"}}, buckets).Observe(timings->adapt_ms());
  stage_ms_.Add({{"stage", "prefill"}}, buckets).Observe(timings->prefill_ms());
  stage_ms_.Add({{"stage", "decode"}}, buckets).Observe(timings->decode_ms());
  stage_ms_.Add({{"stage", "queue"}}, buckets).Observe(timings->queue_ms());
  stage_ms_.Add({{"stage", "total"}}, buckets).Observe(timings->total_ms());
}

grpc::ServerUnaryReactor* ReceiverService::SendLatent(grpc::CallbackServerContext* context,
                                                      const grpc::ByteBuffer* request_bytes,
                                                      grpc::ByteBuffer* response_bytes) {
  const absl::Time start = absl::Now();
  auto* call = new UnaryCall(this, context, "SendLatent", response_bytes);
  std::string caller;
  if (absl::Status status = Authorize(*context, &caller); !status.ok()) {
    call->Fail(status);
    return call;
  }
  lip::v1::SendLatentRequest request;
  if (absl::Status status = ParseRequest(*request_bytes, &request, "lip.v1.SendLatentRequest"); !status.ok()) {
    call->Fail(status);
    return call;
  }
  auto packet = TakePacket(caller, &request);
  if (!packet.ok()) {
    call->Fail(packet.status());
    return call;
  }
  bool header_cached = false;
  auto message = Admit("SendLatent", caller, *packet, request_bytes->Length(), &header_cached);
  if (!message.ok()) {
    call->Fail(message.status());
    return call;
  }
  const std::string key = RecentAnswers::Key(caller, packet->packet_id(), RequestDigest(*request_bytes));
  if (auto answered = recent_answers_.Find(key, absl::Now())) {
    call->AnswerBytes(*answered);  // a repeat of a message answered before: answered once
    return call;
  }
  call->RememberAs(key);
  lip::v1::SendLatentResponse echo;
  echo.set_packet_id(packet->packet_id());
  echo.set_conversation_id(packet->conversation_id());
  echo.set_sequence(packet->sequence());
  echo.set_header_cached(header_cached);
  absl::Status submitted = batcher_->Submit(*std::move(message), call->deadline(), call->cancelled(),
                                            AnswerUnary(this, call, std::move(echo), start));
  if (!submitted.ok()) call->Fail(submitted);
  return call;
}

grpc::ServerUnaryReactor* ReceiverService::SendText(grpc::CallbackServerContext* context,
                                                    const grpc::ByteBuffer* request_bytes,
                                                    grpc::ByteBuffer* response_bytes) {
  const absl::Time start = absl::Now();
  auto* call = new UnaryCall(this, context, "SendText", response_bytes);
  if (absl::Status status = Authorize(*context); !status.ok()) {
    call->Fail(status);
    return call;
  }
  lip::v1::SendTextRequest request;
  if (absl::Status status = ParseRequest(*request_bytes, &request, "lip.v1.SendTextRequest"); !status.ok()) {
    call->Fail(status);
    return call;
  }
  if (request.text().size() > options_.limits.max_packet_bytes) {
    call->Fail(PacketError(PacketDefect::kLimitExceeded,
                           absl::StrCat("SendText: text is ", request.text().size(), " bytes, limit is ",
                                        options_.limits.max_packet_bytes)));
    return call;
  }
  // An empty text is a real message (a text relay whose sender wrote nothing): the receiver
  // answers from the frame alone.
  wire_bytes_.Increment(static_cast<double>(request.text().size()));
  TextMessage message;
  message.text = request.text();
  message.priming.context_prefix = request.priming().context_prefix();
  message.priming.anchor = request.priming().anchor();
  message.task = ReceiverTaskFromProto(request.task());
  absl::Status submitted = batcher_->SubmitText(std::move(message), call->deadline(), call->cancelled(),
                                                AnswerUnary(this, call, lip::v1::SendLatentResponse(), start));
  if (!submitted.ok()) call->Fail(submitted);
  return call;
}

grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* ReceiverService::StreamLatents(
    grpc::CallbackServerContext* context) {
  return new LatentStreamReactor(this, context);
}

}  // namespace lip
