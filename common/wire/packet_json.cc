#include "common/wire/packet_json.h"

#include <string>

#include <google/protobuf/util/json_util.h>

#include "absl/strings/str_format.h"
#include "common/wire/packet_codec.h"

namespace lip {

nlohmann::json PacketHeaderJson(const lip::v1::LipPacket& packet) {
  lip::v1::LipPacket header = packet;
  header.clear_tensor();
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  options.preserve_proto_field_names = true;
  std::string text;
  nlohmann::json j = nlohmann::json::object();
  if (google::protobuf::util::MessageToJsonString(header, &text, options).ok()) {
    j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) j = nlohmann::json::object();
  }
  j["packet_id"] = HexBytes(packet.packet_id());
  if (packet.has_tensor()) {
    const lip::v1::Tensor& t = packet.tensor();
    const std::string dtype_name = lip::v1::DType_IsValid(t.dtype()) ? lip::v1::DType_Name(t.dtype())
                                                                      : absl::StrFormat("%d", static_cast<int>(t.dtype()));
    j["tensor"] = {{"dtype", dtype_name},
                   {"data_bytes", t.data().size()},
                   {"scales_count", t.scales_size()},
                   {"crc32c_hex", absl::StrFormat("0x%08x", t.crc32c())}};
  }
  return j;
}

}  // namespace lip
