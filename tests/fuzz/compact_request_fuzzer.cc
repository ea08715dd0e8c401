// libFuzzer target for the LIP 1.1 compact wire at the codec level (common/wire/compact_packet.h):
// any byte string, read as a SendLatentRequest by a receiver that holds one header (the
// golden stream's, tests/data/lip-v1.1/), must give either a valid packet whose invariants hold
// or an error with a reason and the documented code — never a crash, a sanitizer report, a
// hang or unbounded memory. A valid full packet that sets header_id is then sent again as its
// compact form, which must decode to the same values. Built with -DLIP_FUZZ=ON
// (deploy/fuzz.sh); in normal builds compact_fuzz_corpus_test replays tests/fuzz/compact_corpus/
// and the golden requests through the same entry point.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>

#include <google/protobuf/stubs/logging.h>

#include "common/wire/compact_packet.h"
#include "common/wire/packet_codec.h"
#include "common/wire/packet_error.h"
#include "lip/v1/receiver.pb.h"

namespace {

void Require(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "compact request invariant violated: %s\n", what);
    std::abort();
  }
}

// The header the receiver holds: a 4 x 32 int8 classify packet's, under its own id.
const lip::v1::LipPacket& HeldHeader() {
  static const lip::v1::LipPacket* header = [] {
    lip::PacketMetadata meta;
    meta.sender_model.set_name("lip-demo/sender-llama");
    meta.bridge.set_name("golden-compact-bridge");
    meta.task.mutable_classify()->add_labels(" world");
    meta.task.mutable_classify()->add_labels(" sports");
    std::vector<float> values(4 * 32, 0.25f);
    absl::StatusOr<lip::v1::LipPacket> packet = lip::BuildPacket(meta, values, 4, 32, lip::v1::DTYPE_INT8);
    Require(packet.ok(), "the held header's packet builds");
    return new lip::v1::LipPacket(lip::PacketHeader(*packet));
  }();
  return *header;
}

void CheckError(const absl::Status& status) {
  const std::string reason = lip::PacketErrorReason(status);
  Require(!reason.empty(), "error without a reason");
  const bool precondition = reason == "VERSION_MISMATCH" || reason == "HEADER_NOT_CACHED";
  Require(status.code() == (precondition ? absl::StatusCode::kFailedPrecondition : absl::StatusCode::kInvalidArgument),
          "wrong status code for the reason");
  Require(!status.message().empty(), "error without a message");
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  google::protobuf::SetLogHandler(nullptr);  // non-UTF-8 strings are MALFORMED anyway
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > (16u << 20)) return 0;  // gRPC refuses larger messages before any parsing
  lip::v1::SendLatentRequest request;
  if (!request.ParseFromArray(data, static_cast<int>(size))) return 0;  // MALFORMED, by the service
  std::map<uint64_t, std::shared_ptr<const lip::v1::LipPacket>> headers;
  headers[lip::HeaderIdFor(HeldHeader())] = std::make_shared<lip::v1::LipPacket>(HeldHeader());
  headers[0x3f1e2d5a7788aa11u] = std::make_shared<lip::v1::LipPacket>(HeldHeader());  // an arbitrary id
  auto lookup = [&](uint64_t id) -> std::shared_ptr<const lip::v1::LipPacket> {
    auto it = headers.find(id);
    return it == headers.end() ? nullptr : it->second;
  };
  absl::StatusOr<lip::v1::LipPacket> packet = lip::PacketOfRequest(&request, lookup);
  if (!packet.ok()) {
    CheckError(packet.status());
    return 0;
  }
  absl::StatusOr<std::vector<float>> values = lip::ValidateAndDequantize(*packet);
  if (!values.ok()) {
    CheckError(values.status());
    return 0;
  }
  for (float v : *values) Require(std::isfinite(v), "non-finite value accepted");
  Require(packet->packet_id().size() == 16, "packet id not 16 bytes");
  if (packet->header_id() == 0) return 0;
  // A full packet that leaves its header: its compact form decodes to the same values.
  const uint64_t id = packet->header_id();
  headers[id] = std::make_shared<lip::v1::LipPacket>(lip::PacketHeader(*packet));
  lip::v1::SendLatentRequest compact;
  *compact.mutable_compact() = lip::CompactFromPacket(*packet, id);
  absl::StatusOr<lip::v1::LipPacket> expanded = lip::PacketOfRequest(&compact, lookup);
  Require(expanded.ok(), "compact form of a valid packet refused");
  absl::StatusOr<std::vector<float>> again = lip::ValidateAndDequantize(*expanded);
  Require(again.ok(), "compact form of a valid packet does not validate");
  Require(*again == *values, "compact form decodes to other values");
  Require(expanded->packet_id() == packet->packet_id(), "compact form has another packet id");
  return 0;
}
