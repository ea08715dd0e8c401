// TextBatcher: dynamic batching in front of a SenderPipeline, the sender's counterpart of the
// receiver's LatentBatcher (server/receiver/latent_batcher.h).
//
// Texts from concurrent RPCs are queued in two DynamicBatchers (server/dynamic_batcher.h), each
// with its own worker so that a long generation never holds up encoding:
//   encode  Encode/Send texts -> one SenderPipeline::EncodeEach call per batch (one right-padded
//           sender forward);
//   relay   RelayText texts -> one WriteRelayMessages call per batch (one left-padded generation
//           with one KV cache).
// Both follow the receiver's policy: up to `max_batch_size` per call; a lone message on an idle
// sender runs at once; under concurrent load the oldest waits at most `max_wait` for company;
// past `queue_limit` waiting texts a new one is refused with RESOURCE_EXHAUSTED (QUEUE_FULL).
// A text whose deadline passed or whose caller cancelled before its batch starts does not run
// (DEADLINE_EXCEEDED / CANCELLED). Per-message errors (an empty text, invalid UTF-8, a bad
// budget) fail only that message; a LibTorch failure of a whole call fails its members with that
// status (as on the receiver, there is no one-by-one retry).
//
// Metrics: lip_sender_batch_size{work=encode|relay} (texts per pipeline call),
// lip_sender_queue_depth{work}, lip_sender_rejected_total{work}.
//
// Knows nothing of gRPC. Ownership: the pipeline and the metrics registry are borrowed and must
// outlive the batcher. Thread-safety: Encode and Relay may be called from any number of threads;
// each blocks its caller until its batch ran.
#ifndef LIP_SERVER_SENDER_TEXT_BATCHER_H_
#define LIP_SERVER_SENDER_TEXT_BATCHER_H_

#include <atomic>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "bridge/latent/sender_pipeline.h"
#include "bridge/latent/text_relay.h"
#include "common/node/metrics.h"
#include "server/dynamic_batcher.h"

namespace lip {

template <typename T>
struct Batched {
  absl::StatusOr<T> result;
  double queue_ms = 0;  // from submission to the start of its batch
  int batch_size = 0;   // texts in the pipeline call it ran in (0: it did not run)
};

class TextBatcher {
 public:
  // Asked on the batcher thread before the text runs: true once the caller has gone (e.g. its RPC
  // was cancelled); must be thread-safe.
  using CallerGone = std::function<bool()>;

  TextBatcher(const SenderPipeline* pipeline, DynamicBatcherOptions options, metrics::Registry* metrics);
  // Answers every queued text UNAVAILABLE and joins the workers.
  ~TextBatcher();

  // `text`'s soft tokens, encoded in one batch with whatever else waits.
  Batched<EncodedText> Encode(std::string text, absl::Time deadline, const CallerGone& gone = {});
  // The sender's relay message about `text` (WriteRelayMessage), generated in one batch.
  Batched<GeneratedText> Relay(std::string text, int max_new_tokens, absl::Time deadline,
                               const CallerGone& gone = {});

  const DynamicBatcherOptions& options() const { return encode_.options(); }

 private:
  template <typename Payload, typename T>
  struct Job {
    Payload payload;
    BatchTicket ticket;
    std::shared_ptr<std::promise<Batched<T>>> done;
  };
  using EncodeJob = Job<std::string, EncodedText>;
  using RelayJob = Job<RelayRequest, GeneratedText>;

  void RunEncodes(std::vector<EncodeJob> jobs);
  void RunRelays(std::vector<RelayJob> jobs);

  const SenderPipeline* pipeline_;
  DynamicBatcher<EncodeJob> encode_;
  DynamicBatcher<RelayJob> relay_;
};

}  // namespace lip

#endif  // LIP_SERVER_SENDER_TEXT_BATCHER_H_
