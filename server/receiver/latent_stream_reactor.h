// LatentStreamReactor: one lip.v1.LatentReceiver/StreamLatents call, with flow control.
//
// Reads a request, validates it (as the unary SendLatent does) and hands the message to the
// batcher with Admission::kWaitForRoom; answers are written in completion order, each echoing
// the packet_id / conversation_id / sequence it answers. At most `stream_window` messages of
// the stream are in the receiver at once: when that many are, the next request is not read
// until one is answered, so gRPC's HTTP/2 flow control slows the client down — a fast stream
// waits instead of being refused. A bad message gets a MessageError (code, reason — never
// empty — and message) and the stream goes on.
//
// The call ends when the client has half-closed and every message is answered and written
// (OK), or when the client cancels (CANCELLED; its messages still waiting are dropped).
//
// Ownership: created by ReceiverService::StreamLatents, deletes itself in OnDone. The service
// must outlive it. Thread-safety: gRPC reactions and batcher callbacks arrive on several
// threads; all state is guarded by one mutex, and gRPC operations are started outside it.
#ifndef LIP_SERVER_RECEIVER_LATENT_STREAM_REACTOR_H_
#define LIP_SERVER_RECEIVER_LATENT_STREAM_REACTOR_H_

#include <atomic>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"
#include "lip/v1/receiver.pb.h"
#include "server/rpc_metrics.h"

namespace lip {

class ReceiverService;

class LatentStreamReactor final : public grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  LatentStreamReactor(ReceiverService* service, grpc::CallbackServerContext* context);

  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

 private:
  // What to start once the mutex is released (gRPC operations are never started under it).
  struct Actions {
    bool start_read = false;
    const grpc::ByteBuffer* start_write = nullptr;
    std::optional<grpc::Status> finish;
  };

  // Validates the request just read and submits its message (or queues its error answer).
  void HandleRequest();
  // Called by the batcher when one of this stream's messages is answered.
  void MessageAnswered(const lip::v1::SendLatentResponse& response);
  // Serializes and queues an answer. Holds mu_.
  void QueueWriteLocked(const lip::v1::SendLatentResponse& response);
  // Decides the next read / write / finish from the state. Holds mu_.
  Actions NextActionsLocked();
  void Perform(const Actions& actions);

  ReceiverService* const service_;
  grpc::CallbackServerContext* const context_;
  RpcTimer timer_;
  const std::shared_ptr<std::atomic<bool>> cancelled_;
  grpc::ByteBuffer read_buffer_;

  std::mutex mu_;
  int in_receiver_ = 0;        // messages submitted and not yet answered
  bool reading_ = false;       // a read is started or its request is being handled
  bool reads_done_ = false;    // the client half-closed (or the read failed)
  bool writing_ = false;       // writes_.front() is being written
  bool write_failed_ = false;  // the client is gone: answers are dropped
  bool finished_ = false;
  std::deque<grpc::ByteBuffer> writes_;  // answers waiting to be written (front: in progress)
};

}  // namespace lip

#endif  // LIP_SERVER_RECEIVER_LATENT_STREAM_REACTOR_H_
