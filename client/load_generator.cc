#include "client/load_generator.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <fstream>
#include <memory>
#include <mutex>
#include <random>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace lip {
namespace {

using Clock = std::chrono::steady_clock;

double MsBetween(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double, std::milli>(to - from).count();
}

// What every finished request reports back to the level's bookkeeping.
using Finish = std::function<void(LoadSample sample, const lip::v1::SendLatentResponse* answer)>;

template <typename Request, typename Response>
struct Call {
  grpc::ClientContext context;
  Request request;
  Response response;
};

// Starts `call` with `start` (an async stub method bound to its context, request and response);
// `finish` runs once, on a gRPC thread, with the sample `fill` makes of an OK answer.
template <typename Request, typename Response, typename Start, typename Fill>
void StartCall(Call<Request, Response>* call, Start start, Fill fill, Finish finish) {
  start(&call->context, &call->request, &call->response,
        [call, fill = std::move(fill), finish = std::move(finish)](grpc::Status status) {
          LoadSample sample;
          sample.code = status.error_code();
          sample.error = status.error_message();
          const lip::v1::SendLatentResponse* answer = nullptr;
          if (status.ok()) answer = fill(*call, &sample);
          finish(sample, answer);
          delete call;
        });
}

// Starts one request on `level.path` for `message`; `finish` runs once, on a gRPC thread, when it
// is answered (OK or not).
void Issue(const LoadLevel& level, const LoadTargets& targets, const LoadMessage& message, Finish finish) {
  const auto deadline = std::chrono::system_clock::now() + absl::ToChronoMilliseconds(level.timeout);
  switch (level.path) {
    case LoadPath::kLatent: {
      auto* call = new Call<lip::v1::SendRequest, lip::v1::SendResponse>;
      call->context.set_deadline(deadline);
      call->request.mutable_encode()->set_text(message.text);
      call->request.set_receiver_address(targets.receiver_address);
      StartCall(
          call,
          [&](auto... args) { targets.sender->async()->Send(args...); },
          [](const auto& done, LoadSample* sample) {
            sample->wire_bytes = done.response.wire_bytes();
            sample->stages = done.response.timings();  // encode, wire and the receiver's stages
            sample->sender_node_ms = done.response.timings().total_ms();
            sample->stages.set_total_ms(done.response.answer().timings().total_ms());
            return &done.response.answer();
          },
          std::move(finish));
      return;
    }
    case LoadPath::kTextRelay: {
      auto* call = new Call<lip::v1::RelayTextRequest, lip::v1::RelayTextResponse>;
      call->context.set_deadline(deadline);
      call->request.set_text(message.text);
      call->request.set_max_new_tokens(static_cast<uint32_t>(level.generate_tokens));
      call->request.set_receiver_address(targets.receiver_address);
      StartCall(
          call,
          [&](auto... args) { targets.sender->async()->RelayText(args...); },
          [](const auto& done, LoadSample* sample) {
            sample->wire_bytes = done.response.wire_bytes();
            sample->stages = done.response.timings();  // encode_ms holds the generation
            sample->sender_node_ms = done.response.timings().total_ms();
            sample->stages.set_total_ms(done.response.answer().timings().total_ms());
            sample->empty_relay = done.response.relayed_text().empty();
            return &done.response.answer();
          },
          std::move(finish));
      return;
    }
    case LoadPath::kDirectText: {
      auto* call = new Call<lip::v1::SendTextRequest, lip::v1::SendLatentResponse>;
      call->context.set_deadline(deadline);
      call->request.set_text(message.text);  // empty task = the bridge's labels
      StartCall(
          call,
          [&](auto... args) { targets.receiver->async()->SendText(args...); },
          [](const auto& done, LoadSample* sample) {
            sample->wire_bytes = done.request.text().size();
            sample->stages = done.response.timings();  // the receiver's stages only
            return &done.response;
          },
          std::move(finish));
      return;
    }
  }
}

// The level's shared bookkeeping (the calling thread issues, gRPC threads finish).
struct LevelState {
  std::mutex mu;
  std::condition_variable changed;
  int64_t sent = 0;
  int64_t in_flight = 0;
  int64_t ok = 0;
  std::vector<LoadSample> samples;
  Clock::time_point last_answer;
};

double Percentile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0;
  // Nearest rank: the smallest value with at least q of the samples at or below it.
  const size_t rank = static_cast<size_t>(std::ceil(q * sorted.size()));
  return sorted[std::min(sorted.size() - 1, rank == 0 ? 0 : rank - 1)];
}

}  // namespace

const char* LoadPathName(LoadPath path) {
  switch (path) {
    case LoadPath::kLatent: return "latent";
    case LoadPath::kTextRelay: return "text_relay";
    case LoadPath::kDirectText: return "direct_text";
  }
  return "?";
}

absl::StatusOr<LoadPath> ParseLoadPath(absl::string_view name) {
  for (LoadPath path : {LoadPath::kLatent, LoadPath::kTextRelay, LoadPath::kDirectText}) {
    if (name == LoadPathName(path)) return path;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("path \"", name, "\" is not latent, text_relay or direct_text"));
}

absl::StatusOr<std::vector<LoadMessage>> ReadLoadMessages(const std::string& path, const std::string& task,
                                                          size_t limit) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read messages file \"", path, "\""));
  std::vector<LoadMessage> messages;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (absl::StripAsciiWhitespace(line).empty()) continue;
    nlohmann::json row = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!row.is_object() || !row.contains("text") || !row["text"].is_string()) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ":", number, ": not a JSON object with a string \"text\""));
    }
    if (!task.empty() && row.value("task", std::string()) != task) continue;
    LoadMessage message;
    message.text = row["text"].get<std::string>();
    if (row.contains("label") && row["label"].is_string()) message.label = row["label"].get<std::string>();
    messages.push_back(std::move(message));
    if (limit > 0 && messages.size() >= limit) break;
  }
  if (messages.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("no messages", task.empty() ? "" : " of task " + task,
                                                   " in \"", path, "\""));
  }
  return messages;
}

bool LabelMatcher::IsRight(const lip::v1::ClassifyResult& answer, const std::string& gold) const {
  auto it = std::find(label_names.begin(), label_names.end(), gold);
  if (it != label_names.end()) return answer.label_index() == static_cast<uint32_t>(it - label_names.begin());
  return absl::AsciiStrToLower(absl::StripAsciiWhitespace(answer.label())) ==
         absl::AsciiStrToLower(absl::StripAsciiWhitespace(gold));
}

absl::StatusOr<LevelResult> RunLoadLevel(const LoadLevel& level, const LoadTargets& targets,
                                         const std::vector<LoadMessage>& messages, const LabelMatcher& matcher,
                                         const LoadProgress& progress) {
  if (messages.empty()) return absl::InvalidArgumentError("no messages to send");
  if (level.rate_msg_s <= 0 && level.concurrency < 1) {
    return absl::InvalidArgumentError(absl::StrCat("concurrency is ", level.concurrency, ", expected >= 1"));
  }
  if (level.max_messages < 1 || level.duration <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("a level needs a positive duration and message count");
  }
  if (level.path == LoadPath::kTextRelay && (level.generate_tokens < 1 || level.generate_tokens > 1024)) {
    return absl::InvalidArgumentError(
        absl::StrCat("generate_tokens is ", level.generate_tokens, ", expected 1..1024"));
  }
  if (level.path == LoadPath::kDirectText ? targets.receiver == nullptr : targets.sender == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("path ", LoadPathName(level.path), " needs a ",
                                                   level.path == LoadPath::kDirectText ? "receiver" : "sender",
                                                   " to call"));
  }

  auto state = std::make_shared<LevelState>();
  const Clock::time_point start = Clock::now();
  const Clock::time_point end = start + absl::ToChronoNanoseconds(level.duration);
  const Clock::time_point hard_end = start + absl::ToChronoNanoseconds(level.duration * 10);
  // Issuing goes on until `end`, or past it until min_messages were sent (at most until hard_end).
  auto keep_issuing = [&](Clock::time_point t) {
    return t < end || (state->sent < level.min_messages && t < hard_end);
  };
  Clock::time_point next_progress = start;
  auto report = [&](bool force) {
    // Called with state->mu held.
    const Clock::time_point now = Clock::now();
    if (!force && now < next_progress) return;
    next_progress = now + std::chrono::milliseconds(250);
    if (!progress) return;
    progress(level, state->sent, static_cast<int64_t>(state->samples.size()), state->ok,
             MsBetween(start, now) / 1000);
  };
  // Issues message number `index`, counted from `scheduled` (call without state->mu held).
  auto issue = [&](int64_t index, Clock::time_point scheduled) {
    const LoadMessage& message = messages[index % messages.size()];
    const std::string gold = message.label;
    Issue(level, targets, message,
          [state, scheduled, gold, &matcher](LoadSample sample, const lip::v1::SendLatentResponse* answer) {
            const Clock::time_point now = Clock::now();
            sample.latency_ms = MsBetween(scheduled, now);
            if (answer != nullptr && !gold.empty() && answer->has_classification()) {
              sample.right = matcher.IsRight(answer->classification(), gold) ? 1 : 0;
            }
            {
              std::lock_guard<std::mutex> lock(state->mu);
              state->samples.push_back(sample);
              if (sample.code == 0) ++state->ok;
              --state->in_flight;
              state->last_answer = std::max(state->last_answer, now);
            }
            state->changed.notify_all();
          });
  };

  std::unique_lock<std::mutex> lock(state->mu);
  if (level.rate_msg_s > 0) {
    // Open loop: exponential gaps between arrivals; a request is issued at its arrival time whether
    // or not earlier ones were answered.
    std::mt19937_64 random(level.seed);
    std::exponential_distribution<double> gap_s(level.rate_msg_s);
    Clock::time_point arrival = start;
    while (state->sent < level.max_messages) {
      arrival += std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(gap_s(random)));
      if (!keep_issuing(arrival)) break;
      while (Clock::now() < arrival) {
        state->changed.wait_until(lock, std::min(arrival, next_progress));
        report(false);
      }
      const int64_t index = state->sent++;
      ++state->in_flight;
      lock.unlock();
      issue(index, arrival);
      lock.lock();
    }
  } else {
    // Closed loop: `concurrency` requests in flight; the next is issued when one is answered.
    while (state->sent < level.max_messages && keep_issuing(Clock::now())) {
      if (state->in_flight >= level.concurrency) {
        state->changed.wait_until(lock, next_progress);
        report(false);
        continue;
      }
      const int64_t index = state->sent++;
      ++state->in_flight;
      lock.unlock();
      issue(index, Clock::now());
      lock.lock();
      report(false);
    }
  }
  // Stop issuing; every request in flight has a deadline, so this ends.
  while (state->in_flight > 0) {
    state->changed.wait_until(lock, next_progress);
    report(false);
  }
  report(true);
  LevelResult result;
  result.level = level;
  result.sent = state->sent;
  result.samples = state->samples;
  result.wall_s = state->samples.empty() ? MsBetween(start, Clock::now()) / 1000
                                         : MsBetween(start, state->last_answer) / 1000;
  return result;
}

std::string StatusCodeName(int code) {
  return absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
}

LevelSummary Summarize(const LevelResult& result) {
  LevelSummary s;
  s.sent = result.sent;
  s.answered = static_cast<int64_t>(result.samples.size());
  std::vector<double> latencies;
  double bytes = 0;
  lip::v1::StageTimings sums;
  double sender_node_sum = 0;
  for (const LoadSample& sample : result.samples) {
    ++s.answered_by_status[StatusCodeName(sample.code)];
    if (sample.code != 0) {
      s.first_error_by_status.emplace(StatusCodeName(sample.code), sample.error);
      continue;
    }
    latencies.push_back(sample.latency_ms);
    bytes += static_cast<double>(sample.wire_bytes);
    const lip::v1::StageTimings& t = sample.stages;
    sums.set_encode_ms(sums.encode_ms() + t.encode_ms());
    sums.set_wire_ms(sums.wire_ms() + t.wire_ms());
    sums.set_queue_ms(sums.queue_ms() + t.queue_ms());
    sums.set_adapt_ms(sums.adapt_ms() + t.adapt_ms());
    sums.set_prefill_ms(sums.prefill_ms() + t.prefill_ms());
    sums.set_decode_ms(sums.decode_ms() + t.decode_ms());
    sums.set_total_ms(sums.total_ms() + t.total_ms());
    sums.set_sender_queue_ms(sums.sender_queue_ms() + t.sender_queue_ms());
    sums.set_sender_pipeline_ms(sums.sender_pipeline_ms() + t.sender_pipeline_ms());
    sender_node_sum += sample.sender_node_ms;
    if (sample.right >= 0) {
      ++s.labelled;
      s.right += sample.right;
    }
    s.empty_relays += sample.empty_relay ? 1 : 0;
  }
  const double ok = static_cast<double>(latencies.size());
  if (ok > 0) {
    std::sort(latencies.begin(), latencies.end());
    s.p50_ms = Percentile(latencies, 0.50);
    s.p95_ms = Percentile(latencies, 0.95);
    s.p99_ms = Percentile(latencies, 0.99);
    s.max_ms = latencies.back();
    double sum = 0;
    for (double v : latencies) sum += v;
    s.mean_ms = sum / ok;
    s.bytes_per_message = bytes / ok;
    s.stages_mean.set_encode_ms(sums.encode_ms() / ok);
    s.stages_mean.set_wire_ms(sums.wire_ms() / ok);
    s.stages_mean.set_queue_ms(sums.queue_ms() / ok);
    s.stages_mean.set_adapt_ms(sums.adapt_ms() / ok);
    s.stages_mean.set_prefill_ms(sums.prefill_ms() / ok);
    s.stages_mean.set_decode_ms(sums.decode_ms() / ok);
    s.stages_mean.set_total_ms(sums.total_ms() / ok);
    s.stages_mean.set_sender_queue_ms(sums.sender_queue_ms() / ok);
    s.stages_mean.set_sender_pipeline_ms(sums.sender_pipeline_ms() / ok);
    s.sender_node_ms_mean = sender_node_sum / ok;
  }
  if (result.wall_s > 0) s.throughput_msg_s = ok / result.wall_s;
  if (s.labelled > 0) s.accuracy = static_cast<double>(s.right) / static_cast<double>(s.labelled);
  return s;
}

}  // namespace lip
