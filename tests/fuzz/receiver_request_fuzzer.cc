// libFuzzer target for the receiver's request path, in process: request bytes
// -> a real gRPC server (in-process channel) -> ReceiverService::SendLatent
// (role check, compact-message expansion, codec validation, LatentMessageFromPacket,
// LatentBatcher) -> a
// ReceiverPipeline on a tiny random model (tests/latent/test_models.h: a
// 2-layer qwen2 of width 24 with the demo receiver's tokenizer). Any input must
// give either an answer that fits the task or an error with a code other than
// UNKNOWN/INTERNAL and a readable message; never a crash, a sanitizer report
// or a hang.
//
// Input: byte 0 is a flags byte, the rest a serialized request.
//   bit 0: recompute the tensor's CRC32C before the call, so mutated tensors
//          reach the checks behind the checksum (shape, values, pipeline);
//   bit 1: the rest is a SendTextRequest for SendText instead;
//   bit 2: LIP 1.1 compact wire: send the request's packet in full with header_id, then its
//          next message as a CompactPacket naming that header; both answers must agree.
// A request that carries a CompactPacket is sent as it is (HEADER_NOT_CACHED unless an earlier
// input left the header: the service's header cache outlives one input, and the invariants
// hold either way).
// The service runs with tightened limits (PacketLimits may only tighten the
// protocol maxima) and text requests over the same caps are skipped, so each
// execution stays in milliseconds; the caps are what the harness can afford,
// not what the protocol allows.
//
// Built with -DLIP_FUZZ=ON as lip_receiver_request_fuzzer; otherwise
// receiver_request_corpus_test replays tests/fuzz/receiver_request_corpus/.
// LIP_FUZZ_WRITE_SEEDS=<dir> makes the first call write valid seed requests
// (classify and generate, latent and text) there.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <condition_variable>
#include <mutex>

#include <google/protobuf/stubs/logging.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include "bridge/latent/receiver_pipeline.h"
#include "common/node/logging.h"
#include "common/node/metrics.h"
#include "common/wire/compact_packet.h"
#include "common/wire/packet_codec.h"
#include "lip/v1/receiver.pb.h"
#include "bridge/latent/bridge_proto.h"
#include "server/receiver/latent_batcher.h"
#include "server/receiver/receiver_service.h"
#include "tests/latent/test_models.h"

namespace lip {
namespace {

// Caps that keep one execution short (see the file comment).
constexpr uint32_t kMaxNewTokens = 12;
constexpr uint32_t kMaxLabels = 6;
constexpr size_t kMaxLabelBytes = 48;
constexpr size_t kMaxPrimingBytes = 192;
constexpr size_t kMaxTextBytes = 256;

void Require(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "receiver request invariant violated: %s\n", what);
    std::abort();
  }
}

PacketLimits FuzzLimits() {
  PacketLimits limits;
  limits.max_packet_bytes = 64u << 10;
  limits.max_soft_tokens = 32;
  limits.max_soft_token_width = 64;
  limits.max_values = 1024;
  limits.max_priming_bytes = kMaxPrimingBytes;
  limits.max_labels = kMaxLabels;
  limits.max_label_bytes = kMaxLabelBytes;
  limits.max_new_tokens = kMaxNewTokens;
  limits.max_stop_strings = 4;
  limits.max_stop_bytes = 32;
  return limits;
}

struct Harness {
  std::unique_ptr<ReceiverPipeline> pipeline;
  std::unique_ptr<metrics::Registry> metrics;
  std::unique_ptr<LatentBatcher> batcher;
  std::unique_ptr<ReceiverService> service;
  // The service runs in a real gRPC server reached through an in-process channel: the request
  // bytes go through the same raw-method parsing as over the network.
  std::unique_ptr<grpc::Server> server;
  std::unique_ptr<grpc::GenericStub> stub;
};

std::string SourcePath(const std::string& relative) {
  return std::string(LIP_SOURCE_DIR) + "/" + relative;
}

Harness* MakeHarness() {
  SetMinLogLevel(LogLevel::kError);  // the service logs every refused packet: noise at fuzzing rates
  torch::set_num_threads(1);
  torch::manual_seed(23);
  auto tokenizer = Tokenizer::FromDirectory(SourcePath(testing_models::kReceiverTokenizerDir));
  Require(tokenizer.ok(), "the demo receiver tokenizer does not load (run from a LIP checkout)");
  ModelConfig config = testing_models::TinyConfig("qwen2", 12288, 24, 2);
  config.eos_token_ids = {12285};
  auto model = DecoderModel::RandomInit(config, LoadOptions(), 2);
  Require(model.ok(), "tiny receiver model");
  // TinyBridge reads only the sender's config and digest; the receiver stands in for it.
  BridgeMetadata bridge = testing_models::TinyBridge(**model, **model);
  auto pipeline = ReceiverPipeline::Create(std::move(*model), std::move(*tokenizer),
                                           ReceiverHalf{bridge, ReceiverAdapter(bridge.receiver.adapter)});
  Require(pipeline.ok(), "tiny receiver pipeline");
  auto* h = new Harness;
  h->pipeline = std::move(*pipeline);
  h->metrics = std::make_unique<metrics::Registry>();
  LatentBatcherOptions batcher_options;
  batcher_options.max_batch_size = 4;
  batcher_options.max_wait = absl::ZeroDuration();
  h->batcher = std::make_unique<LatentBatcher>(h->pipeline.get(), batcher_options, h->metrics.get());
  ReceiverServiceOptions service_options;
  service_options.insecure = true;  // no TLS in process: the caller has every role
  service_options.limits = FuzzLimits();
  h->service = std::make_unique<ReceiverService>(h->pipeline.get(), h->batcher.get(), h->metrics.get(),
                                                 service_options);
  grpc::ServerBuilder builder;
  builder.RegisterService(h->service.get());
  h->server = builder.BuildAndStart();
  Require(h->server != nullptr, "in-process gRPC server");
  h->stub = std::make_unique<grpc::GenericStub>(h->server->InProcessChannel(grpc::ChannelArguments()));
  return h;
}

Harness& GetHarness() {
  static Harness* harness = MakeHarness();  // lives for the process
  return *harness;
}

size_t LabelCount(const Harness& h, const lip::v1::Task& task) {
  const int n = task.classify().labels_size();
  return n > 0 ? static_cast<size_t>(n) : h.pipeline->bridge().labels.size();
}

// One unary call of `method` with `bytes` as the request, waited for.
grpc::Status Call(Harness& h, const std::string& method, const std::string& bytes, std::string* answer) {
  grpc::Slice slice(bytes);
  grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer response;
  grpc::ClientContext context;
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  grpc::Status status;
  h.stub->UnaryCall(&context, method, grpc::StubOptions(), &request, &response, [&](grpc::Status s) {
    std::lock_guard<std::mutex> lock(mu);
    status = std::move(s);
    done = true;
    cv.notify_all();
  });
  std::unique_lock<std::mutex> lock(mu);
  cv.wait(lock, [&] { return done; });
  if (status.ok()) {
    std::vector<grpc::Slice> slices;
    Require(response.Dump(&slices).ok(), "answer bytes");
    for (const auto& piece : slices) answer->append(reinterpret_cast<const char*>(piece.begin()), piece.size());
  }
  return status;
}

void CheckResponse(const Harness& h, const grpc::Status& status, const lip::v1::Task& task,
                   const lip::v1::SendLatentResponse& response) {
  if (!status.ok()) {
    Require(status.error_code() != grpc::StatusCode::UNKNOWN, "UNKNOWN status");
    Require(status.error_code() != grpc::StatusCode::INTERNAL, "INTERNAL status");
    Require(!status.error_message().empty(), "error without a message");
    return;
  }
  if (task.has_generate()) {
    Require(response.has_generation(), "generate task answered without a generation");
    Require(response.generation().token_ids_size() <= static_cast<int>(task.generate().max_new_tokens()),
            "more tokens than max_new_tokens");
    const std::string& reason = response.generation().stop_reason();
    Require(reason == "eos" || reason == "stop_string" || reason == "max_new_tokens", "unknown stop reason");
  } else {
    Require(response.has_classification(), "classify task answered without a classification");
    const size_t labels = LabelCount(h, task);
    Require(response.classification().label_index() < labels, "label index out of range");
    Require(static_cast<size_t>(response.classification().log_probs_size()) == labels,
            "one log-prob per label expected");
  }
  Require(response.bridge().name() == h.pipeline->bridge().name, "answer names another bridge");
}

bool TextRequestWithinCaps(const lip::v1::SendTextRequest& request) {
  if (request.text().size() > kMaxTextBytes) return false;
  if (request.priming().context_prefix().size() > kMaxPrimingBytes ||
      request.priming().anchor().size() > kMaxPrimingBytes) {
    return false;
  }
  if (request.task().generate().max_new_tokens() > kMaxNewTokens) return false;
  if (request.task().generate().stop_size() > 4) return false;
  if (request.task().classify().labels_size() > static_cast<int>(kMaxLabels)) return false;
  for (const std::string& label : request.task().classify().labels()) {
    if (label.size() > kMaxLabelBytes) return false;
  }
  return true;
}

void WriteSeed(const std::string& dir, const std::string& name, uint8_t flags, const std::string& bytes) {
  std::ofstream out(dir + "/" + name, std::ios::binary);
  out.put(static_cast<char>(flags));
  out << bytes;
}

// Valid requests for the tiny bridge: classify (the bridge's labels, others), generate, int8.
void WriteSeeds(const Harness& h, const std::string& dir) {
  const BridgeMetadata& bridge = h.pipeline->bridge();
  const int rows = static_cast<int>(bridge.sender.perceiver.num_queries);
  const int cols = static_cast<int>(bridge.sender.perceiver.output_width);
  std::vector<float> values(static_cast<size_t>(rows) * cols);
  for (size_t i = 0; i < values.size(); ++i) values[i] = 0.05f * static_cast<float>((i * 7) % 13) - 0.3f;
  int n = 0;
  for (int variant = 0; variant < 4; ++variant) {
    PacketMetadata meta;
    meta.sender_model.set_name("tiny-sender");
    meta.bridge = BridgeIdToProto(bridge);
    meta.receiver_models.push_back(ModelIdToProto(h.pipeline->model_id()));
    meta.source_layer = 1;
    if (variant == 0) {
      for (const std::string& label : bridge.labels) meta.task.mutable_classify()->add_labels(label);
    }
    if (variant == 1) {
      meta.task.mutable_classify()->add_labels(" good");
      meta.task.mutable_classify()->add_labels(" bad");
      meta.task.mutable_classify()->add_labels(" meh");
      meta.priming.set_context_prefix("Review:");
      meta.priming.set_anchor("\nVerdict:");
    }
    if (variant >= 2) {
      meta.task.mutable_generate()->set_max_new_tokens(4);
      meta.task.mutable_generate()->add_stop(".");
      if (variant == 3) {
        meta.task.mutable_generate()->set_temperature(0.8f);
        meta.task.mutable_generate()->set_top_p(0.9f);
        meta.task.mutable_generate()->set_seed(7);
      }
    }
    const lip::v1::DType dtype = variant == 3 ? lip::v1::DTYPE_INT8
                                 : variant == 2 ? lip::v1::DTYPE_FP16 : lip::v1::DTYPE_FP32;
    auto packet = BuildPacket(meta, values, rows, cols, dtype);
    if (!packet.ok()) std::fprintf(stderr, "seed packet %d: %s\n", variant, packet.status().ToString().c_str());
    Require(packet.ok(), "seed packet");
    lip::v1::SendLatentRequest request;
    *request.mutable_packet() = *packet;
    WriteSeed(dir, "latent-" + std::to_string(n++), 1, request.SerializeAsString());
    // The same packet through the compact wire (flag 4), and its compact form alone.
    WriteSeed(dir, "compact-wire-" + std::to_string(variant), 4, request.SerializeAsString());
    lip::v1::SendLatentRequest compact;
    *compact.mutable_compact() = CompactFromPacket(*packet, HeaderIdFor(*packet));
    WriteSeed(dir, "compact-alone-" + std::to_string(variant), 1, compact.SerializeAsString());
  }
  lip::v1::SendTextRequest text;
  text.set_text("a quietly moving film");
  text.mutable_task()->mutable_classify();
  WriteSeed(dir, "text-classify", 2, text.SerializeAsString());
  text.mutable_task()->mutable_generate()->set_max_new_tokens(3);
  text.mutable_priming()->set_anchor("\nSummary:");
  WriteSeed(dir, "text-generate", 2, text.SerializeAsString());
}

}  // namespace
}  // namespace lip

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace lip;
  static bool initialized = [] {
    google::protobuf::SetLogHandler(nullptr);  // non-UTF-8 strings are refused anyway
    if (const char* dir = std::getenv("LIP_FUZZ_WRITE_SEEDS")) WriteSeeds(GetHarness(), dir);
    return true;
  }();
  (void)initialized;
  if (size < 1) return 0;
  Harness& h = GetHarness();
  const uint8_t flags = data[0];
  const std::string bytes(reinterpret_cast<const char*>(data + 1), size - 1);
  std::string answer;
  lip::v1::SendLatentResponse response;
  if (flags & 2) {
    lip::v1::SendTextRequest request;
    if (!request.ParseFromString(bytes)) {
      // Bytes that are no request: refused by the service itself, INVALID_ARGUMENT.
      const grpc::Status status = Call(h, "/lip.v1.LatentReceiver/SendText", bytes, &answer);
      Require(status.error_code() == grpc::StatusCode::INVALID_ARGUMENT, "unparseable SendText not INVALID_ARGUMENT");
      return 0;
    }
    if (!TextRequestWithinCaps(request)) return 0;
    const grpc::Status status = Call(h, "/lip.v1.LatentReceiver/SendText", bytes, &answer);
    if (status.ok()) Require(response.ParseFromString(answer), "answer parses");
    CheckResponse(h, status, request.task(), response);
    return 0;
  }
  lip::v1::SendLatentRequest request;
  if (!request.ParseFromString(bytes)) {
    const grpc::Status status = Call(h, "/lip.v1.LatentReceiver/SendLatent", bytes, &answer);
    Require(status.error_code() == grpc::StatusCode::INVALID_ARGUMENT, "unparseable SendLatent not INVALID_ARGUMENT");
    return 0;
  }
  if (flags & 1) {
    lip::v1::Tensor* tensor = request.has_compact() ? request.mutable_compact()->mutable_tensor()
                                                    : request.mutable_packet()->mutable_tensor();
    tensor->set_crc32c(TensorChecksum(*tensor));
  }
  if (request.has_compact()) {
    // LIP 1.1 compact message on its own: HEADER_NOT_CACHED (FAILED_PRECONDITION) unless an earlier
    // input left its header for this caller; a malformed one is INVALID_ARGUMENT. Never a crash.
    const grpc::Status status = Call(h, "/lip.v1.LatentReceiver/SendLatent", request.SerializeAsString(), &answer);
    if (status.ok()) {
      Require(response.ParseFromString(answer), "answer parses");
      Require(response.has_classification() || response.has_generation(), "answer without a result");
    } else {
      Require(status.error_code() == grpc::StatusCode::INVALID_ARGUMENT ||
                  status.error_code() == grpc::StatusCode::FAILED_PRECONDITION,
              "compact message refused with an undocumented code");
    }
    return 0;
  }
  if (flags & 4) {
    // The compact wire end to end: the packet in full with header_id, then (when the receiver kept
    // its header) the same message compact, which must get the same answer.
    const uint64_t header_id = HeaderIdFor(request.packet());
    lip::v1::SendLatentRequest full;
    *full.mutable_packet() = WithHeaderId(request.packet(), header_id);
    const grpc::Status status = Call(h, "/lip.v1.LatentReceiver/SendLatent", full.SerializeAsString(), &answer);
    if (status.ok()) Require(response.ParseFromString(answer), "answer parses");
    CheckResponse(h, status, request.packet().task(), response);
    if (!status.ok() || !response.header_cached()) return 0;
    lip::v1::SendLatentRequest compact;
    lip::v1::LipPacket next = request.packet();
    next.set_packet_id(DerivedPacketId(header_id, next.sequence() + 1));
    next.set_sequence(next.sequence() + 1);
    *compact.mutable_compact() = CompactFromPacket(next, header_id);
    std::string compact_answer;
    const grpc::Status again =
        Call(h, "/lip.v1.LatentReceiver/SendLatent", compact.SerializeAsString(), &compact_answer);
    Require(again.ok(), "compact form of an answered packet refused");
    lip::v1::SendLatentResponse second;
    Require(second.ParseFromString(compact_answer), "compact answer parses");
    Require(second.packet_id() == next.packet_id(), "compact answer for another packet");
    Require(second.classification().label_index() == response.classification().label_index() &&
                second.generation().token_ids_size() == response.generation().token_ids_size(),
            "compact and full forms answered differently");
    return 0;
  }
  const grpc::Status status = Call(h, "/lip.v1.LatentReceiver/SendLatent", request.SerializeAsString(), &answer);
  if (status.ok()) Require(response.ParseFromString(answer), "answer parses");
  CheckResponse(h, status, request.packet().task(), response);
  if (status.ok()) Require(response.packet_id() == request.packet().packet_id(), "answer for another packet");
  return 0;
}
