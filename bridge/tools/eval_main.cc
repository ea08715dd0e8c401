// lip-eval: the measuring and reporting half of the evaluation suite (bridge/eval/run_suite.sh
// runs the whole matrix). Every measurement writes one run result (bridge/eval/run_result.h);
// `report` renders a directory of them as docs/results.md, of which lip-eval is the only writer.
//
//   lip-eval bridge --bridge=DIR --result=R.json [--direction=forward] [--test_limit=N]
//                   [--latency_messages=20]
//       a trained Perceiver bridge (or receiver self-bridge, as lip-train recorded it) on the test
//       split beside its training file: raw and calibrated accuracy and macro-F1, accuracy with the
//       soft tokens as floats (fp32) and through the real packet codec as fp16 and int8 (each
//       message as a LIP 1.1 compact message of one stream, rebuilt from its header), packet
//       bytes and compact int8 message bytes vs the UTF-8 text, and (with --latency_messages > 0) the per-message latency of the
//       bridge path vs text relay, one message at a time, in this one run.
//   lip-eval baselines --bridge=DIR --result_dir=DIR [--direction=forward]
//       on the same models and frame: receiver zero-shot from the text (raw and calibrated), the
//       sender linear probe at the bridge's source layer (the whole train split, its L2 penalty
//       chosen on a validation set carved from it), text relay (the sender writes, the receiver
//       reads what it wrote; --skip_text_relay leaves it out); one result file each.
//   lip-eval report --results=DIR[,DIR...] --out=docs/results.md [--preamble=TEXT] [--latency_results=DIR]
//                   [--grid_extensions=DIR[,DIR...]]
//       mean ± std over seeds, the targets checked, "—" and a note for what is missing
//       or failed.
//   lip-eval continuation --bridge=DIR --test_file=F.txt[.xz] --result=R.json [--passages=200] [--samples=4]
//       a continuation bridge (lip-train --method=continuation) on held-out passages cut as in
//       training: the receiver's NLL per continuation token given nothing, the soft tokens and the
//       text prefix, the fraction of that gap the soft tokens close, and greedy continuations
//       (bridge/eval/continuation_eval.h). --passages spreads evenly over the file's passages.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "bridge/eval/calibrated_scores.h"
#include "bridge/eval/classification_scores.h"
#include "bridge/eval/continuation_eval.h"
#include "bridge/eval/linear_probe.h"
#include "bridge/eval/progress_meter.h"
#include "bridge/eval/results_writer.h"
#include "bridge/eval/run_result.h"
#include "bridge/eval/suite_report.h"
#include "bridge/model/device_load_options.h"
#include "bridge/latent/latent_packet.h"
#include "bridge/latent/receiver_pipeline.h"
#include "bridge/latent/sender_pipeline.h"
#include "bridge/latent/text_relay.h"
#include "common/wire/status_macros.h"
#include "bridge/train/text_dataset.h"
#include "bridge/train/train_config.h"
#include "common/wire/compact_packet.h"
#include "common/wire/packet_codec.h"
#include "lip/v1/receiver.pb.h"

ABSL_FLAG(std::string, bridge, "", "bridge checkpoint directory (bridge, baselines)");
ABSL_FLAG(std::string, result, "", "bridge: where to write the run result (JSON)");
ABSL_FLAG(std::string, result_dir, "", "baselines: directory for the run results");
ABSL_FLAG(std::string, direction, "forward", "direction name recorded in the run results");
ABSL_FLAG(std::string, device, "cpu", "cpu | cuda (models in bf16 on CUDA)");
ABSL_FLAG(std::string, results, "",
          "report: directory of run results, or several, comma-separated (later ones replace the same runs)");
ABSL_FLAG(std::string, out, "docs/results.md", "report: where to write the results (Markdown)");
ABSL_FLAG(std::string, latency_results, "",
          "report: directory of extra run results used only for the latency table (e.g. CPU re-measurements)");
ABSL_FLAG(std::string, grid_extensions, "",
          "report: directories of runs at learning rates outside the grids of --results' runs of the same "
          "recipe (task, direction, method, M, variant, seed); their trials extend those grids");
ABSL_FLAG(std::string, preamble, "", "report: extra paragraphs (how the suite was run), '\\n\\n'-separated");
ABSL_FLAG(int64_t, test_limit, 0, "evaluate on at most this many test examples per task (0 = all)");
ABSL_FLAG(int64_t, probe_train_limit, 0,
          "training examples for the sender linear probe: a stratified sample of the train split (0 = all of it; "
          "its validation set is carved from them)");
ABSL_FLAG(bool, skip_text_relay, false, "baselines: leave text relay out (it generates text for every example)");
ABSL_FLAG(int64_t, relay_limit, 100,
          "test examples for the (slow) text-relay baseline: a stratified, seeded sample (0 = the whole split)");
ABSL_FLAG(int64_t, relay_tokens, lip::kDefaultRelayTokens, "tokens the sender generates for text relay (at most; stops at EOS)");
ABSL_FLAG(int64_t, latency_messages, 0, "bridge: messages timed one by one (0 = no latency measurement)");
ABSL_FLAG(std::string, test_file, "", "continuation: held-out plain text (.txt or .txt.xz), never a training file");
ABSL_FLAG(int64_t, passages, 200, "continuation: passages evaluated, evenly spread over the file (0 = all)");
ABSL_FLAG(int64_t, samples, 4, "continuation: passages with greedy continuations in the result");
ABSL_FLAG(int, threads, 0, "LibTorch intra-op threads (0 = LibTorch's default)");

namespace lip {
namespace {

using Clock = std::chrono::steady_clock;

double Ms(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

std::string TestFileFor(const std::string& train_file) {
  return (std::filesystem::path(train_file).parent_path() / "test.jsonl").string();
}

struct LoadedBridge {
  std::string dir;
  BridgeMetadata metadata;
  TrainConfig config;
  std::unique_ptr<SenderPipeline> sender;
  std::unique_ptr<ReceiverPipeline> receiver;
};

absl::StatusOr<LoadedBridge> LoadBridge(const std::string& dir) {
  LoadedBridge b;
  b.dir = dir;
  LIP_ASSIGN_OR_RETURN(b.metadata, ReadBridgeMetadata(dir));
  LIP_ASSIGN_OR_RETURN(b.config, TrainConfigFromJson([&] {
                         nlohmann::json j = b.metadata.training;
                         for (const char* key : {"steps_done", "validation_history"}) j.erase(key);
                         return j;
                       }()));
  SenderPipelineOptions sender_options;
  sender_options.bridge_dir = dir;
  sender_options.model_dir = b.config.sender_model_dir;
  LIP_ASSIGN_OR_RETURN(sender_options.model_options, LoadOptionsForDevice(absl::GetFlag(FLAGS_device)));
  LIP_ASSIGN_OR_RETURN(b.sender, SenderPipeline::Load(sender_options));
  ReceiverPipelineOptions receiver_options;
  receiver_options.bridge_dir = dir;
  receiver_options.model_dir = b.config.receiver_model_dir;
  receiver_options.model_options = sender_options.model_options;
  LIP_ASSIGN_OR_RETURN(b.receiver, ReceiverPipeline::Load(receiver_options));
  return b;
}

// One message through the wire as the nodes send it.
struct WireMessage {
  LatentMessage message;     // what the receiver makes of the compact message
  size_t packet_bytes = 0;   // the full LipPacket
  size_t compact_bytes = 0;  // the LIP 1.1 CompactPacket of the same message
};

// The packet a sender node would send for `e` (wire dtype `dtype`), message `sequence` of one
// stream, and the message the receiver node makes of it: the nodes' own translation
// (bridge/latent/latent_packet.h) both ways. The full packet is serialized and decoded; the
// receiver's message is then taken from the message's LIP 1.1 compact form, rebuilt from the
// header of the decoded full packet as a receiver holding it does (common/wire/compact_packet.h), so
// the accuracy measured is the compact wire's (its tensor bytes are the full packet's).
absl::StatusOr<WireMessage> WireRoundTrip(const LoadedBridge& b, const EncodedText& e, lip::v1::DType dtype,
                                          uint64_t sequence) {
  LatentPacketOptions options;
  options.dtype = dtype;
  options.sequence = sequence;
  LIP_ASSIGN_OR_RETURN(lip::v1::LipPacket packet,
                       PacketFromLatent(e, b.sender->bridge(), b.sender->model_id(), options));
  const uint64_t header_id = HeaderIdFor(packet);
  packet.set_packet_id(DerivedPacketId(header_id, sequence));  // a stream sender's ids: not sent compact
  WireMessage out;
  const std::string wire = SerializePacket(packet);
  out.packet_bytes = wire.size();
  LIP_ASSIGN_OR_RETURN(DecodedPacket decoded, DecodePacket(wire));
  const auto header = std::make_shared<const lip::v1::LipPacket>(PacketHeader(decoded.packet));
  lip::v1::SendLatentRequest request;
  *request.mutable_compact() = CompactFromPacket(packet, header_id);
  out.compact_bytes = request.compact().ByteSizeLong();
  LIP_ASSIGN_OR_RETURN(lip::v1::LipPacket rebuilt, PacketOfRequest(&request, [&](uint64_t id) {
                         return id == header_id ? header : nullptr;
                       }));
  LIP_ASSIGN_OR_RETURN(out.message,
                       LatentMessageFromPacket(rebuilt, b.receiver->bridge(), b.receiver->model_id()));
  return out;
}

struct WireAccuracy {
  double fp32 = 0, fp16 = 0, int8 = 0;
  double fp32_macro_f1 = 0;
  double calibrated = 0, calibrated_macro_f1 = 0;  // fp32, calibrated label scores
  double fp16_bytes = 0, int8_bytes = 0;  // mean serialized packet size
  double compact_int8_bytes = 0;          // mean LIP 1.1 compact message size (int8)
};

// Accuracy of the bridge on `test` with the soft tokens given to the receiver as floats (fp32)
// and after a round trip through the packet codec as fp16 and int8. The sender runs once.
absl::StatusOr<WireAccuracy> BridgeAccuracy(const LoadedBridge& b, const TextDataset& test) {
  WireAccuracy out;
  int64_t correct[3] = {0, 0, 0};
  ClassificationScores fp32_scores(static_cast<int>(test.label_names.size()));
  ClassificationScores calibrated_scores(static_cast<int>(test.label_names.size()));
  LIP_ASSIGN_OR_RETURN(const std::vector<float> bare_frame, BareFrameLogProbs(*b.receiver));
  const lip::v1::DType dtypes[3] = {lip::v1::DTYPE_FP32, lip::v1::DTYPE_FP16, lip::v1::DTYPE_INT8};
  ProgressMeter progress(b.metadata.task + " bridge (fp32, fp16, int8)", test.examples.size());
  for (size_t begin = 0; begin < test.examples.size(); begin += 32) {
    std::vector<std::string> texts;
    for (size_t i = begin; i < std::min(test.examples.size(), begin + 32); ++i) texts.push_back(test.examples[i].text);
    LIP_ASSIGN_OR_RETURN(std::vector<EncodedText> encoded, b.sender->Encode(texts));
    for (int k = 0; k < 3; ++k) {
      std::vector<LatentMessage> messages(encoded.size());
      for (size_t j = 0; j < encoded.size(); ++j) {
        messages[j].num_soft_tokens = encoded[j].num_soft_tokens;
        messages[j].width = encoded[j].width;
        if (k == 0) {
          messages[j].z = encoded[j].z;
          continue;
        }
        LIP_ASSIGN_OR_RETURN(WireMessage wire, WireRoundTrip(b, encoded[j], dtypes[k], begin + j));
        messages[j] = std::move(wire.message);
        (k == 1 ? out.fp16_bytes : out.int8_bytes) += wire.packet_bytes;
        if (k == 2) out.compact_int8_bytes += wire.compact_bytes;
      }
      LIP_ASSIGN_OR_RETURN(auto answers, b.receiver->Answer(messages));
      for (size_t j = 0; j < answers.size(); ++j) {
        if (!answers[j].ok()) return answers[j].status();
        if (answers[j]->label_index == test.examples[begin + j].label) ++correct[k];
        if (k == 0) {
          fp32_scores.Add(test.examples[begin + j].label, answers[j]->label_index);
          calibrated_scores.Add(test.examples[begin + j].label,
                                CalibratedPrediction(answers[j]->label_log_probs, bare_frame));
        }
      }
    }
    progress.Update(begin + encoded.size());
  }
  progress.Finish();
  out.fp32_macro_f1 = fp32_scores.MacroF1();
  out.calibrated = calibrated_scores.Accuracy();
  out.calibrated_macro_f1 = calibrated_scores.MacroF1();
  const double n = std::max<size_t>(1, test.examples.size());
  out.fp32 = correct[0] / n;
  out.fp16 = correct[1] / n;
  out.int8 = correct[2] / n;
  out.fp16_bytes /= n;
  out.int8_bytes /= n;
  out.compact_int8_bytes /= n;
  return out;
}

// Raw and calibrated scores of the receiver reading the text.
struct RawAndCalibrated {
  ClassificationScores raw, calibrated;
};

absl::StatusOr<RawAndCalibrated> ZeroShotScores(const LoadedBridge& b, const TextDataset& test) {
  const int labels = static_cast<int>(test.label_names.size());
  RawAndCalibrated scores{ClassificationScores(labels), ClassificationScores(labels)};
  LIP_ASSIGN_OR_RETURN(const std::vector<float> bare_frame, BareFrameLogProbs(*b.receiver));
  ProgressMeter progress(b.metadata.task + " receiver zero-shot", test.examples.size());
  for (size_t begin = 0; begin < test.examples.size(); begin += 32) {
    std::vector<TextMessage> messages;
    for (size_t i = begin; i < std::min(test.examples.size(), begin + 32); ++i) {
      TextMessage m;
      m.text = test.examples[i].text;
      messages.push_back(m);
    }
    LIP_ASSIGN_OR_RETURN(auto answers, b.receiver->AnswerText(messages));
    for (size_t j = 0; j < answers.size(); ++j) {
      if (!answers[j].ok()) return answers[j].status();
      scores.raw.Add(test.examples[begin + j].label, answers[j]->label_index);
      scores.calibrated.Add(test.examples[begin + j].label, CalibratedPrediction(answers[j]->label_log_probs, bare_frame));
    }
    progress.Update(begin + messages.size());
  }
  progress.Finish();
  return scores;
}

// Text relay: the sender writes its message about the text (kTextRelayFrame, as the sender node's
// RelayText) and the receiver classifies what it wrote, even when that is empty.
absl::StatusOr<ClassificationScores> TextRelayScores(const LoadedBridge& b, const TextDataset& test, int64_t limit,
                                                     int64_t tokens, double* mean_relay_bytes) {
  // At most `limit` examples, stratified by label (seeded), never the first rows of the split.
  const TextDataset sample = StratifiedSample(test, limit, /*seed=*/1);
  const int64_t n = static_cast<int64_t>(sample.examples.size());
  ClassificationScores scores(static_cast<int>(test.label_names.size()));
  double bytes = 0;
  ProgressMeter progress(b.metadata.task + " text relay", n);
  // In batches, as the sender node batches RelayText: each message is the one written alone up to
  // floating-point rounding (left padding is masked; WriteRelayMessages), at a fraction of the time.
  constexpr int64_t kBatch = 16;
  for (int64_t first = 0; first < n; first += kBatch) {
    const int64_t count = std::min(kBatch, n - first);
    std::vector<RelayRequest> requests(count);
    for (int64_t j = 0; j < count; ++j) {
      requests[j].text = sample.examples[first + j].text;
      requests[j].max_new_tokens = static_cast<int>(tokens);
    }
    LIP_ASSIGN_OR_RETURN(auto relayed, WriteRelayMessages(*b.sender, requests));
    std::vector<TextMessage> messages(count);
    for (int64_t j = 0; j < count; ++j) {
      if (!relayed[j].ok()) return relayed[j].status();
      messages[j].text = relayed[j]->text;
      bytes += relayed[j]->text.size();
    }
    LIP_ASSIGN_OR_RETURN(auto answers, b.receiver->AnswerText(messages));
    for (int64_t j = 0; j < count; ++j) {
      if (!answers[j].ok()) return answers[j].status();
      scores.Add(sample.examples[first + j].label, answers[j]->label_index);
    }
    progress.Update(first + count);
  }
  progress.Finish();
  if (mean_relay_bytes != nullptr) *mean_relay_bytes = n > 0 ? bytes / n : 0;
  return scores;
}

struct Latency {
  double bridge_ms = 0, relay_ms = 0;
};

// One message at a time: encode + fp16 packet + decode + answer, vs generate + answer text.
absl::StatusOr<Latency> MeasureLatency(const LoadedBridge& b, const TextDataset& test, int64_t messages,
                                       int64_t relay_tokens) {
  const int64_t n = std::min<int64_t>(messages, test.examples.size());
  Latency latency;
  for (int64_t i = 0; i < n; ++i) {
    const std::string& text = test.examples[i].text;
    auto start = Clock::now();
    LIP_ASSIGN_OR_RETURN(std::vector<EncodedText> encoded, b.sender->Encode({text}));
    LIP_ASSIGN_OR_RETURN(WireMessage wire, WireRoundTrip(b, encoded[0], lip::v1::DTYPE_FP16, uint64_t(i)));
    LIP_ASSIGN_OR_RETURN(auto answers, b.receiver->Answer({std::move(wire.message)}));
    if (!answers[0].ok()) return answers[0].status();
    latency.bridge_ms += Ms(start) / n;

    start = Clock::now();
    LIP_ASSIGN_OR_RETURN(GeneratedText relayed, WriteRelayMessage(*b.sender, text, relay_tokens));
    TextMessage t;
    t.text = relayed.text;
    LIP_ASSIGN_OR_RETURN(auto text_answers, b.receiver->AnswerText({t}));
    if (!text_answers[0].ok()) return text_answers[0].status();
    latency.relay_ms += Ms(start) / n;
  }
  return latency;
}


RunResult ResultFor(const LoadedBridge& b, const std::string& method) {
  RunResult r;
  r.task = b.metadata.task;
  r.method = method;
  r.direction = absl::GetFlag(FLAGS_direction);
  r.sender = b.metadata.sender_model.name;
  r.receiver = b.metadata.receiver_model.name;
  r.device = absl::GetFlag(FLAGS_device);
  r.threads = torch::get_num_threads();
  return r;
}

absl::StatusOr<TextDataset> TestSet(const LoadedBridge& b, RunResult* result) {
  const std::string test_file = TestFileFor(b.config.train_file);
  LIP_ASSIGN_OR_RETURN(TextDataset test,
                       ReadJsonlDataset(test_file, b.config.label_names, absl::GetFlag(FLAGS_test_limit)));
  if (test.examples.empty()) return absl::InvalidArgumentError(test_file + " has no examples");
  result->test_file = test_file;
  result->test_examples = test.examples.size();
  double text_bytes = 0;
  for (const LabelledText& e : test.examples) text_bytes += e.text.size();
  result->text_bytes = text_bytes / test.examples.size();
  return test;
}

absl::Status EvaluateBridge() {
  const std::string result_path = absl::GetFlag(FLAGS_result);
  if (absl::GetFlag(FLAGS_bridge).empty() || result_path.empty()) {
    return absl::InvalidArgumentError("bridge needs --bridge and --result");
  }
  LIP_ASSIGN_OR_RETURN(LoadedBridge b, LoadBridge(absl::GetFlag(FLAGS_bridge)));
  const bool self_bridge = b.metadata.evaluation.is_object() &&
                           b.metadata.evaluation.value("method", std::string()) == kMethodReceiverSelfBridge;
  RunResult r = ResultFor(b, self_bridge ? kMethodReceiverSelfBridge : kMethodPerceiver);
  r.num_soft_tokens = b.metadata.sender.perceiver.num_queries;
  r.width = b.metadata.sender.perceiver.output_width;
  r.seed = b.config.seed;
  r.steps = b.metadata.training.value("steps_done", b.config.steps);
  r.batch_size = b.config.batch_size;
  const nlohmann::json& trained = b.metadata.evaluation;
  if (trained.is_object()) {
    r.train_seconds = trained.value("train_seconds", 0.0);
    r.train_examples = trained.value("train_examples", int64_t(0));
    if (trained.contains("validation_accuracy")) r.validation_accuracy = trained["validation_accuracy"].get<double>();
    r.train_device = trained.value("train_device", std::string());
    r.variant = trained.value("variant", std::string());
    if (trained.contains("learning_rate_trials")) {
      LIP_ASSIGN_OR_RETURN(r.learning_rate_trials, LearningRateTrialsFromJson(trained["learning_rate_trials"]));
    }
  }
  r.learning_rate = b.config.learning_rate;
  LIP_ASSIGN_OR_RETURN(TextDataset test, TestSet(b, &r));
  LIP_ASSIGN_OR_RETURN(WireAccuracy wire, BridgeAccuracy(b, test));
  r.accuracy = wire.fp32;
  r.macro_f1 = wire.fp32_macro_f1;
  r.calibrated_accuracy = wire.calibrated;
  r.calibrated_macro_f1 = wire.calibrated_macro_f1;
  r.accuracy_fp16 = wire.fp16;
  r.accuracy_int8 = wire.int8;
  r.fp16_packet_bytes = wire.fp16_bytes;
  r.int8_packet_bytes = wire.int8_bytes;
  r.compact_int8_bytes = wire.compact_int8_bytes;
  std::fprintf(stderr, "lip-eval: %s %s M=%lld seed %llu: fp32 %.4f (calibrated %.4f) fp16 %.4f int8 %.4f on %zu examples\n",
               r.task.c_str(), r.method.c_str(), static_cast<long long>(r.num_soft_tokens),
               static_cast<unsigned long long>(r.seed), wire.fp32, wire.calibrated, wire.fp16, wire.int8,
               test.examples.size());
  const int64_t latency_messages = absl::GetFlag(FLAGS_latency_messages);
  if (latency_messages > 0) {
    LIP_ASSIGN_OR_RETURN(Latency latency,
                         MeasureLatency(b, test, latency_messages, absl::GetFlag(FLAGS_relay_tokens)));
    r.latency_messages = std::min<int64_t>(latency_messages, test.examples.size());
    r.bridge_latency_ms = latency.bridge_ms;
    r.relay_latency_ms = latency.relay_ms;
    std::fprintf(stderr, "lip-eval: latency per message: bridge %.1f ms, text relay %.1f ms\n", latency.bridge_ms,
                 latency.relay_ms);
  }
  return WriteRunResult(result_path, r);
}

absl::Status EvaluateBaselines() {
  const std::string dir = absl::GetFlag(FLAGS_result_dir);
  if (absl::GetFlag(FLAGS_bridge).empty() || dir.empty()) {
    return absl::InvalidArgumentError("baselines needs --bridge and --result_dir");
  }
  LIP_ASSIGN_OR_RETURN(LoadedBridge b, LoadBridge(absl::GetFlag(FLAGS_bridge)));
  const std::string stem = absl::StrCat(dir, "/", b.metadata.task, "-", absl::GetFlag(FLAGS_direction), "-");

  RunResult zero_shot = ResultFor(b, kMethodZeroShot);
  LIP_ASSIGN_OR_RETURN(TextDataset test, TestSet(b, &zero_shot));
  {
    const auto start = Clock::now();
    LIP_ASSIGN_OR_RETURN(RawAndCalibrated scores, ZeroShotScores(b, test));
    const double accuracy = scores.raw.Accuracy();
    zero_shot.accuracy = accuracy;
    zero_shot.macro_f1 = scores.raw.MacroF1();
    zero_shot.calibrated_accuracy = scores.calibrated.Accuracy();
    zero_shot.calibrated_macro_f1 = scores.calibrated.MacroF1();
    std::fprintf(stderr, "lip-eval: %s: receiver zero-shot %.4f, calibrated %.4f (%.0f s)\n", zero_shot.task.c_str(),
                 accuracy, *zero_shot.calibrated_accuracy, Ms(start) / 1000);
    LIP_RETURN_IF_ERROR(WriteRunResult(stem + "zero_shot.json", zero_shot));
  }
  {
    const auto start = Clock::now();
    RunResult probe = zero_shot;
    probe.method = kMethodLinearProbe;
    probe.accuracy.reset();
    probe.macro_f1.reset();
    probe.calibrated_accuracy.reset();
    probe.calibrated_macro_f1.reset();
    LIP_ASSIGN_OR_RETURN(TextDataset probe_train, ReadJsonlDataset(b.config.train_file, b.config.label_names,
                                                                   absl::GetFlag(FLAGS_probe_train_limit)));
    LinearProbeOptions options;
    LIP_ASSIGN_OR_RETURN(LinearProbeResult result, RunSenderLinearProbe(*b.sender, probe_train, test, options));
    probe.accuracy = result.test_accuracy;
    probe.macro_f1 = result.test_macro_f1;
    probe.train_examples = result.train_examples;
    probe.validation_accuracy = result.validation_accuracy;
    probe.regularization = result.l2;
    probe.seed = options.seed;
    std::vector<std::string> trials;
    for (const ProbeTrial& t : result.trials) {
      trials.push_back(absl::StrFormat("%g: %.1f%% (epoch %d)", t.l2, 100 * t.validation_accuracy, t.best_epoch));
    }
    const bool edge = result.l2 == options.l2_grid.front() || result.l2 == options.l2_grid.back();
    probe.note = absl::StrFormat(
        "logistic regression on mean-pooled layer-%d states of %d training texts (train acc %.2f%%), L2 %g chosen on "
        "%d validation texts carved from train (%s); validation acc per L2: %s",
        b.metadata.sender.source_layer, result.train_examples, 100 * result.train_accuracy, result.l2,
        result.validation_examples, edge ? "at an EDGE of the grid" : "inside the grid", absl::StrJoin(trials, ", "));
    std::fprintf(stderr, "lip-eval: %s: sender linear probe %.4f (%.0f s)\n", probe.task.c_str(), result.test_accuracy,
                 Ms(start) / 1000);
    LIP_RETURN_IF_ERROR(WriteRunResult(stem + "linear_probe.json", probe));
  }
  if (!absl::GetFlag(FLAGS_skip_text_relay)) {
    const auto start = Clock::now();
    RunResult relay = zero_shot;
    relay.calibrated_accuracy.reset();
    relay.calibrated_macro_f1.reset();
    relay.method = kMethodTextRelay;
    double relay_bytes = 0;
    LIP_ASSIGN_OR_RETURN(ClassificationScores scores,
                         TextRelayScores(b, test, absl::GetFlag(FLAGS_relay_limit), absl::GetFlag(FLAGS_relay_tokens),
                                         &relay_bytes));
    const double accuracy = scores.Accuracy();
    relay.accuracy = accuracy;
    relay.macro_f1 = scores.MacroF1();
    relay.test_examples = scores.examples();
    relay.relayed_text_bytes = relay_bytes;
    relay.note = absl::StrFormat("the sender greedily writes a message about the text (relay frame of docs/nodes.md) "
                                 "for at most %d tokens; %d test examples (a stratified sample when fewer than the split)",
                                 absl::GetFlag(FLAGS_relay_tokens), relay.test_examples);
    std::fprintf(stderr, "lip-eval: %s: text relay %.4f (%.0f s)\n", relay.task.c_str(), accuracy, Ms(start) / 1000);
    LIP_RETURN_IF_ERROR(WriteRunResult(stem + "text_relay.json", relay));
  }
  return absl::OkStatus();
}

absl::Status Report() {
  const std::string dir = absl::GetFlag(FLAGS_results);
  if (dir.empty()) return absl::InvalidArgumentError("report needs --results");
  SuiteReportOptions options;
  // Several directories (comma-separated): a result in a later one replaces an earlier result of the
  // same task, direction, method, M and seed (a run completed or redone elsewhere).
  std::vector<RunResult> results;
  for (absl::string_view one : absl::StrSplit(dir, ',', absl::SkipEmpty())) {
    LIP_ASSIGN_OR_RETURN(std::vector<RunResult> read, ReadRunResults(std::string(one), &options.problems));
    MergeRunResults(std::move(read), &results);
  }
  std::string grid_note;
  if (const std::string grids = absl::GetFlag(FLAGS_grid_extensions); !grids.empty()) {
    std::vector<RunResult> extensions;
    for (absl::string_view one : absl::StrSplit(grids, ',', absl::SkipEmpty())) {
      LIP_ASSIGN_OR_RETURN(std::vector<RunResult> read, ReadRunResults(std::string(one), &options.problems));
      for (RunResult& r : read) extensions.push_back(std::move(r));
    }
    std::vector<std::string> unmatched;
    const int added = ExtendLearningRateGrids(extensions, &results, &unmatched);
    grid_note = absl::StrCat(
        "Learning-rate grids extended afterwards by ", added, " trials of ", extensions.size(),
        " runs of the same recipes (training device included) at rates outside them (`--grid_extensions`: ", grids,
        "); the chosen rates and every score are the original runs'.");
    if (!unmatched.empty()) {
      absl::StrAppend(&grid_note, " Extending nothing here (their grids are described elsewhere): ",
                      absl::StrJoin(unmatched, "; "), ".");
    }
  }
  options.preamble.push_back(
      "Measured by the evaluation suite (`bridge/eval/run_suite.sh`): every trained configuration and baseline on "
      "the held-out test split of its task (`../shared/data/<task>/test.jsonl`; SST-2: GLUE dev), one JSON result per "
      "run, rendered here by `lip-eval report`. Everything was trained on train splits only; validation sets are "
      "carved from train. Accuracies in %, mean ± std (population) over the seeds that ran.");
  if (!grid_note.empty()) options.preamble.push_back(grid_note);
  if (const std::string extra = absl::GetFlag(FLAGS_latency_results); !extra.empty()) {
    LIP_ASSIGN_OR_RETURN(options.latency_only, ReadRunResults(extra, &options.problems));
  }
  for (absl::string_view paragraph : absl::StrSplit(absl::GetFlag(FLAGS_preamble), "\n\n", absl::SkipEmpty())) {
    options.preamble.push_back(std::string(paragraph));
  }
  const ResultsReport report = BuildSuiteReport(results, options);
  LIP_RETURN_IF_ERROR(WriteResultsMarkdown(absl::GetFlag(FLAGS_out), report));
  std::fprintf(stderr, "lip-eval: wrote %s from %zu results\n", absl::GetFlag(FLAGS_out).c_str(), results.size());
  return absl::OkStatus();
}

// lip-eval continuation: see the file comment.
absl::Status EvaluateContinuationBridge() {
  const std::string dir = absl::GetFlag(FLAGS_bridge);
  const std::string test_file = absl::GetFlag(FLAGS_test_file);
  if (dir.empty() || test_file.empty()) {
    return absl::InvalidArgumentError("continuation needs --bridge and --test_file");
  }
  LIP_ASSIGN_OR_RETURN(BridgeMetadata metadata, ReadBridgeMetadata(dir));
  const nlohmann::json& training = metadata.training;
  if (metadata.task != kContinuationTask || !training.contains("continuation_tokens")) {
    return absl::InvalidArgumentError(dir + " is not a continuation bridge (lip-train --method=continuation)");
  }
  SenderPipelineOptions sender_options;
  sender_options.bridge_dir = dir;
  sender_options.model_dir = training.value("sender_model_dir", "");
  LIP_ASSIGN_OR_RETURN(sender_options.model_options, LoadOptionsForDevice(absl::GetFlag(FLAGS_device)));
  LIP_ASSIGN_OR_RETURN(std::unique_ptr<SenderPipeline> sender, SenderPipeline::Load(sender_options));
  ReceiverPipelineOptions receiver_options;
  receiver_options.bridge_dir = dir;
  receiver_options.model_dir = training.value("receiver_model_dir", "");
  receiver_options.model_options = sender_options.model_options;
  LIP_ASSIGN_OR_RETURN(std::unique_ptr<ReceiverPipeline> receiver, ReceiverPipeline::Load(receiver_options));

  PassageOptions passage_options;
  passage_options.prefix_words = training.value("prefix_words", int64_t(24));
  passage_options.min_continuation_words = training.value("min_continuation_words", int64_t(24));
  LIP_ASSIGN_OR_RETURN(std::vector<Passage> all, ReadPassages(test_file, passage_options));
  const int64_t wanted = absl::GetFlag(FLAGS_passages);
  std::vector<Passage> passages;
  if (wanted <= 0 || wanted >= int64_t(all.size())) {
    passages = std::move(all);
  } else {
    for (int64_t i = 0; i < wanted; ++i) passages.push_back(all[i * int64_t(all.size()) / wanted]);
  }
  const int64_t k = training["continuation_tokens"].get<int64_t>();
  LIP_ASSIGN_OR_RETURN(std::vector<ContinuationExample> examples,
                       MakeContinuationExamples(receiver->tokenizer(), passages, k));
  ProgressMeter meter("continuation", int64_t(examples.size()));
  ContinuationEvalOptions options;
  options.samples = absl::GetFlag(FLAGS_samples);
  options.progress = [&meter](int64_t done, int64_t) { meter.Update(done); };
  const auto start = Clock::now();
  LIP_ASSIGN_OR_RETURN(ContinuationEvaluation evaluation,
                       EvaluateContinuation(*sender, *receiver, examples, options));
  meter.Finish();
  nlohmann::json result = ContinuationEvaluationToJson(evaluation);
  result["format"] = "lip-continuation-result";
  result["bridge"] = metadata.name;
  result["sender"] = metadata.sender_model.name;
  result["receiver"] = metadata.receiver_model.name;
  result["num_soft_tokens"] = metadata.sender.perceiver.num_queries;
  result["prefix_words"] = passage_options.prefix_words;
  result["test_file"] = std::filesystem::path(test_file).filename().string();
  result["train_file"] = std::filesystem::path(training.value("train_file", "")).filename().string();
  result["train_steps"] = training.value("steps_done", int64_t(0));
  result["train_passages"] = training.value("train_passages", int64_t(0));
  result["batch_size"] = training.value("batch_size", int64_t(0));
  result["learning_rate"] = training.value("learning_rate", 0.0);
  result["seed"] = training.value("seed", int64_t(0));
  result["train_seconds"] = metadata.evaluation.value("train_seconds", 0.0);
  result["final_train_loss"] = metadata.evaluation.value("final_train_loss", 0.0);
  result["device"] = absl::GetFlag(FLAGS_device);
  result["threads"] = torch::get_num_threads();
  result["eval_seconds"] = std::chrono::duration<double>(Clock::now() - start).count();
  std::fprintf(stderr,
               "lip-eval: continuation on %lld passages x %lld tokens: NLL none %.4f, soft %.4f, text %.4f, "
               "another passage's soft tokens %.4f; gap closed %.3f, by this passage's own soft tokens %.3f\n",
               static_cast<long long>(evaluation.passages), static_cast<long long>(k), evaluation.nll_none,
               evaluation.nll_soft, evaluation.nll_text, evaluation.nll_mismatched, evaluation.gap_closed,
               evaluation.passage_gap_closed);
  const std::string out = absl::GetFlag(FLAGS_result);
  if (!out.empty()) {
    std::ofstream file(out, std::ios::trunc);
    file << result.dump(2) << "\n";
    file.close();
    if (!file) return absl::InternalError("cannot write " + out);
    std::fprintf(stderr, "lip-eval: wrote %s\n", out.c_str());
  } else {
    std::printf("%s\n", result.dump(2).c_str());
  }
  return absl::OkStatus();
}

absl::Status Run(const std::vector<char*>& args) {
  if (absl::GetFlag(FLAGS_threads) > 0) torch::set_num_threads(absl::GetFlag(FLAGS_threads));
  const std::string command = args.size() > 1 ? args[1] : "";
  if (command == "bridge") return EvaluateBridge();
  if (command == "baselines") return EvaluateBaselines();
  if (command == "report") return Report();
  if (command == "continuation") return EvaluateContinuationBridge();
  return absl::InvalidArgumentError(
      absl::StrCat("usage: lip-eval bridge|baselines|report|continuation [flags] (got \"", command, "\")"));
}

}  // namespace
}  // namespace lip

int main(int argc, char** argv) {
  const std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  absl::Status status = lip::Run(args);
  if (!status.ok()) {
    std::fprintf(stderr, "lip-eval: %s\n", status.ToString().c_str());
    return 1;
  }
  return 0;
}
