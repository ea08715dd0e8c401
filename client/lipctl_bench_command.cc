// lipctl bench: the load test (client/load_generator.h) as a sweep.
//
//   lipctl bench --sender HOST:PORT [--receiver HOST:PORT] --cert F --key F --ca F
//       [--paths latent,text_relay,direct_text] [--messages demo/messages.jsonl] [--task T]
//       [--concurrency 1,2,4,8 | --max-concurrency 8] [--rates 5,10] [--rate-fractions 0.5,0.9]
//       [--duration-s 10] [--max-messages 10000] [--min-messages 0] [--generate-tokens 32] [--warmup 2]
//       [--label-names a,b | --bridge-json FILE] [--to RECEIVER]
//       [--json FILE] [--csv FILE] [--device TEXT] [--models TEXT] [--model-shapes JSON] [--quiet]
//
// For every path: the closed-loop levels (one per concurrency), then the open-loop levels (Poisson
// arrivals at each of --rates msg/s, and at each of --rate-fractions times the saturation
// throughput the closed loop just measured for that path). Warm-up requests before each path are
// not counted. A live progress line goes to stderr; the result (schema in benchmarks/README.md)
// goes to --json (default stdout), one CSV row per level to --csv.
//
// Exit status: 0 when every request sent was answered and every answer is OK or
// RESOURCE_EXHAUSTED; 1 otherwise (the results are written either way); 2 for bad arguments.
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <ctime>
#include <fstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "client/lip_client.h"
#include "client/lipctl_command.h"
#include "client/load_generator.h"
#include "nlohmann/json.hpp"

namespace lip {
namespace {

using Json = nlohmann::ordered_json;

int Usage(const absl::Status& status) {
  std::fprintf(stderr, "lipctl bench: %s\n", status.ToString().c_str());
  return kLipctlUsage;
}

double Round3(double v) { return std::round(v * 1000) / 1000; }

absl::StatusOr<std::vector<double>> NumberList(const LipctlArgs& args, const std::string& flag) {
  std::vector<double> out;
  if (!args.Has(flag)) return out;
  for (absl::string_view item : absl::StrSplit(args.Get(flag), ',', absl::SkipEmpty())) {
    double value = 0;
    if (!absl::SimpleAtod(item, &value) || !(value > 0)) {
      return absl::InvalidArgumentError(absl::StrCat("--", flag, ": \"", item, "\" is not a positive number"));
    }
    out.push_back(value);
  }
  return out;
}

// The 1-minute load average of this machine (Linux), or -1.
double LoadAverage1m() {
  std::ifstream in("/proc/loadavg");
  double value = -1;
  if (in) in >> value;
  return value;
}

std::string UtcNow() { return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::Now(), absl::UTCTimeZone()); }

Json StatusCounts(const std::map<std::string, int64_t>& counts) {
  Json j = Json::object();
  for (const auto& [name, n] : counts) j[name] = n;
  return j;
}

// Totals of one path over all its levels, for the "paths" block.
struct PathTotals {
  int64_t sent = 0, answered = 0, ok = 0, labelled = 0, right = 0, empty_relays = 0;
  double bytes = 0;
  std::map<std::string, int64_t> by_status;
  std::map<std::string, std::string> errors;  // first message per status other than OK
  double saturation = 0;
  int saturation_concurrency = 0;
  std::optional<double> p50_c1, p99_c1, p95_c1;
};

}  // namespace

int RunBench(const std::vector<std::string>& raw) {
  auto parsed = LipctlArgs::Parse(
      raw,
      {"sender", "receiver", "cert", "key", "ca", "server-name", "timeout-ms", "to", "paths", "messages", "task",
       "limit", "concurrency", "max-concurrency", "rates", "rate-fractions", "duration-s", "max-messages",
       "generate-tokens", "warmup", "min-messages", "label-names", "bridge-json", "json", "csv", "device", "models",
       "model-shapes", "seed"},
      {"insecure", "quiet"});
  if (!parsed.ok()) return Usage(parsed.status());
  const LipctlArgs& args = *parsed;
  if (!args.positional().empty()) return Usage(absl::InvalidArgumentError("bench takes no positional arguments"));

  // Paths and the nodes they need.
  std::vector<LoadPath> paths;
  for (absl::string_view name : absl::StrSplit(args.Get("paths", "latent,text_relay,direct_text"), ',',
                                               absl::SkipEmpty())) {
    auto path = ParseLoadPath(name);
    if (!path.ok()) return Usage(path.status());
    paths.push_back(*path);
  }
  if (paths.empty()) return Usage(absl::InvalidArgumentError("--paths names no path"));

  // Levels.
  std::vector<int> concurrencies;
  if (args.Has("concurrency")) {
    auto list = NumberList(args, "concurrency");
    if (!list.ok()) return Usage(list.status());
    for (double c : *list) concurrencies.push_back(static_cast<int>(c));
  } else {
    auto max = args.GetInt("max-concurrency", 8, 1, 1024);
    if (!max.ok()) return Usage(max.status());
    for (int c = 1; c <= *max; c *= 2) concurrencies.push_back(c);
    if (concurrencies.back() != *max) concurrencies.push_back(static_cast<int>(*max));
  }
  auto rates = NumberList(args, "rates");
  if (!rates.ok()) return Usage(rates.status());
  auto fractions = NumberList(args, "rate-fractions");
  if (!fractions.ok()) return Usage(fractions.status());
  auto duration_s = NumberList(args, "duration-s");
  if (!duration_s.ok()) return Usage(duration_s.status());
  auto max_messages = args.GetInt("max-messages", 10000, 1, 100000000);
  auto min_messages = args.GetInt("min-messages", 0, 0, 100000000);
  auto tokens = args.GetInt("generate-tokens", 32, 1, 1024);
  auto warmup = args.GetInt("warmup", 2, 0, 1000);
  auto timeout_ms = args.GetInt("timeout-ms", 60000, 1, 3600000);
  auto limit = args.GetInt("limit", 0, 0, 100000000);
  auto seed = args.GetInt("seed", 1, 0, 1LL << 62);
  for (const auto* value : {&max_messages, &min_messages, &tokens, &warmup, &timeout_ms, &limit, &seed}) {
    if (!value->ok()) return Usage(value->status());
  }

  // Messages and how to score them.
  const std::string messages_file = args.Get("messages", "demo/messages.jsonl");
  auto messages = ReadLoadMessages(messages_file, args.Get("task"), static_cast<size_t>(*limit));
  if (!messages.ok()) return Usage(messages.status());
  LabelMatcher matcher;
  if (args.Has("label-names")) {
    matcher.label_names = absl::StrSplit(args.Get("label-names"), ',');
  } else if (args.Has("bridge-json")) {
    auto text = ReadFileToString(args.Get("bridge-json"));
    if (!text.ok()) return Usage(text.status());
    nlohmann::json bridge = nlohmann::json::parse(*text, nullptr, false);
    if (bridge.is_object() && bridge.contains("training") && bridge["training"].is_object() &&
        bridge["training"].contains("label_names") && bridge["training"]["label_names"].is_array()) {
      for (const auto& name : bridge["training"]["label_names"]) {
        if (name.is_string()) matcher.label_names.push_back(name.get<std::string>());
      }
    }
  }
  Json model_shapes = Json::object();
  if (args.Has("model-shapes")) {
    model_shapes = Json::parse(args.Get("model-shapes"), nullptr, false);
    if (model_shapes.is_discarded()) return Usage(absl::InvalidArgumentError("--model-shapes is not JSON"));
  }

  // Connections.
  ClientOptions base;
  base.tls.cert_file = args.Get("cert");
  base.tls.key_file = args.Get("key");
  base.tls.ca_file = args.Get("ca");
  base.tls.insecure = args.Has("insecure");
  base.tls.server_name_override = args.Get("server-name");
  base.timeout = absl::Milliseconds(*timeout_ms);
  std::unique_ptr<SenderClient> sender;
  std::unique_ptr<ReceiverClient> receiver;
  LoadTargets targets;
  targets.receiver_address = args.Get("to");
  for (LoadPath path : paths) {
    const bool direct = path == LoadPath::kDirectText;
    const std::string flag = direct ? "receiver" : "sender";
    if (!args.Has(flag)) {
      return Usage(absl::InvalidArgumentError(absl::StrCat("path ", LoadPathName(path), " needs --", flag,
                                                           " HOST:PORT")));
    }
    ClientOptions options = base;
    options.address = args.Get(flag);
    if (direct && receiver == nullptr) {
      auto client = ReceiverClient::Connect(options);
      if (!client.ok()) return Usage(client.status());
      receiver = *std::move(client);
      targets.receiver = receiver->stub();
    } else if (!direct && sender == nullptr) {
      auto client = SenderClient::Connect(options);
      if (!client.ok()) return Usage(client.status());
      sender = *std::move(client);
      targets.sender = sender->stub();
    }
  }

  const bool quiet = args.Has("quiet");
  const bool tty = isatty(fileno(stderr)) != 0;
  LoadProgress progress = [&](const LoadLevel& level, int64_t sent, int64_t answered, int64_t ok, double elapsed_s) {
    if (quiet || !tty) return;
    const std::string mode = level.rate_msg_s > 0 ? absl::StrFormat("rate %.1f/s", level.rate_msg_s)
                                                  : absl::StrCat("c=", level.concurrency);
    std::fprintf(stderr, "\r  %-11s %-13s %6lld sent %6lld answered (%lld OK)  %7.1f msg/s  %5.1f/%.0f s   ",
                 LoadPathName(level.path), mode.c_str(), static_cast<long long>(sent),
                 static_cast<long long>(answered), static_cast<long long>(ok),
                 elapsed_s > 0 ? static_cast<double>(ok) / elapsed_s : 0.0, elapsed_s,
                 absl::ToDoubleSeconds(level.duration));
    std::fflush(stderr);
  };

  const std::string device = args.Get("device", "unknown");
  Json out;
  out["tool"] = "lipctl bench";
  out["device"] = device;
  out["models"] = args.Get("models", "unknown");
  out["model_shapes"] = model_shapes;
  out["transport"] = args.Has("insecure") ? "grpc" : "grpc+mtls";
  out["started_utc"] = UtcNow();
  out["load_average_1m_start"] = LoadAverage1m();
  out["config"] = {{"messages_file", messages_file},
                   {"task", args.Get("task")},
                   {"distinct_messages", messages->size()},
                   {"labelled", !messages->front().label.empty()},
                   {"concurrency", concurrencies},
                   {"rates_msg_s", *rates},
                   {"rate_fractions_of_saturation", *fractions},
                   {"duration_s_per_level", duration_s->empty() ? 10.0 : duration_s->front()},
                   {"max_messages_per_level", *max_messages},
                   {"min_messages_per_level", *min_messages},
                   {"generate_tokens", *tokens},
                   {"warmup_per_path", *warmup},
                   {"timeout_ms", *timeout_ms},
                   {"receiver_address", targets.receiver_address.empty() ? "registry" : targets.receiver_address}};
  Json measurements = Json::array();
  Json path_block = Json::object();
  std::vector<std::string> csv = {
      "path,mode,concurrency,rate_msg_s,sent,answered,ok,resource_exhausted,other,throughput_msg_s,"
      "p50_ms,p95_ms,p99_ms,max_ms,mean_ms,bytes_per_message,accuracy,load_average_1m"};
  bool all_answered = true;
  std::set<std::string> bad_statuses;

  LoadLevel base_level;
  base_level.duration = absl::Seconds(duration_s->empty() ? 10.0 : duration_s->front());
  base_level.max_messages = *max_messages;
  base_level.min_messages = *min_messages;
  base_level.generate_tokens = static_cast<int>(*tokens);
  base_level.timeout = absl::Milliseconds(*timeout_ms);
  base_level.seed = static_cast<uint64_t>(*seed);

  for (LoadPath path : paths) {
    PathTotals totals;
    LoadLevel level = base_level;
    level.path = path;
    if (*warmup > 0) {
      LoadLevel warm = level;
      warm.concurrency = 1;
      warm.max_messages = *warmup;
      warm.duration = absl::Milliseconds(*timeout_ms);
      auto result = RunLoadLevel(warm, targets, *messages, matcher);
      if (!result.ok()) return Usage(result.status());
    }
    auto run = [&](LoadLevel level) -> absl::Status {
      auto result = RunLoadLevel(level, targets, *messages, matcher, progress);
      if (!result.ok()) return result.status();
      const LevelSummary s = Summarize(*result);
      const double load = LoadAverage1m();
      const bool open = level.rate_msg_s > 0;
      if (!quiet) {
        std::fprintf(stderr, "%s  %-11s %-13s %5lld sent, %5lld answered %s  %7.2f msg/s  p50 %7.1f  p99 %7.1f ms  %6.0f B%s\n",
                     tty ? "\r" : "", LoadPathName(path),
                     open ? absl::StrFormat("rate %.2f/s", level.rate_msg_s).c_str()
                          : absl::StrCat("c=", level.concurrency).c_str(),
                     static_cast<long long>(s.sent), static_cast<long long>(s.answered),
                     absl::StrJoin(s.answered_by_status, " ", absl::PairFormatter("=")).c_str(), s.throughput_msg_s,
                     s.p50_ms, s.p99_ms, s.bytes_per_message,
                     s.accuracy ? absl::StrFormat("  acc %.3f", *s.accuracy).c_str() : "");
      }
      Json m;
      m["device"] = device;
      m["model_shapes"] = model_shapes;
      m["path"] = LoadPathName(path);
      m["transport"] = out["transport"];
      m["mode"] = open ? "open_loop_poisson" : "closed_loop";
      m["concurrency"] = open ? Json(nullptr) : Json(level.concurrency);
      m["rate_msg_s"] = open ? Json(Round3(level.rate_msg_s)) : Json(nullptr);
      if (path == LoadPath::kTextRelay) m["generate_tokens"] = level.generate_tokens;
      m["messages"] = s.sent;
      m["answered"] = s.answered;
      m["answered_by_status"] = StatusCounts(s.answered_by_status);
      if (!s.first_error_by_status.empty()) {
        m["first_error_by_status"] = s.first_error_by_status;
        for (const auto& [code, message] : s.first_error_by_status) totals.errors.emplace(code, message);
      }
      m["duration_s"] = Round3(result->wall_s);
      m["throughput_msg_s"] = Round3(s.throughput_msg_s);
      m["p50_ms"] = Round3(s.p50_ms);
      m["p95_ms"] = Round3(s.p95_ms);
      m["p99_ms"] = Round3(s.p99_ms);
      m["max_ms"] = Round3(s.max_ms);
      m["mean_ms"] = Round3(s.mean_ms);
      m["bytes_per_message"] = Round3(s.bytes_per_message);
      // Where the time goes (means over OK answers): the sender's work (encoding, or generation for
      // text relay), the wire, and the receiver's stages; sender_node_total is the sender node's whole
      // handling (0 for direct text), so mean_ms minus it is the client <-> sender hop; sender_queue and
      // sender_pipeline split the latent path's sender time (the rest of it builds the packet).
      const lip::v1::StageTimings& t = s.stages_mean;
      m["sender_ms_mean"] = Round3(t.encode_ms());
      m["receiver_ms_mean"] = Round3(t.total_ms());
      m["stages_ms_mean"] = {{"sender", Round3(t.encode_ms())},       {"wire", Round3(t.wire_ms())},
                             {"receiver_queue", Round3(t.queue_ms())}, {"receiver_adapt", Round3(t.adapt_ms())},
                             {"receiver_priming", Round3(t.prefill_ms())},
                             {"receiver_model", Round3(t.decode_ms())},
                             {"receiver_total", Round3(t.total_ms())},
                             {"sender_node_total", Round3(s.sender_node_ms_mean)},
                             {"sender_queue", Round3(t.sender_queue_ms())},
                             {"sender_pipeline", Round3(t.sender_pipeline_ms())}};
      m["accuracy"] = s.accuracy ? Json(Round3(*s.accuracy)) : Json(nullptr);
      if (path == LoadPath::kTextRelay) m["empty_relays"] = s.empty_relays;
      m["load_average_1m"] = load;
      measurements.push_back(m);

      int64_t ok = 0, exhausted = 0;
      for (const auto& [name, n] : s.answered_by_status) {
        totals.by_status[name] += n;
        if (name == "OK") ok = n;
        else if (name == "RESOURCE_EXHAUSTED") exhausted = n;
        else bad_statuses.insert(name);
      }
      if (s.answered != s.sent) all_answered = false;
      totals.sent += s.sent;
      totals.answered += s.answered;
      totals.ok += ok;
      totals.bytes += s.bytes_per_message * static_cast<double>(ok);
      totals.labelled += s.labelled;
      totals.right += s.right;
      totals.empty_relays += s.empty_relays;
      if (!open) {
        if (s.throughput_msg_s > totals.saturation) {
          totals.saturation = s.throughput_msg_s;
          totals.saturation_concurrency = level.concurrency;
        }
        if (level.concurrency == 1 && ok > 0) {
          totals.p50_c1 = s.p50_ms;
          totals.p95_c1 = s.p95_ms;
          totals.p99_c1 = s.p99_ms;
        }
      }
      csv.push_back(absl::StrFormat("%s,%s,%s,%s,%d,%d,%d,%d,%d,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,%.1f,%s,%.2f",
                                    LoadPathName(path), open ? "open" : "closed",
                                    open ? "" : absl::StrCat(level.concurrency),
                                    open ? absl::StrFormat("%.3f", level.rate_msg_s) : "", s.sent, s.answered, ok,
                                    exhausted, s.answered - ok - exhausted, s.throughput_msg_s, s.p50_ms, s.p95_ms,
                                    s.p99_ms, s.max_ms, s.mean_ms, s.bytes_per_message,
                                    s.accuracy ? absl::StrFormat("%.4f", *s.accuracy) : "", load));
      return absl::OkStatus();
    };
    for (int c : concurrencies) {
      level.concurrency = c;
      level.rate_msg_s = 0;
      if (absl::Status status = run(level); !status.ok()) return Usage(status);
    }
    std::vector<double> path_rates = *rates;
    for (double f : *fractions) {
      if (totals.saturation > 0) path_rates.push_back(f * totals.saturation);
    }
    for (double rate : path_rates) {
      level.rate_msg_s = rate;
      if (absl::Status status = run(level); !status.ok()) return Usage(status);
    }
    Json p;
    p["saturation_throughput_msg_s"] = Round3(totals.saturation);
    p["saturation_concurrency"] = totals.saturation_concurrency;
    p["p50_ms_c1"] = totals.p50_c1 ? Json(Round3(*totals.p50_c1)) : Json(nullptr);
    p["p95_ms_c1"] = totals.p95_c1 ? Json(Round3(*totals.p95_c1)) : Json(nullptr);
    p["p99_ms_c1"] = totals.p99_c1 ? Json(Round3(*totals.p99_c1)) : Json(nullptr);
    p["bytes_per_message"] = totals.ok > 0 ? Round3(totals.bytes / static_cast<double>(totals.ok)) : 0.0;
    p["sent"] = totals.sent;
    p["answered"] = totals.answered;
    p["answered_by_status"] = StatusCounts(totals.by_status);
    if (!totals.errors.empty()) p["first_error_by_status"] = totals.errors;
    p["accuracy"] = totals.labelled > 0
                        ? Json(Round3(static_cast<double>(totals.right) / static_cast<double>(totals.labelled)))
                        : Json(nullptr);
    if (path == LoadPath::kTextRelay) {
      p["generate_tokens"] = *tokens;
      p["empty_relays"] = totals.empty_relays;
    }
    path_block[LoadPathName(path)] = p;
  }

  // Ratios the benchmark is about (when both paths ran).
  Json speedups = Json::object();
  auto ratio = [&](const char* a, const char* b, const char* key, bool higher_is_better, const std::string& name) {
    if (!path_block.contains(a) || !path_block.contains(b)) return;
    const Json& x = path_block[a][key];
    const Json& y = path_block[b][key];
    if (!x.is_number() || !y.is_number() || x.get<double>() <= 0 || y.get<double>() <= 0) return;
    speedups[name] = Round3(higher_is_better ? x.get<double>() / y.get<double>() : y.get<double>() / x.get<double>());
  };
  ratio("latent", "text_relay", "saturation_throughput_msg_s", true, "latent_over_text_relay_throughput");
  ratio("latent", "text_relay", "p50_ms_c1", false, "text_relay_over_latent_p50_c1");
  ratio("latent", "direct_text", "saturation_throughput_msg_s", true, "latent_over_direct_text_throughput");
  ratio("latent", "direct_text", "p50_ms_c1", false, "direct_text_over_latent_p50_c1");
  out["paths"] = path_block;
  out["speedups"] = speedups;
  out["measurements"] = measurements;
  out["finished_utc"] = UtcNow();
  out["load_average_1m_end"] = LoadAverage1m();
  out["all_answered"] = all_answered;
  out["only_ok_or_resource_exhausted"] = bad_statuses.empty();

  const std::string text = out.dump(2) + "\n";
  if (args.Has("json")) {
    std::ofstream file(args.Get("json"));
    file << text;
    if (!file) return Usage(absl::InternalError(absl::StrCat("cannot write \"", args.Get("json"), "\"")));
  } else {
    std::fwrite(text.data(), 1, text.size(), stdout);
  }
  if (args.Has("csv")) {
    std::ofstream file(args.Get("csv"));
    file << absl::StrJoin(csv, "\n") << "\n";
    if (!file) return Usage(absl::InternalError(absl::StrCat("cannot write \"", args.Get("csv"), "\"")));
  }
  if (!all_answered || !bad_statuses.empty()) {
    std::fprintf(stderr, "lipctl bench: %s%s\n", all_answered ? "" : "some requests went unanswered; ",
                 bad_statuses.empty() ? "" : absl::StrCat("answers other than OK/RESOURCE_EXHAUSTED: ",
                                                          absl::StrJoin(bad_statuses, ", ")).c_str());
    return kLipctlFailed;
  }
  return kLipctlOk;
}

}  // namespace lip
