#include "server/receiver/receiver_service.h"

#include <algorithm>
#include <condition_variable>
#include <future>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/grpc_status.h"
#include "common/logging.h"
#include "common/packet_codec.h"
#include "common/peer_identity.h"
#include "server/bridge_proto.h"

namespace lip {
namespace {

constexpr char kComponent[] = "receiver";

ReceiverTask TaskFromProto(const lip::v1::Task& task) {
  ReceiverTask out;
  if (task.has_generate()) {
    out.kind = ReceiverTask::Kind::kGenerate;
    out.max_new_tokens = task.generate().max_new_tokens();
    out.temperature = task.generate().temperature();
    out.top_p = task.generate().top_p();
    out.seed = task.generate().seed();
    out.stop.assign(task.generate().stop().begin(), task.generate().stop().end());
  } else {
    out.kind = ReceiverTask::Kind::kClassify;
    out.labels.assign(task.classify().labels().begin(), task.classify().labels().end());
  }
  return out;
}

// Machine-readable reasons for the receiver's own (non-codec) refusals.
constexpr char kWrongBridge[] = "BRIDGE_MISMATCH";
constexpr char kWrongReceiver[] = "RECEIVER_MISMATCH";

}  // namespace

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
                      .Help("Serialized LipPacket bytes received").Register(*metrics).Add({})),
      soft_tokens_(metrics::BuildHistogram().Name("lip_receiver_soft_tokens")
                       .Help("Soft tokens (M) per message").Register(*metrics)
                       .Add({}, metrics::Histogram::BucketBoundaries{1, 2, 4, 8, 16, 32, 64, 128})) {}

absl::Status ReceiverService::Authorize(grpc::ServerContext* context) const {
  auto peer = PeerIdentityFromContext(*context, options_.insecure);
  if (!peer.ok()) return peer.status();
  return RequireRole(*peer, {Role::kSender}, "send messages to a receiver");
}

absl::StatusOr<LatentMessage> ReceiverService::MessageFromPacket(
    const lip::v1::LipPacket& packet) const {
  auto values = ValidateAndDequantize(packet, options_.limits);
  if (!values.ok()) return values.status();
  const BridgeMetadata& bridge = pipeline_->bridge();
  if (packet.bridge().name() != bridge.name ||
      (!packet.bridge().digest().empty() && !bridge.digest.empty() &&
       packet.bridge().digest() != bridge.digest)) {
    return WithErrorReason(
        absl::FailedPreconditionError(absl::StrCat(
            "packet is for bridge \"", packet.bridge().name(), "\" (", packet.bridge().digest(),
            "), this receiver serves \"", bridge.name, "\" (", bridge.digest, ")")),
        kWrongBridge);
  }
  if (packet.receiver_models_size() > 0) {
    bool for_us = false;
    for (const auto& model : packet.receiver_models()) {
      for_us = for_us || (model.name() == pipeline_->model_id().name &&
                          (model.weights_digest().empty() ||
                           model.weights_digest() == pipeline_->model_id().weights_digest));
    }
    if (!for_us) {
      return WithErrorReason(
          absl::FailedPreconditionError(absl::StrCat(
              "packet lists ", packet.receiver_models_size(), " receiver models, none is \"",
              pipeline_->model_id().name, "\"")),
          kWrongReceiver);
    }
  }
  LatentMessage message;
  message.z = *std::move(values);
  message.num_soft_tokens = packet.soft_token_count();
  message.width = packet.soft_token_width();
  message.priming.context_prefix = packet.priming().context_prefix();
  message.priming.anchor = packet.priming().anchor();
  message.task = TaskFromProto(packet.task());
  return message;
}

absl::StatusOr<BatchedAnswer> ReceiverService::RunAndWait(
    grpc::ServerContext* context, std::variant<LatentMessage, TextMessage> message) {
  auto promise = std::make_shared<std::promise<BatchedAnswer>>();
  std::future<BatchedAnswer> future = promise->get_future();
  auto cancelled = std::make_shared<std::atomic<bool>>(false);
  const absl::Time deadline = absl::FromChrono(context->deadline());
  auto done = [promise](BatchedAnswer answer) { promise->set_value(std::move(answer)); };
  absl::Status submitted =
      std::holds_alternative<LatentMessage>(message)
          ? batcher_->Submit(std::get<LatentMessage>(std::move(message)), deadline, cancelled, done)
          : batcher_->SubmitText(std::get<TextMessage>(std::move(message)), deadline, cancelled, done);
  if (!submitted.ok()) return submitted;
  // Poll so that a cancelled call or a passed deadline frees the handler at once;
  // the batcher then skips the job (or its answer is dropped if it already ran).
  // The deadline is checked first: gRPC also marks a call whose deadline passed as cancelled.
  while (future.wait_for(std::chrono::milliseconds(20)) != std::future_status::ready) {
    if (absl::Now() >= deadline) {
      cancelled->store(true);
      return absl::DeadlineExceededError("deadline passed while the message waited or ran");
    }
    if (context->IsCancelled()) {
      cancelled->store(true);
      return absl::CancelledError("the caller cancelled");
    }
  }
  return future.get();
}

void ReceiverService::FillResponse(const BatchedAnswer& batched, absl::Time start,
                                   lip::v1::SendLatentResponse* response) {
  const ReceiverAnswer& answer = *batched.answer;
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
  timings->set_queue_ms(batched.queue_ms);
  timings->set_total_ms(absl::ToDoubleMilliseconds(absl::Now() - start));
  response->set_batch_size(static_cast<uint32_t>(batched.batch_size));
  const auto buckets = metrics::DefaultLatencyBucketsMs();
  stage_ms_.Add({{"stage", "adapt"}}, buckets).Observe(timings->adapt_ms());
  stage_ms_.Add({{"stage", "prefill"}}, buckets).Observe(timings->prefill_ms());
  stage_ms_.Add({{"stage", "decode"}}, buckets).Observe(timings->decode_ms());
  stage_ms_.Add({{"stage", "queue"}}, buckets).Observe(timings->queue_ms());
  stage_ms_.Add({{"stage", "total"}}, buckets).Observe(timings->total_ms());
}

grpc::Status ReceiverService::SendLatent(grpc::ServerContext* context,
                                         const lip::v1::SendLatentRequest* request,
                                         lip::v1::SendLatentResponse* response) {
  RpcTimer timer(rpc_metrics_, "SendLatent");
  const absl::Time start = absl::Now();
  if (absl::Status status = Authorize(context); !status.ok()) return timer.Finish(status, context);
  const lip::v1::LipPacket& packet = request->packet();
  wire_bytes_.Increment(static_cast<double>(packet.ByteSizeLong()));
  response->set_packet_id(packet.packet_id());
  response->set_conversation_id(packet.conversation_id());
  response->set_sequence(packet.sequence());
  auto message = MessageFromPacket(packet);
  if (!message.ok()) {
    messages_.Count("SendLatent", message.status());
    LogInfo(kComponent, "refused packet",
            {{"reason", ErrorReasonOf(message.status())}, {"error", message.status().ToString()}});
    return timer.Finish(message.status(), context);
  }
  soft_tokens_.Observe(static_cast<double>(message->num_soft_tokens));
  auto answer = RunAndWait(context, *std::move(message));
  if (answer.ok() && !answer->answer.ok()) answer = answer->answer.status();
  messages_.Count("SendLatent", answer.status());
  if (!answer.ok()) return timer.Finish(answer.status(), context);
  FillResponse(*answer, start, response);
  return timer.Finish(grpc::Status::OK);
}

grpc::Status ReceiverService::SendText(grpc::ServerContext* context,
                                       const lip::v1::SendTextRequest* request,
                                       lip::v1::SendLatentResponse* response) {
  RpcTimer timer(rpc_metrics_, "SendText");
  const absl::Time start = absl::Now();
  if (absl::Status status = Authorize(context); !status.ok()) return timer.Finish(status, context);
  // An empty text is answered too: a sender's text relay may write nothing (issue 15).
  wire_bytes_.Increment(static_cast<double>(request->text().size()));
  TextMessage message;
  message.text = request->text();
  message.priming.context_prefix = request->priming().context_prefix();
  message.priming.anchor = request->priming().anchor();
  message.task = TaskFromProto(request->task());
  auto answer = RunAndWait(context, std::move(message));
  if (answer.ok() && !answer->answer.ok()) answer = answer->answer.status();
  messages_.Count("SendText", answer.status());
  if (!answer.ok()) return timer.Finish(answer.status(), context);
  FillResponse(*answer, start, response);
  return timer.Finish(grpc::Status::OK);
}

grpc::Status ReceiverService::StreamLatents(
    grpc::ServerContext* context,
    grpc::ServerReaderWriter<lip::v1::SendLatentResponse, lip::v1::SendLatentRequest>* stream) {
  RpcTimer timer(rpc_metrics_, "StreamLatents");
  if (absl::Status status = Authorize(context); !status.ok()) return timer.Finish(status, context);

  // Answers are written by the batcher's callbacks, in completion order.
  struct Shared {
    std::mutex mu;
    std::condition_variable idle;
    int outstanding = 0;
    bool write_failed = false;
  };
  auto shared = std::make_shared<Shared>();
  auto cancelled = std::make_shared<std::atomic<bool>>(false);
  auto write = [stream, shared](const lip::v1::SendLatentResponse& response) {
    std::lock_guard<std::mutex> lock(shared->mu);
    if (!shared->write_failed && !stream->Write(response)) shared->write_failed = true;
  };
  auto error_response = [](const lip::v1::LipPacket& packet, const absl::Status& error) {
    lip::v1::SendLatentResponse response;
    response.set_packet_id(packet.packet_id());
    response.set_conversation_id(packet.conversation_id());
    response.set_sequence(packet.sequence());
    auto* message_error = response.mutable_error();
    message_error->set_code(static_cast<int>(error.code()));
    message_error->set_reason(ErrorReasonOf(error));
    message_error->set_message(std::string(error.message()));
    return response;
  };

  lip::v1::SendLatentRequest request;
  while (!context->IsCancelled() && stream->Read(&request)) {
    const absl::Time start = absl::Now();
    const lip::v1::LipPacket packet = request.packet();
    wire_bytes_.Increment(static_cast<double>(packet.ByteSizeLong()));
    auto message = MessageFromPacket(packet);
    if (!message.ok()) {
      messages_.Count("StreamLatents", message.status());
      write(error_response(packet, message.status()));
      continue;
    }
    soft_tokens_.Observe(static_cast<double>(message->num_soft_tokens));
    {
      std::lock_guard<std::mutex> lock(shared->mu);
      ++shared->outstanding;
    }
    auto done = [this, packet, start, shared, write, error_response](BatchedAnswer answer) {
      messages_.Count("StreamLatents", answer.answer.status());
      if (answer.answer.ok()) {
        lip::v1::SendLatentResponse response;
        response.set_packet_id(packet.packet_id());
        response.set_conversation_id(packet.conversation_id());
        response.set_sequence(packet.sequence());
        FillResponse(answer, start, &response);
        write(response);
      } else {
        write(error_response(packet, answer.answer.status()));
      }
      std::lock_guard<std::mutex> lock(shared->mu);
      if (--shared->outstanding == 0) shared->idle.notify_all();
    };
    absl::Status submitted = batcher_->Submit(*std::move(message), absl::FromChrono(context->deadline()),
                                              cancelled, done);
    if (!submitted.ok()) {
      messages_.Count("StreamLatents", submitted);
      write(error_response(packet, submitted));
      std::lock_guard<std::mutex> lock(shared->mu);
      if (--shared->outstanding == 0) shared->idle.notify_all();
    }
  }
  if (context->IsCancelled()) cancelled->store(true);
  std::unique_lock<std::mutex> lock(shared->mu);
  shared->idle.wait(lock, [&] { return shared->outstanding == 0; });
  if (context->IsCancelled()) {
    return timer.Finish(grpc::Status(grpc::StatusCode::CANCELLED, "stream cancelled by the client"));
  }
  return timer.Finish(grpc::Status::OK);
}

}  // namespace lip
