// libFuzzer target for the LIP v1 packet decoder. Any byte string must give
// either a valid packet whose invariants hold, or a packet error with a
// reason and the documented status code; never a crash, a sanitizer report,
// a hang or unbounded memory. Built with -DLIP_FUZZ=ON (deploy/fuzz.sh); in
// normal builds packet_fuzz_corpus_test replays the committed corpus
// through the same entry point.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <google/protobuf/stubs/logging.h>

#include "common/wire/packet_codec.h"
#include "common/wire/packet_error.h"
#include "common/wire/packet_json.h"

namespace {

void Require(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "packet decoder invariant violated: %s\n", what);
    std::abort();
  }
}

}  // namespace

// Protobuf logs an ERROR line for every string field that is not UTF-8; the
// decoder already turns those into MALFORMED, so the lines are only noise here.
extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string wire(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<lip::DecodedPacket> decoded = lip::DecodePacket(wire);
  if (!decoded.ok()) {
    const absl::StatusCode code = decoded.status().code();
    const std::string reason = lip::PacketErrorReason(decoded.status());
    Require(!reason.empty(), "error without a reason");
    Require(code == (reason == "VERSION_MISMATCH" ? absl::StatusCode::kFailedPrecondition
                                                  : absl::StatusCode::kInvalidArgument),
            "wrong status code for the reason");
    Require(!decoded.status().message().empty(), "error without a message");
    return 0;
  }
  const lip::DecodedPacket& p = *decoded;
  Require(p.rows >= 1 && p.cols >= 1, "empty shape accepted");
  Require(p.values.size() == static_cast<size_t>(p.rows) * p.cols, "values != rows*cols");
  for (float v : p.values) Require(std::isfinite(v), "non-finite value accepted");
  Require(p.packet.packet_id().size() == 16, "packet id not 16 bytes");
  // Re-encoding a valid packet must give a valid packet with the same values.
  absl::StatusOr<lip::DecodedPacket> again = lip::DecodePacket(lip::SerializePacket(p.packet));
  Require(again.ok(), "re-serialized valid packet does not decode");
  Require(again->values == p.values, "re-serialized packet decodes to other values");
  Require(lip::PacketHeaderJson(p.packet).contains("packet_id"), "header JSON lacks packet_id");
  return 0;
}
