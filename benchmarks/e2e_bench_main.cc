// lip-e2e-bench: end-to-end latency and throughput of running LIP nodes, through the client
// library over gRPC (mutual TLS unless --insecure). Closed loop: at each concurrency level C, C
// threads (one channel each) send messages back to back until --messages answers or --duration_s
// pass, whichever comes first (both bounds always apply). Paths:
//   latent       client -> Sender.Send (encode to soft tokens) -> receiver -> answer
//   text_relay   client -> Sender.RelayText (the sender generates --generate_tokens tokens) -> receiver
//   direct_text  client -> LatentReceiver.SendText (the receiver reads the original text)
// Prints one JSON object per level (a JSON list in --out): device, model_shapes, path, transport,
// concurrency, messages, throughput_msg_s, p50/p95/p99/max_ms, answers_by_status, and the mean
// stage timings the nodes report. A fallback until the project's load-test tool lands; it measures,
// it never asserts.
//
//   lip-e2e-bench --sender 127.0.0.1:7101 --receiver 127.0.0.1:7102 --path latent \
//       --concurrency 1,4,16 --messages 200 --duration_s 20 --input messages.jsonl \
//       --tls_cert client.crt --tls_key client.key --tls_ca ca.crt --out results.json
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "client/lip_client.h"
#include "nlohmann/json.hpp"

ABSL_FLAG(std::string, sender, "", "sender node host:port (latent, text_relay)");
ABSL_FLAG(std::string, receiver, "", "receiver node host:port (direct_text; also the relay's target)");
ABSL_FLAG(std::string, path, "latent", "latent | text_relay | direct_text");
ABSL_FLAG(std::string, concurrency, "1", "comma-separated concurrency levels");
ABSL_FLAG(int32_t, messages, 100, "answers per level (upper bound)");
ABSL_FLAG(double, duration_s, 30, "seconds per level (upper bound)");
ABSL_FLAG(int32_t, warmup, 3, "unmeasured messages before the first level");
ABSL_FLAG(int32_t, generate_tokens, 32, "text_relay: tokens the sender generates");
ABSL_FLAG(std::string, input, "", "JSON lines with a \"text\" field (required)");
ABSL_FLAG(std::string, labels, " negative, positive", "classify task: comma-separated verbalizers");
ABSL_FLAG(std::string, tls_cert, "", "client certificate (PEM)");
ABSL_FLAG(std::string, tls_key, "", "client key (PEM)");
ABSL_FLAG(std::string, tls_ca, "", "CA certificate (PEM)");
ABSL_FLAG(std::string, server_name, "", "name to verify in the servers' certificates (default: the host)");
ABSL_FLAG(bool, insecure, false, "plaintext (local development only)");
ABSL_FLAG(double, timeout_s, 120, "deadline of each call");
ABSL_FLAG(std::string, device, "", "label: the GPU or CPU the nodes ran on");
ABSL_FLAG(std::string, model_shapes, "", "label: the sender/receiver shapes");
ABSL_FLAG(std::string, out, "", "write the JSON list of levels here (also printed, one line each)");

namespace {

using Json = nlohmann::json;
using Clock = std::chrono::steady_clock;

struct Sample {
  double ms = 0;
  std::string status;  // gRPC status code name
  std::string error;   // the status message when not OK
  lip::v1::StageTimings timings;
  uint64_t wire_bytes = 0;
};

std::string CodeName(absl::StatusCode code) { return absl::StatusCodeToString(code); }

// One request on `path`; fills the sample (latency measured by the caller).
Sample CallOnce(const std::string& path, const std::string& text, lip::SenderClient* sender,
                lip::ReceiverClient* receiver, const std::string& receiver_address, int generate_tokens) {
  Sample s;
  lip::v1::Task task;
  for (absl::string_view label : absl::StrSplit(absl::GetFlag(FLAGS_labels), ',', absl::SkipEmpty())) {
    task.mutable_classify()->add_labels(std::string(label));
  }
  if (path == "latent") {
    lip::v1::SendRequest request;
    request.mutable_encode()->set_text(text);
    *request.mutable_encode()->mutable_task() = task;
    request.set_receiver_address(receiver_address);
    auto r = sender->Send(request);
    s.status = r.ok() ? "OK" : CodeName(r.status().code());
    if (!r.ok()) s.error = std::string(r.status().message());
    if (r.ok()) {
      s.timings = r->timings();
      s.wire_bytes = r->wire_bytes();
    }
  } else if (path == "text_relay") {
    lip::v1::RelayTextRequest request;
    request.set_text(text);
    *request.mutable_task() = task;
    request.set_max_new_tokens(generate_tokens);
    request.set_receiver_address(receiver_address);
    auto r = sender->RelayText(request);
    s.status = r.ok() ? "OK" : CodeName(r.status().code());
    if (!r.ok()) s.error = std::string(r.status().message());
    if (r.ok()) {
      s.timings = r->timings();
      s.wire_bytes = r->wire_bytes();
    }
  } else {
    lip::v1::SendTextRequest request;
    request.set_text(text);
    *request.mutable_task() = task;
    auto r = receiver->SendText(request);
    s.status = r.ok() ? "OK" : CodeName(r.status().code());
    if (!r.ok()) s.error = std::string(r.status().message());
    s.wire_bytes = text.size();
  }
  return s;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(p / 100.0 * v.size()));
  return v[i];
}

int Fail(const std::string& message) {
  std::fprintf(stderr, "lip-e2e-bench: %s\n", message.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("end-to-end latency/throughput of LIP nodes (latent, text_relay, direct_text)");
  absl::ParseCommandLine(argc, argv);
  const std::string path = absl::GetFlag(FLAGS_path);
  if (path != "latent" && path != "text_relay" && path != "direct_text") {
    return Fail("--path must be latent, text_relay or direct_text");
  }
  std::vector<int> levels;
  for (absl::string_view part : absl::StrSplit(absl::GetFlag(FLAGS_concurrency), ',')) {
    int c = 0;
    if (!absl::SimpleAtoi(part, &c) || c < 1 || c > 1024) return Fail("--concurrency: levels in 1..1024");
    levels.push_back(c);
  }
  std::vector<std::string> texts;
  {
    std::ifstream in(absl::GetFlag(FLAGS_input));
    if (!in) return Fail("--input: cannot read \"" + absl::GetFlag(FLAGS_input) + "\"");
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty()) continue;
      Json j = Json::parse(line, nullptr, /*allow_exceptions=*/false);
      if (j.is_object() && j.contains("text") && j["text"].is_string()) texts.push_back(j["text"]);
    }
  }
  if (texts.empty()) return Fail("--input has no {\"text\": ...} lines");
  const bool via_sender = path != "direct_text";
  const std::string target = via_sender ? absl::GetFlag(FLAGS_sender) : absl::GetFlag(FLAGS_receiver);
  if (target.empty()) return Fail(via_sender ? "--sender is required" : "--receiver is required");

  lip::ClientOptions options;
  options.address = target;
  options.tls.cert_file = absl::GetFlag(FLAGS_tls_cert);
  options.tls.key_file = absl::GetFlag(FLAGS_tls_key);
  options.tls.ca_file = absl::GetFlag(FLAGS_tls_ca);
  options.tls.insecure = absl::GetFlag(FLAGS_insecure);
  options.tls.server_name_override = absl::GetFlag(FLAGS_server_name);
  options.timeout = absl::Seconds(absl::GetFlag(FLAGS_timeout_s));
  const std::string receiver_address = via_sender ? absl::GetFlag(FLAGS_receiver) : "";
  const int generate_tokens = absl::GetFlag(FLAGS_generate_tokens);

  // One client (channel) per worker, made before timing starts.
  const int max_workers = *std::max_element(levels.begin(), levels.end());
  std::vector<std::unique_ptr<lip::SenderClient>> senders(max_workers);
  std::vector<std::unique_ptr<lip::ReceiverClient>> receivers(max_workers);
  for (int w = 0; w < max_workers; ++w) {
    if (via_sender) {
      auto c = lip::SenderClient::Connect(options);
      if (!c.ok()) return Fail(c.status().ToString());
      senders[w] = *std::move(c);
    } else {
      auto c = lip::ReceiverClient::Connect(options);
      if (!c.ok()) return Fail(c.status().ToString());
      receivers[w] = *std::move(c);
    }
  }
  for (int i = 0; i < absl::GetFlag(FLAGS_warmup); ++i) {
    Sample s = CallOnce(path, texts[i % texts.size()], senders[0].get(), receivers[0].get(), receiver_address,
                        generate_tokens);
    if (s.status != "OK") return Fail("warm-up message answered " + s.status + ": " + s.error);
  }

  const int max_messages = std::max(1, absl::GetFlag(FLAGS_messages));
  const double max_seconds = std::max(0.1, absl::GetFlag(FLAGS_duration_s));
  Json all = Json::array();
  for (int level : levels) {
    std::atomic<int> issued{0};
    std::mutex mu;
    std::vector<Sample> samples;
    const auto start = Clock::now();
    const auto stop_at = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(max_seconds));
    std::vector<std::thread> workers;
    for (int w = 0; w < level; ++w) {
      workers.emplace_back([&, w] {
        while (Clock::now() < stop_at) {
          const int n = issued.fetch_add(1);
          if (n >= max_messages) return;
          const auto t0 = Clock::now();
          Sample s = CallOnce(path, texts[n % texts.size()], senders[w].get(), receivers[w].get(),
                              receiver_address, generate_tokens);
          s.ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
          std::lock_guard<std::mutex> lock(mu);
          samples.push_back(std::move(s));
        }
      });
    }
    for (auto& t : workers) t.join();
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    std::vector<double> ok_ms;
    std::map<std::string, int> by_status;
    std::string first_error;
    double encode = 0, wire = 0, adapt = 0, prefill = 0, decode = 0, queue = 0, bytes = 0;
    for (const Sample& s : samples) {
      by_status[s.status]++;
      if (s.status != "OK") {
        if (first_error.empty()) first_error = s.error;
        continue;
      }
      ok_ms.push_back(s.ms);
      encode += s.timings.encode_ms();
      wire += s.timings.wire_ms();
      adapt += s.timings.adapt_ms();
      prefill += s.timings.prefill_ms();
      decode += s.timings.decode_ms();
      queue += s.timings.queue_ms();
      bytes += s.wire_bytes;
    }
    const double n_ok = std::max<size_t>(1, ok_ms.size());
    Json j;
    j["device"] = absl::GetFlag(FLAGS_device);
    j["model_shapes"] = absl::GetFlag(FLAGS_model_shapes);
    j["path"] = path;
    j["transport"] = options.tls.insecure ? "grpc+plaintext" : "grpc+mtls";
    j["concurrency"] = level;
    j["messages"] = samples.size();
    j["duration_s"] = elapsed;
    j["throughput_msg_s"] = ok_ms.size() / elapsed;
    j["p50_ms"] = Percentile(ok_ms, 50);
    j["p95_ms"] = Percentile(ok_ms, 95);
    j["p99_ms"] = Percentile(ok_ms, 99);
    j["max_ms"] = Percentile(ok_ms, 100);
    j["answers_by_status"] = by_status;
    if (!first_error.empty()) j["first_error"] = first_error;
    j["wire_bytes_mean"] = bytes / n_ok;
    if (path == "text_relay") j["generate_tokens"] = generate_tokens;
    if (via_sender) {
      j["stage_ms_mean"] = {{"encode", encode / n_ok}, {"wire", wire / n_ok},   {"adapt", adapt / n_ok},
                            {"prefill", prefill / n_ok}, {"decode", decode / n_ok}, {"queue", queue / n_ok}};
    }
    std::printf("%s\n", j.dump().c_str());
    std::fflush(stdout);
    all.push_back(j);
  }
  if (!absl::GetFlag(FLAGS_out).empty()) {
    std::ofstream out(absl::GetFlag(FLAGS_out));
    out << all.dump(2) << "\n";
    if (!out) return Fail("cannot write --out");
  }
  return 0;
}
