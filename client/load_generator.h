// The load generator behind `lipctl bench`: drives a sender (or a receiver) over gRPC with mutual
// TLS on one of three paths and records every answer.
//
//   latent      : Sender.Send — the sender encodes the text into soft tokens and ships a LIP packet;
//   text_relay  : Sender.RelayText with max_new_tokens = N — the sender WRITES a message about the
//                 text (N generated tokens at most, the relay frame of docs/nodes.md) and the
//                 receiver reads what it wrote;
//   direct_text : LatentReceiver.SendText with the original text — the receiver reads the sender's
//                 input itself (nothing is generated, nothing is encoded).
//
// One LoadLevel is one measurement: closed loop (a fixed number of requests in flight, the next one
// issued as soon as one is answered) or open loop (Poisson arrivals at a mean rate, whatever the
// answers do). Every level is bounded by a duration and a message count (a minimum count may stretch
// the duration, to at most ten times); after it stops issuing it
// waits for every request in flight (each has a deadline), so every request sent is answered —
// with OK or with the gRPC status it got (RESOURCE_EXHAUSTED, DEADLINE_EXCEEDED, ...).
//
// Thread-safety: RunLoadLevel may be called from one thread at a time per LoadTargets; the stubs
// are used from gRPC's callback threads.
#ifndef LIP_CLIENT_LOAD_GENERATOR_H_
#define LIP_CLIENT_LOAD_GENERATOR_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "lip/v1/receiver.grpc.pb.h"
#include "lip/v1/sender.grpc.pb.h"

namespace lip {

enum class LoadPath { kLatent, kTextRelay, kDirectText };

// "latent", "text_relay", "direct_text".
const char* LoadPathName(LoadPath path);
// The inverse of LoadPathName; INVALID_ARGUMENT naming the three paths otherwise.
absl::StatusOr<LoadPath> ParseLoadPath(absl::string_view name);

// One message of the load: the text and, when known, its gold label name (e.g. "World").
struct LoadMessage {
  std::string text;
  std::string label;  // empty = unlabelled (no accuracy)
};

// Reads a JSONL file of {"text": ..., "label": ..., "task": ...} objects (label and task optional).
// Keeps rows whose task equals `task` (all rows when `task` is empty), at most `limit` (0 = all).
// INVALID_ARGUMENT naming the line for a row that is not an object with a string "text";
// NOT_FOUND for a missing file; INVALID_ARGUMENT when no row is left.
absl::StatusOr<std::vector<LoadMessage>> ReadLoadMessages(const std::string& path, const std::string& task,
                                                          size_t limit = 0);

// Decides whether a classification answer is right. With label_names (the bridge's training label
// names, in the order of its verbalizers), the answer's label_index must be the gold name's index;
// otherwise the answer's label, trimmed and lower-cased, must equal the gold label's.
struct LabelMatcher {
  std::vector<std::string> label_names;
  bool IsRight(const lip::v1::ClassifyResult& answer, const std::string& gold) const;
};

// The nodes under load. `sender` is needed by latent and text_relay, `receiver` by direct_text.
struct LoadTargets {
  lip::v1::Sender::Stub* sender = nullptr;
  lip::v1::LatentReceiver::Stub* receiver = nullptr;
  std::string receiver_address;  // latent / text_relay: Send to this receiver (empty = the registry picks)
};

struct LoadLevel {
  LoadPath path = LoadPath::kLatent;
  int concurrency = 1;          // closed loop: requests in flight (>= 1)
  double rate_msg_s = 0;        // > 0: open loop, Poisson arrivals at this mean rate (concurrency unused)
  absl::Duration duration = absl::Seconds(10);  // stop issuing after this long ...
  int64_t max_messages = 10000;                 // ... or after this many requests, whichever is first;
  int64_t min_messages = 0;     // but go on past `duration` until this many were sent (slow paths get
                                // enough samples), for at most 10 x duration in all
  int generate_tokens = 32;     // text_relay: the sender's generation budget (1..1024)
  absl::Duration timeout = absl::Seconds(60);   // deadline of every request
  uint64_t seed = 1;            // open-loop arrival times
};

// One answered request.
struct LoadSample {
  double latency_ms = 0;   // from the request's (scheduled) issue time to its answer
  int code = 0;            // gRPC status code
  uint64_t wire_bytes = 0; // OK only: what crossed to the receiver (packet, relayed text or text)
  int right = -1;          // OK + labelled: 1 right, 0 wrong; -1 unknown
  // OK only: the answer's stage timings. encode_ms is the sender's work (encoding, or generation
  // for text_relay; 0 for direct_text), wire_ms the sender-observed round trip minus the receiver's
  // total, the rest the receiver's (queue, adapt, prefill, decode; total_ms is the receiver's total).
  lip::v1::StageTimings stages;
  double sender_node_ms = 0;  // latent and text_relay, OK: the sender node's whole handling (its total)
  bool empty_relay = false;  // text_relay, OK: the sender wrote nothing
  std::string error;         // not OK: the status message
};

struct LevelResult {
  LoadLevel level;
  int64_t sent = 0;
  std::vector<LoadSample> samples;  // one per answered request, in answer order
  double wall_s = 0;                // from the first issue to the last answer
};

// Live progress: called about every 250 ms from the calling thread with the level so far.
using LoadProgress = std::function<void(const LoadLevel&, int64_t sent, int64_t answered, int64_t ok,
                                        double elapsed_s)>;

// Runs one level against `targets`, cycling through `messages` (non-empty). INVALID_ARGUMENT for a
// bad level or a missing stub; otherwise the result (request failures are samples, not errors).
absl::StatusOr<LevelResult> RunLoadLevel(const LoadLevel& level, const LoadTargets& targets,
                                         const std::vector<LoadMessage>& messages, const LabelMatcher& matcher,
                                         const LoadProgress& progress = nullptr);

// The numbers of one level.
struct LevelSummary {
  int64_t sent = 0;
  int64_t answered = 0;
  std::map<std::string, int64_t> answered_by_status;  // "OK", "RESOURCE_EXHAUSTED", ...
  double throughput_msg_s = 0;  // OK answers per second of wall time
  double p50_ms = 0, p95_ms = 0, p99_ms = 0, max_ms = 0, mean_ms = 0;  // OK answers
  double bytes_per_message = 0;                                      // OK answers
  lip::v1::StageTimings stages_mean;                                 // means over OK answers
  double sender_node_ms_mean = 0;  // means over OK answers; mean_ms minus it is the client <-> sender hop
  int64_t labelled = 0, right = 0;                                   // OK answers with a gold label
  std::optional<double> accuracy;                                    // right / labelled
  int64_t empty_relays = 0;
  std::map<std::string, std::string> first_error_by_status;  // e.g. "DEADLINE_EXCEEDED" -> its message
};

LevelSummary Summarize(const LevelResult& result);

// The name of a gRPC status code, e.g. "RESOURCE_EXHAUSTED".
std::string StatusCodeName(int code);

}  // namespace lip

#endif  // LIP_CLIENT_LOAD_GENERATOR_H_
