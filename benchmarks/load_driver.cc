// lip_load_driver: open-loop load against one node for the soak and chaos
// scripts (benchmarks/soak.sh, benchmarks/failover_chaos.sh). Bounded in time
// and count; 127.0.0.1 nodes only in the scripts.
//
//   --target=receiver: packets are made once by the sender's Encode (texts of
//     --texts, a JSONL file with a "text" field), then sent with SendLatent
//     straight to --receiver (the driver's certificate must have the sender role).
//   --target=sender: each message is a Send (text -> sender -> a receiver the
//     sender picks), the path a client uses, so sender failover is measured.
//
// --rate=R sends R messages per second on a fixed schedule (open loop, async
// gRPC: a slow node does not slow the schedule). --rate=0 first measures
// saturation with --calibrate_concurrency calls in flight for --calibrate_s
// seconds, then sends at --load_factor times that throughput. Each call has
// --deadline_ms. When the run ends, every call has been answered (a call that
// did not end by its deadline + 5 s counts as "unanswered").
//
// Output (stdout, one JSON object): rate, sent, answered per status code,
// unanswered, latency percentiles of OK answers, per-second counts of non-OK
// answers, and the time of the first and last non-OK answer.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <nlohmann/json.hpp>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/lip_client.h"
#include "common/node/grpc_status.h"

ABSL_FLAG(std::string, target, "receiver", "receiver (SendLatent) or sender (Send)");
ABSL_FLAG(std::string, sender, "", "sender host:port (Encode for --target=receiver; Send for --target=sender)");
ABSL_FLAG(std::string, receiver, "", "receiver host:port (--target=receiver)");
ABSL_FLAG(std::string, certs, "", "directory with ca.crt and <identity>.crt/.key");
ABSL_FLAG(std::string, identity, "sender", "certificate used for the load calls");
ABSL_FLAG(std::string, encode_identity, "admin", "certificate used for Encode");
ABSL_FLAG(std::string, texts, "demo/messages.jsonl", "JSONL file with a \"text\" field per line");
ABSL_FLAG(std::string, task, "", "only lines whose \"task\" field equals this (empty = all)");
ABSL_FLAG(int, max_texts, 32, "distinct messages to cycle through");
ABSL_FLAG(double, rate, 0, "messages per second; 0 = measure saturation first");
ABSL_FLAG(double, load_factor, 2.0, "with --rate=0: multiple of the measured saturation throughput");
ABSL_FLAG(int, calibrate_s, 15, "with --rate=0: seconds of closed-loop calibration");
ABSL_FLAG(int, calibrate_concurrency, 16, "with --rate=0: calls in flight while calibrating");
ABSL_FLAG(double, duration_s, 60, "seconds of load");
ABSL_FLAG(int, deadline_ms, 5000, "deadline of each call");
ABSL_FLAG(int64_t, max_messages, 2000000, "upper bound on messages sent");

namespace lip {
namespace {

using Clock = std::chrono::steady_clock;

struct Result {
  grpc::StatusCode code;
  double seconds_since_start;  // when the answer came
  double latency_ms;
};

// One message in flight.
struct Call {
  grpc::ClientContext context;
  grpc::Status status;
  lip::v1::SendLatentResponse latent_response;
  lip::v1::SendResponse send_response;
  std::unique_ptr<grpc::ClientAsyncResponseReader<lip::v1::SendLatentResponse>> latent_reader;
  std::unique_ptr<grpc::ClientAsyncResponseReader<lip::v1::SendResponse>> send_reader;
  Clock::time_point start;
};

class Driver {
 public:
  Driver(std::shared_ptr<grpc::Channel> channel, bool to_receiver,
         std::vector<lip::v1::SendLatentRequest> packets, std::vector<lip::v1::SendRequest> sends)
      : to_receiver_(to_receiver),
        receiver_stub_(lip::v1::LatentReceiver::NewStub(channel)),
        sender_stub_(lip::v1::Sender::NewStub(channel)),
        packets_(std::move(packets)),
        sends_(std::move(sends)) {}

  // Starts message i (async) on the completion queue.
  void Start(int64_t i) {
    auto* call = new Call;
    call->start = Clock::now();
    call->context.set_deadline(std::chrono::system_clock::now() +
                               std::chrono::milliseconds(absl::GetFlag(FLAGS_deadline_ms)));
    if (to_receiver_) {
      call->latent_reader = receiver_stub_->AsyncSendLatent(&call->context, packets_[i % packets_.size()], &cq_);
      call->latent_reader->Finish(&call->latent_response, &call->status, call);
    } else {
      call->send_reader = sender_stub_->AsyncSend(&call->context, sends_[i % sends_.size()], &cq_);
      call->send_reader->Finish(&call->send_response, &call->status, call);
    }
    in_flight_.fetch_add(1);
  }

  // Reaps answers until `stop` and nothing is in flight (or the grace time ends).
  void Reap(std::atomic<bool>* stop) {
    void* tag;
    bool ok;
    for (;;) {
      const auto wait = std::chrono::system_clock::now() + std::chrono::milliseconds(200);
      const auto next = cq_.AsyncNext(&tag, &ok, wait);
      if (next == grpc::CompletionQueue::GOT_EVENT) {
        std::unique_ptr<Call> call(static_cast<Call*>(tag));
        const auto now = Clock::now();
        std::lock_guard<std::mutex> lock(mu_);
        results_.push_back({call->status.error_code(),
                            std::chrono::duration<double>(now - t0_).count(),
                            std::chrono::duration<double, std::milli>(now - call->start).count()});
        if (!call->status.ok() && examples_.size() < 8 &&
            examples_.count(call->status.error_code()) == 0) {
          examples_[call->status.error_code()] = call->status.error_message();
        }
        in_flight_.fetch_sub(1);
      } else if (next == grpc::CompletionQueue::SHUTDOWN) {
        return;
      }
      if (stop->load() && in_flight_.load() == 0) return;
      if (stop->load() && Clock::now() > stop_deadline_.load()) return;  // unanswered ones stay counted
    }
  }

  // Call before a phase's reaper starts: answer times count from t0.
  void BeginPhase(Clock::time_point t0) {
    t0_ = t0;
    stop_deadline_ = Clock::time_point::max();
  }
  void SetStopDeadline(Clock::time_point t) { stop_deadline_ = t; }
  int64_t in_flight() const { return in_flight_.load(); }
  std::vector<Result> TakeResults() {
    std::lock_guard<std::mutex> lock(mu_);
    return std::move(results_);
  }
  std::map<grpc::StatusCode, std::string> examples() {
    std::lock_guard<std::mutex> lock(mu_);
    return examples_;
  }

 private:
  const bool to_receiver_;
  std::unique_ptr<lip::v1::LatentReceiver::Stub> receiver_stub_;
  std::unique_ptr<lip::v1::Sender::Stub> sender_stub_;
  std::vector<lip::v1::SendLatentRequest> packets_;
  std::vector<lip::v1::SendRequest> sends_;
  grpc::CompletionQueue cq_;
  std::atomic<int64_t> in_flight_{0};
  Clock::time_point t0_;
  std::atomic<Clock::time_point> stop_deadline_{Clock::time_point::max()};
  std::mutex mu_;
  std::vector<Result> results_;
  std::map<grpc::StatusCode, std::string> examples_;
};

std::string CodeName(grpc::StatusCode code) {
  return absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
}

ClientOptions Options(const std::string& address, const std::string& identity) {
  const std::string dir = absl::GetFlag(FLAGS_certs);
  ClientOptions options;
  options.address = address;
  options.tls = {dir + "/" + identity + ".crt", dir + "/" + identity + ".key", dir + "/ca.crt"};
  options.timeout = absl::Seconds(60);
  return options;
}

int Fail(const std::string& what) {
  std::fprintf(stderr, "lip_load_driver: %s\n", what.c_str());
  return 1;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

// Closed loop with `concurrency` calls in flight for `seconds`: OK answers per second.
double MeasureSaturation(Driver& driver, int concurrency, int seconds) {
  std::atomic<bool> stop{false};
  const auto t0 = Clock::now();
  driver.BeginPhase(t0);
  std::thread reaper([&] { driver.Reap(&stop); });
  int64_t i = 0;
  const auto end = t0 + std::chrono::seconds(seconds);
  while (Clock::now() < end) {
    while (driver.in_flight() < concurrency) driver.Start(i++);
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  const int64_t sent = i;
  stop = true;
  driver.SetStopDeadline(Clock::now() + std::chrono::milliseconds(absl::GetFlag(FLAGS_deadline_ms) + 5000));
  reaper.join();
  auto results = driver.TakeResults();
  int64_t ok = 0;
  for (const Result& r : results) ok += r.code == grpc::StatusCode::OK && r.seconds_since_start <= seconds;
  std::fprintf(stderr, "lip_load_driver: calibration sent %lld, %lld OK in %d s\n",
               static_cast<long long>(sent), static_cast<long long>(ok), seconds);
  return static_cast<double>(ok) / seconds;
}

int Run() {
  const std::string target = absl::GetFlag(FLAGS_target);
  const bool to_receiver = target == "receiver";
  if (!to_receiver && target != "sender") return Fail("--target must be receiver or sender");
  if (absl::GetFlag(FLAGS_sender).empty()) return Fail("--sender is required");
  if (to_receiver && absl::GetFlag(FLAGS_receiver).empty()) return Fail("--receiver is required");

  std::vector<std::string> texts;
  std::ifstream in(absl::GetFlag(FLAGS_texts));
  for (std::string line; std::getline(in, line) && static_cast<int>(texts.size()) < absl::GetFlag(FLAGS_max_texts);) {
    if (line.empty()) continue;
    const auto row = nlohmann::json::parse(line, nullptr, false);
    if (row.is_discarded() || !row.contains("text")) continue;
    if (!absl::GetFlag(FLAGS_task).empty() && row.value("task", "") != absl::GetFlag(FLAGS_task)) continue;
    texts.push_back(row["text"].get<std::string>());
  }
  if (texts.empty()) return Fail("no texts in " + absl::GetFlag(FLAGS_texts));

  std::vector<lip::v1::SendLatentRequest> packets;
  std::vector<lip::v1::SendRequest> sends;
  for (const std::string& text : texts) {
    lip::v1::SendRequest send;
    send.mutable_encode()->set_text(text);
    // No task: the sender fills in the bridge's own task and labels (as lipctl node send does).
    sends.push_back(send);
  }
  if (to_receiver) {
    auto encoder = SenderClient::Connect(Options(absl::GetFlag(FLAGS_sender), absl::GetFlag(FLAGS_encode_identity)));
    if (!encoder.ok()) return Fail(encoder.status().ToString());
    for (const auto& send : sends) {
      auto encoded = (*encoder)->Encode(send.encode());
      if (!encoded.ok()) return Fail("Encode: " + encoded.status().ToString());
      lip::v1::SendLatentRequest request;
      *request.mutable_packet() = encoded->packet();
      packets.push_back(std::move(request));
    }
  }
  const std::string address = to_receiver ? absl::GetFlag(FLAGS_receiver) : absl::GetFlag(FLAGS_sender);
  auto channel = MakeClientChannel(Options(address, absl::GetFlag(FLAGS_identity)));
  if (!channel.ok()) return Fail(channel.status().ToString());
  Driver driver(*channel, to_receiver, packets, sends);

  double rate = absl::GetFlag(FLAGS_rate);
  double saturation = 0;
  if (rate <= 0) {
    saturation = MeasureSaturation(driver, absl::GetFlag(FLAGS_calibrate_concurrency),
                                   absl::GetFlag(FLAGS_calibrate_s));
    rate = std::max(1.0, saturation * absl::GetFlag(FLAGS_load_factor));
  }
  std::fprintf(stderr, "lip_load_driver: %.1f messages/s for %.0f s\n", rate, absl::GetFlag(FLAGS_duration_s));
  std::printf("{\"event\":\"load_start\",\"rate\":%.2f}\n", rate);
  std::fflush(stdout);

  std::atomic<bool> stop{false};
  const auto t0 = Clock::now();
  driver.BeginPhase(t0);
  std::thread reaper([&] { driver.Reap(&stop); });
  const double duration = absl::GetFlag(FLAGS_duration_s);
  const int64_t total = std::min<int64_t>(absl::GetFlag(FLAGS_max_messages),
                                          static_cast<int64_t>(rate * duration));
  int64_t sent = 0;
  for (; sent < total; ++sent) {
    std::this_thread::sleep_until(t0 + std::chrono::microseconds(static_cast<int64_t>(sent * 1e6 / rate)));
    driver.Start(sent);
  }
  stop = true;
  driver.SetStopDeadline(Clock::now() + std::chrono::milliseconds(absl::GetFlag(FLAGS_deadline_ms) + 5000));
  reaper.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
  auto results = driver.TakeResults();

  nlohmann::json out;
  out["target"] = target;
  out["address"] = address;
  out["saturation_per_s"] = saturation;
  out["rate_per_s"] = rate;
  out["duration_s"] = duration;
  out["elapsed_s"] = elapsed;
  out["deadline_ms"] = absl::GetFlag(FLAGS_deadline_ms);
  out["sent"] = sent;
  out["answered"] = results.size();
  out["unanswered"] = sent - static_cast<int64_t>(results.size());
  std::map<std::string, int64_t> codes;
  std::map<int, int64_t> failures_per_second;
  std::vector<double> ok_latency;
  double first_failure = -1, last_failure = -1;
  for (const Result& r : results) {
    codes[CodeName(r.code)]++;
    if (r.code == grpc::StatusCode::OK) {
      ok_latency.push_back(r.latency_ms);
    } else {
      failures_per_second[static_cast<int>(r.seconds_since_start)]++;
      if (first_failure < 0) first_failure = r.seconds_since_start;
      first_failure = std::min(first_failure, r.seconds_since_start);
      last_failure = std::max(last_failure, r.seconds_since_start);
    }
  }
  out["codes"] = codes;
  out["ok_per_s"] = static_cast<double>(codes["OK"]) / duration;
  out["ok_latency_ms"] = {{"p50", Percentile(ok_latency, 0.5)},
                          {"p90", Percentile(ok_latency, 0.9)},
                          {"p99", Percentile(ok_latency, 0.99)},
                          {"max", Percentile(ok_latency, 1.0)}};
  nlohmann::json per_second = nlohmann::json::object();
  for (const auto& [second, n] : failures_per_second) per_second[std::to_string(second)] = n;
  out["failures_per_second"] = per_second;
  out["first_failure_s"] = first_failure;
  out["last_failure_s"] = last_failure;
  nlohmann::json examples = nlohmann::json::object();
  for (const auto& [code, message] : driver.examples()) examples[CodeName(code)] = message.substr(0, 200);
  out["error_examples"] = examples;
  std::printf("%s\n", out.dump().c_str());
  return 0;
}

}  // namespace
}  // namespace lip

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return lip::Run();
}
