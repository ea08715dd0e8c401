// A LIP packet's header as JSON, for `lipctl packet inspect`, logs and
// debugging: every field in proto3 JSON form with the original field names,
// except that packet_id is lowercase hex and the tensor bytes are summarized
// (dtype, data_bytes, scales_count, crc32c_hex) instead of printed.
// Pure function; thread-safe.
#ifndef LIP_COMMON_WIRE_PACKET_JSON_H_
#define LIP_COMMON_WIRE_PACKET_JSON_H_

#include "lip/v1/packet.pb.h"
#include "nlohmann/json.hpp"

namespace lip {

nlohmann::json PacketHeaderJson(const lip::v1::LipPacket& packet);

}  // namespace lip

#endif  // LIP_COMMON_WIRE_PACKET_JSON_H_
