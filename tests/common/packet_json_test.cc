#include "common/wire/packet_json.h"

#include <string>
#include <vector>

#include "common/wire/packet_codec.h"
#include "gtest/gtest.h"

namespace lip {
namespace {

TEST(PacketJsonTest, HeaderHasOriginalFieldNamesHexIdAndTensorSummaryOnly) {
  PacketMetadata meta;
  meta.packet_id = std::string("\x00\x01\xfe\xff", 4) + std::string(12, '\x10');
  meta.created_unix_nanos = 5;
  meta.sender_model.set_name("s");
  meta.bridge.set_name("b");
  meta.task.mutable_classify()->add_labels("yes");
  const std::vector<float> values = {1, 2, 3, 4, 5, 6};
  absl::StatusOr<lip::v1::LipPacket> packet = BuildPacket(meta, values, 2, 3, lip::v1::DTYPE_INT8);
  ASSERT_TRUE(packet.ok()) << packet.status();

  const nlohmann::json j = PacketHeaderJson(*packet);
  EXPECT_EQ(j["packet_id"], "0001feff101010101010101010101010");
  EXPECT_EQ(j["soft_token_count"], 2);
  EXPECT_EQ(j["soft_token_width"], 3);
  EXPECT_EQ(j["sender_model"]["name"], "s");
  EXPECT_EQ(j["version"]["major"], 1);
  EXPECT_EQ(j["task"]["classify"]["labels"][0], "yes");
  EXPECT_EQ(j["tensor"]["dtype"], "DTYPE_INT8");
  EXPECT_EQ(j["tensor"]["data_bytes"], 6);
  EXPECT_EQ(j["tensor"]["scales_count"], 2);
  EXPECT_EQ(j["tensor"]["crc32c_hex"].get<std::string>().size(), 10u);
  EXPECT_FALSE(j["tensor"].contains("data"));  // bytes are summarized, not printed
}

TEST(PacketJsonTest, UnknownDtypeIsShownAsNumber) {
  lip::v1::LipPacket packet;
  packet.mutable_tensor()->set_dtype(static_cast<lip::v1::DType>(9));
  EXPECT_EQ(PacketHeaderJson(packet)["tensor"]["dtype"], "9");
}

}  // namespace
}  // namespace lip
