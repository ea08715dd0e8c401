#include "server/receiver/latent_stream_reactor.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "server/receiver/receiver_service.h"

namespace lip {
namespace {

constexpr char kRpc[] = "StreamLatents";

lip::v1::SendLatentResponse ErrorAnswer(lip::v1::SendLatentResponse echo, const absl::Status& error) {
  auto* message_error = echo.mutable_error();
  message_error->set_code(static_cast<int>(error.code()));
  message_error->set_reason(ReasonOrCode(error));
  message_error->set_message(std::string(error.message()));
  return echo;
}

}  // namespace

LatentStreamReactor::LatentStreamReactor(ReceiverService* service, grpc::CallbackServerContext* context)
    : service_(service),
      context_(context),
      timer_(service->rpc_metrics(), kRpc),
      cancelled_(std::make_shared<std::atomic<bool>>(false)) {
  if (absl::Status status = service_->Authorize(*context_, &caller_); !status.ok()) {
    finished_ = true;
    Finish(timer_.Finish(status, context_));
    return;
  }
  reading_ = true;
  StartRead(&read_buffer_);
}

void LatentStreamReactor::OnReadDone(bool ok) {
  if (ok) {
    HandleRequest();  // reading_ stays true meanwhile: nobody else starts a read
  }
  Actions actions;
  {
    std::lock_guard<std::mutex> lock(mu_);
    reading_ = false;
    if (!ok) reads_done_ = true;
    actions = NextActionsLocked();
  }
  Perform(actions);
}

void LatentStreamReactor::HandleRequest() {
  lip::v1::SendLatentRequest request;
  absl::Status parsed = ParseRequest(read_buffer_, &request, "lip.v1.SendLatentRequest");
  if (!parsed.ok()) {
    service_->messages().Count(kRpc, parsed);
    std::lock_guard<std::mutex> lock(mu_);
    QueueWriteLocked(ErrorAnswer(lip::v1::SendLatentResponse(), parsed));
    return;
  }
  const absl::Time start = absl::Now();
  lip::v1::SendLatentResponse echo = EchoOf(request);
  auto packet = service_->TakePacket(caller_, &request);
  bool header_cached = false;
  absl::StatusOr<LatentMessage> message =
      packet.ok() ? service_->Admit(kRpc, caller_, *packet, read_buffer_.Length(), &header_cached)
                  : absl::StatusOr<LatentMessage>(packet.status());
  if (!message.ok()) {
    service_->messages().Count(kRpc, message.status());
    std::lock_guard<std::mutex> lock(mu_);
    QueueWriteLocked(ErrorAnswer(std::move(echo), message.status()));
    return;
  }
  echo.set_conversation_id(packet->conversation_id());
  echo.set_header_cached(header_cached);
  const std::string key = RecentAnswers::Key(caller_, packet->packet_id(), RequestDigest(read_buffer_));
  if (auto answered = service_->recent_answers().Find(key, absl::Now())) {
    service_->messages().Count(kRpc, absl::OkStatus());
    std::lock_guard<std::mutex> lock(mu_);
    QueueBytesLocked(*answered);  // a repeat of a message answered before: answered once
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++in_receiver_;
  }
  auto done = [this, echo, start, key](BatchedAnswer batched) mutable {
    if (batched.answer.ok()) {
      service_->FillResponse(*batched.answer, batched.queue_ms, batched.batch_size, start, &echo);
      std::string bytes;
      if (echo.SerializeToString(&bytes)) service_->recent_answers().Remember(key, std::move(bytes), absl::Now());
    }
    if (batched.answer.ok() && cancelled_->load()) {
      batched.answer = absl::CancelledError("the stream was cancelled while the message ran");
    }
    service_->messages().Count(kRpc, batched.answer.status());
    if (batched.answer.ok()) {
      MessageAnswered(echo);
    } else {
      MessageAnswered(ErrorAnswer(std::move(echo), batched.answer.status()));
    }
  };
  absl::Status submitted = service_->batcher().Submit(*std::move(message), absl::FromChrono(context_->deadline()),
                                                      cancelled_, std::move(done), Admission::kWaitForRoom);
  if (!submitted.ok()) {
    service_->messages().Count(kRpc, submitted);
    std::lock_guard<std::mutex> lock(mu_);
    --in_receiver_;
    QueueWriteLocked(ErrorAnswer(std::move(echo), submitted));
  }
}

void LatentStreamReactor::MessageAnswered(const lip::v1::SendLatentResponse& response) {
  Actions actions;
  {
    std::lock_guard<std::mutex> lock(mu_);
    --in_receiver_;
    QueueWriteLocked(response);
    actions = NextActionsLocked();
  }
  Perform(actions);  // may finish the call: nothing of `this` is touched after it
}

void LatentStreamReactor::OnWriteDone(bool ok) {
  Actions actions;
  {
    std::lock_guard<std::mutex> lock(mu_);
    writing_ = false;
    writes_.pop_front();
    if (!ok) {
      write_failed_ = true;
      writes_.clear();
    }
    actions = NextActionsLocked();
  }
  Perform(actions);
}

void LatentStreamReactor::OnCancel() {
  cancelled_->store(true);  // the batcher and the pipeline drop this stream's waiting messages
  Actions actions;
  {
    std::lock_guard<std::mutex> lock(mu_);
    actions = NextActionsLocked();
  }
  Perform(actions);
}

void LatentStreamReactor::OnDone() { delete this; }

void LatentStreamReactor::QueueWriteLocked(const lip::v1::SendLatentResponse& response) {
  std::string bytes;
  if (!response.SerializeToString(&bytes)) return;  // cannot happen for a well-formed message
  QueueBytesLocked(bytes);
}

void LatentStreamReactor::QueueBytesLocked(const std::string& bytes) {
  if (write_failed_ || finished_) return;
  grpc::Slice slice(bytes);
  writes_.emplace_back(&slice, 1);
}

LatentStreamReactor::Actions LatentStreamReactor::NextActionsLocked() {
  Actions actions;
  if (finished_) return actions;
  const bool stopping = cancelled_->load() || write_failed_;
  if (!writing_ && !writes_.empty() && !stopping) {
    writing_ = true;
    actions.start_write = &writes_.front();  // deque elements keep their address on push_back
  }
  if (!reading_ && !reads_done_ && !stopping && in_receiver_ < service_->options().stream_window) {
    reading_ = true;
    actions.start_read = true;
  }
  const bool client_done = reads_done_ || stopping;
  if (client_done && !reading_ && !writing_ && in_receiver_ == 0 && (writes_.empty() || stopping)) {
    finished_ = true;
    if (cancelled_->load()) {
      actions.finish = timer_.Finish(grpc::Status(grpc::StatusCode::CANCELLED, "stream cancelled by the client"));
    } else {
      actions.finish = timer_.Finish(grpc::Status::OK);
    }
  }
  return actions;
}

void LatentStreamReactor::Perform(const Actions& actions) {
  if (actions.finish.has_value()) {
    Finish(*actions.finish);  // last: OnDone may delete `this` right after
    return;
  }
  if (actions.start_write != nullptr) StartWrite(actions.start_write);
  if (actions.start_read) StartRead(&read_buffer_);
}

}  // namespace lip
