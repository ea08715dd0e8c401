// The LIP 1.1 compact wire end to end (docs/protocol.md §12): registry, receiver and sender as
// real processes over mutual TLS on the demo models, a random bridge. The receiver keeps at most
// two headers per caller, so eviction is easy to cause. Checked: a stream that mixes full and
// compact messages is answered like the same packets sent in full; a compact message for a
// header the receiver does not hold gets FAILED_PRECONDITION / HEADER_NOT_CACHED, and the C++
// client (unary and stream) and the sender node resend in full without their caller noticing;
// malformed compact messages get INVALID_ARGUMENT with their reason while the receiver goes on
// serving.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/lip_client.h"
#include "common/wire/compact_packet.h"
#include "common/node/grpc_status.h"
#include "common/wire/packet_codec.h"
#include "tests/server/demo_nodes.h"
#include "tests/server/node_process.h"

namespace lip {
namespace {
using testing::NodeProcess;

constexpr char kBridgeName[] = "compact-wire-test-sst2";

const std::vector<std::string> kTexts = {
    "one long string of cliches .",
    "a gorgeous , witty , seductive movie .",
    "the film is strictly routine .",
    "an utterly charming and hilarious film .",
    "it 's a bad sign when you 're rooting for the film to end .",
    "a masterpiece four years in the making ."};

class CompactWireTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!testing::DemoModelsPresent()) GTEST_SKIP() << "demo/models is missing";
    auto dir = testing::NodeTestDir::Create("lip-compact-wire");
    ASSERT_TRUE(dir.ok()) << dir.status();
    dir_ = new testing::NodeTestDir(*std::move(dir));
    const std::string root = dir_->root();
    ASSERT_TRUE(testing::MakeRandomDemoBridge(root + "/bridge", kBridgeName).ok());
    registry_ = dir_->Start(LIP_REGISTRY_BINARY, "registry", {"--data_dir=" + root + "/registry-data"}).release();
    ASSERT_NE(registry_, nullptr);
    const std::string registry_address = absl::StrCat("127.0.0.1:", registry_->port());
    receiver_ = dir_->Start(LIP_RECEIVER_BINARY, "receiver",
                            {"--model_dir=" + std::string(testing::kDemoReceiverModel),
                             "--bridge_dir=" + root + "/bridge", "--registry=" + registry_address,
                             "--data_dir=" + root + "/receiver-data", "--allow_model_mismatch",
                             "--max_batch_size=4", "--max_batch_wait_ms=5", "--header_cache_headers=2"})
                    .release();
    ASSERT_NE(receiver_, nullptr);
    sender_ = dir_->Start(LIP_SENDER_BINARY, "sender",
                          {"--model_dir=" + std::string(testing::kDemoSenderModel),
                           "--bridge_dir=" + root + "/bridge", "--registry=" + registry_address,
                           "--data_dir=" + root + "/sender-data", "--allow_model_mismatch", "--compact_wire",
                           "--wire_dtype=int8"})
                  .release();
    ASSERT_NE(sender_, nullptr);
  }

  static void TearDownTestSuite() {
    delete sender_;
    delete receiver_;
    delete registry_;
    sender_ = receiver_ = registry_ = nullptr;
    if (dir_ != nullptr) {
      dir_->Remove();
      delete dir_;
      dir_ = nullptr;
    }
  }

  void SetUp() override {
    if (sender_ == nullptr) GTEST_SKIP();
    auto encoder = SenderClient::Connect(dir_->Options("admin", sender_->port()));
    ASSERT_TRUE(encoder.ok());
    encoder_ = *std::move(encoder);
  }

  // A packet from the sender node (int8): `labels` pick the header (each label set is its own).
  lip::v1::LipPacket Encode(const std::string& text, const std::vector<std::string>& labels, uint64_t sequence) {
    lip::v1::EncodeRequest request;
    request.set_text(text);
    request.set_conversation_id("compact-conversation");
    request.set_sequence(sequence);
    request.set_wire_dtype(lip::v1::DTYPE_INT8);
    for (const std::string& label : labels) request.mutable_task()->mutable_classify()->add_labels(label);
    auto encoded = encoder_->Encode(request);
    EXPECT_TRUE(encoded.ok()) << encoded.status();
    return encoded.ok() ? encoded->packet() : lip::v1::LipPacket();
  }

  static std::unique_ptr<ReceiverClient> Receiver(bool compact) {
    ClientOptions options = dir_->Options("sender", receiver_->port());
    options.compact_wire = compact;
    auto client = ReceiverClient::Connect(options);
    EXPECT_TRUE(client.ok()) << client.status();
    return client.ok() ? *std::move(client) : nullptr;
  }

  static testing::NodeTestDir* dir_;
  static NodeProcess* registry_;
  static NodeProcess* receiver_;
  static NodeProcess* sender_;
  std::unique_ptr<SenderClient> encoder_;
};
testing::NodeTestDir* CompactWireTest::dir_ = nullptr;
NodeProcess* CompactWireTest::registry_ = nullptr;
NodeProcess* CompactWireTest::receiver_ = nullptr;
NodeProcess* CompactWireTest::sender_ = nullptr;

const std::vector<std::string> kLabelsA = {" negative", " positive"};
const std::vector<std::string> kLabelsB = {" positive", " negative"};
const std::vector<std::string> kLabelsC = {" bad", " good"};

TEST_F(CompactWireTest, StreamMixingFullAndCompactMessagesIsAnsweredLikeFullPackets) {
  std::vector<lip::v1::LipPacket> packets;
  for (uint64_t i = 0; i < 6; ++i) packets.push_back(Encode(kTexts[i], kLabelsA, i));
  for (uint64_t i = 0; i < 2; ++i) packets.push_back(Encode(kTexts[i], kLabelsB, 6 + i));
  auto compact_client = Receiver(true);
  auto full_client = Receiver(false);
  std::vector<uint64_t> compact_bytes, full_bytes;
  auto compact = compact_client->StreamLatents(packets, &compact_bytes);
  ASSERT_TRUE(compact.ok()) << compact.status();
  auto full = full_client->StreamLatents(packets, &full_bytes);
  ASSERT_TRUE(full.ok()) << full.status();
  ASSERT_EQ(compact->size(), packets.size());
  ASSERT_EQ(compact_bytes.size(), packets.size()) << "no resend was needed";
  for (size_t i = 0; i < packets.size(); ++i) {
    const auto& c = (*compact)[i];
    const auto& f = (*full)[i];
    ASSERT_TRUE(c.has_classification()) << i << ": " << c.error().reason() << " " << c.error().message();
    ASSERT_TRUE(f.has_classification()) << i;
    EXPECT_EQ(c.packet_id(), packets[i].packet_id()) << i;
    EXPECT_EQ(c.sequence(), packets[i].sequence()) << i;
    EXPECT_EQ(c.conversation_id(), "compact-conversation") << i;
    EXPECT_EQ(c.classification().label_index(), f.classification().label_index()) << i;
    for (int k = 0; k < 2; ++k) {
      EXPECT_NEAR(c.classification().log_probs(k), f.classification().log_probs(k), 1e-3) << i;
    }
    EXPECT_EQ(full_bytes[i], packets[i].ByteSizeLong()) << "without compact_wire, packets go as they are";
  }
  // The first message of each header goes in full and leaves the header; the rest go compact.
  EXPECT_TRUE((*compact)[0].header_cached());
  EXPECT_TRUE((*compact)[6].header_cached());
  for (size_t i : {1, 2, 3, 4, 5, 7}) {
    // The header (model ids and digests, bridge id and digest, labels, priming) stays home.
    EXPECT_LT(compact_bytes[i] + 200, full_bytes[i]) << i << ": " << compact_bytes[i] << " vs " << full_bytes[i];
  }
  EXPECT_GT(compact_bytes[0], full_bytes[0]) << "the full packet carries header_id on top";
}

TEST_F(CompactWireTest, CacheMissIsHeaderNotCachedAndClientsResendInFull) {
  auto client = Receiver(true);
  // A compact message for a header the receiver never got: the documented error.
  const lip::v1::LipPacket a0 = Encode(kTexts[0], kLabelsC, 100);
  {
    lip::v1::SendLatentRequest request;
    *request.mutable_compact() = CompactFromPacket(a0, 0x1234567890abcdefu);
    lip::v1::SendLatentResponse response;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    grpc::Status status = client->stub()->SendLatent(&context, request, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
    absl::Status converted = FromGrpcStatus(status, &context);
    EXPECT_EQ(ErrorReasonOf(converted), "HEADER_NOT_CACHED") << status.error_message();
  }
  // Unary: full, then compact; evicted by two other headers (two per caller); the client's next
  // compact attempt is refused, and it resends in full on its own.
  LatentSendInfo info;
  auto first = client->SendLatent(a0, nullptr, &info);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_FALSE(info.compact);
  EXPECT_TRUE(first->header_cached());
  auto second = client->SendLatent(Encode(kTexts[1], kLabelsC, 101), nullptr, &info);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_TRUE(info.compact);
  EXPECT_FALSE(info.resent_in_full);
  const uint64_t compact_bytes = info.wire_bytes;
  ASSERT_TRUE(client->SendLatent(Encode(kTexts[2], kLabelsA, 102), nullptr, &info).ok());
  ASSERT_TRUE(client->SendLatent(Encode(kTexts[3], kLabelsB, 103), nullptr, &info).ok());
  const lip::v1::LipPacket a4 = Encode(kTexts[4], kLabelsC, 104);
  auto recovered = client->SendLatent(a4, nullptr, &info);
  ASSERT_TRUE(recovered.ok()) << recovered.status();
  EXPECT_TRUE(info.resent_in_full);
  EXPECT_FALSE(info.compact);
  EXPECT_GT(info.wire_bytes, compact_bytes + a4.ByteSizeLong()) << "the refused compact attempt plus the full one";
  EXPECT_TRUE(recovered->has_classification());
  EXPECT_EQ(recovered->packet_id(), a4.packet_id());
  EXPECT_TRUE(recovered->header_cached());

  // Stream: evict C again; the client's compact message in the stream is refused, then resent.
  ASSERT_TRUE(client->SendLatent(Encode(kTexts[0], kLabelsA, 105), nullptr, &info).ok());
  ASSERT_TRUE(client->SendLatent(Encode(kTexts[1], kLabelsB, 106), nullptr, &info).ok());
  const lip::v1::LipPacket a7 = Encode(kTexts[5], kLabelsC, 107);
  std::vector<uint64_t> bytes;
  auto streamed = client->StreamLatents({a7}, &bytes);
  ASSERT_TRUE(streamed.ok()) << streamed.status();
  ASSERT_EQ(streamed->size(), 1u);
  EXPECT_TRUE((*streamed)[0].has_classification()) << (*streamed)[0].error().message();
  EXPECT_EQ((*streamed)[0].packet_id(), a7.packet_id());
  ASSERT_EQ(bytes.size(), 2u) << "the compact attempt, then the full resend";
  EXPECT_LT(bytes[0], bytes[1]);
}

TEST_F(CompactWireTest, MalformedCompactMessagesAreRefusedAndTheReceiverGoesOn) {
  auto client = Receiver(true);
  const lip::v1::LipPacket packet = Encode(kTexts[2], kLabelsA, 200);
  const uint64_t header_id = HeaderIdFor(packet);
  LatentSendInfo info;
  ASSERT_TRUE(client->SendLatent(packet, nullptr, &info).ok());  // the receiver holds the header now
  auto send = [&](const lip::v1::SendLatentRequest& request) {
    lip::v1::SendLatentResponse response;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    grpc::Status status = client->stub()->SendLatent(&context, request, &response);
    return FromGrpcStatus(status, &context);
  };
  const lip::v1::CompactPacket good = CompactFromPacket(Encode(kTexts[3], kLabelsA, 201), header_id);
  struct Case {
    const char* what;
    lip::v1::SendLatentRequest request;
    const char* reason;
  };
  std::vector<Case> cases;
  {
    Case c{"no header_id", {}, "MISSING_FIELD"};
    *c.request.mutable_compact() = good;
    c.request.mutable_compact()->clear_header_id();
    cases.push_back(c);
  }
  {
    Case c{"5-byte packet id", {}, "INVALID_FIELD"};
    *c.request.mutable_compact() = good;
    c.request.mutable_compact()->set_packet_id("short");
    cases.push_back(c);
  }
  {
    Case c{"flipped payload bit", {}, "CHECKSUM_MISMATCH"};
    *c.request.mutable_compact() = good;
    (*c.request.mutable_compact()->mutable_tensor()->mutable_data())[3] ^= 0x04;
    cases.push_back(c);
  }
  {
    Case c{"payload short", {}, "PAYLOAD_SIZE_MISMATCH"};
    *c.request.mutable_compact() = good;
    lip::v1::Tensor* tensor = c.request.mutable_compact()->mutable_tensor();
    tensor->mutable_data()->pop_back();
    tensor->set_crc32c(TensorChecksum(*tensor));
    cases.push_back(c);
  }
  {
    Case c{"wrong dtype", {}, "INVALID_FIELD"};
    *c.request.mutable_compact() = good;
    c.request.mutable_compact()->mutable_tensor()->set_dtype(lip::v1::DTYPE_FP16);
    cases.push_back(c);
  }
  {
    Case c{"packet and compact", {}, "INVALID_FIELD"};
    *c.request.mutable_compact() = good;
    *c.request.mutable_packet() = packet;
    cases.push_back(c);
  }
  for (const Case& c : cases) {
    absl::Status status = send(c.request);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << c.what << ": " << status;
    EXPECT_EQ(ErrorReasonOf(status), c.reason) << c.what << ": " << status;
  }
  lip::v1::SendLatentRequest valid;
  *valid.mutable_compact() = good;
  EXPECT_TRUE(send(valid).ok()) << "the receiver still serves, and still holds the header";

  // In a stream: a bad compact message gets its MessageError and the stream goes on.
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
  auto stream = client->stub()->StreamLatents(&context);
  const lip::v1::LipPacket s0 = Encode(kTexts[0], kLabelsA, 300);
  lip::v1::SendLatentRequest full;
  *full.mutable_packet() = WithHeaderId(s0, header_id);
  ASSERT_TRUE(stream->Write(full));
  lip::v1::LipPacket s1 = Encode(kTexts[1], kLabelsA, 301);
  s1.set_packet_id(DerivedPacketId(header_id, 301));
  lip::v1::SendLatentRequest bad;
  *bad.mutable_compact() = CompactFromPacket(s1, header_id);
  bad.mutable_compact()->mutable_tensor()->set_crc32c(s1.tensor().crc32c() ^ 1);
  ASSERT_TRUE(stream->Write(bad));
  lip::v1::LipPacket s2 = Encode(kTexts[2], kLabelsA, 302);
  s2.set_packet_id(DerivedPacketId(header_id, 302));
  lip::v1::SendLatentRequest ok;
  *ok.mutable_compact() = CompactFromPacket(s2, header_id);
  ASSERT_TRUE(stream->Write(ok));
  stream->WritesDone();
  std::map<uint64_t, lip::v1::SendLatentResponse> answers;
  lip::v1::SendLatentResponse response;
  while (stream->Read(&response)) answers[response.sequence()] = response;
  ASSERT_TRUE(stream->Finish().ok());
  ASSERT_EQ(answers.size(), 3u);
  EXPECT_TRUE(answers[300].has_classification());
  EXPECT_TRUE(answers[300].header_cached());
  ASSERT_TRUE(answers[301].has_error());
  EXPECT_EQ(answers[301].error().reason(), "CHECKSUM_MISMATCH");
  EXPECT_EQ(answers[301].packet_id(), s1.packet_id()) << "the derived id is echoed";
  EXPECT_TRUE(answers[302].has_classification());
  EXPECT_EQ(answers[302].packet_id(), s2.packet_id());
}

TEST_F(CompactWireTest, SenderNodeSendsCompactOnceTheReceiverHoldsTheHeader) {
  lip::v1::SendRequest request;
  request.mutable_encode()->set_text(kTexts[1]);
  request.mutable_encode()->set_conversation_id("sender-node");
  request.set_receiver_address(absl::StrCat("127.0.0.1:", receiver_->port()));
  auto first = encoder_->Send(request);
  ASSERT_TRUE(first.ok()) << first.status();
  request.mutable_encode()->set_text(kTexts[4]);
  auto second = encoder_->Send(request);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_TRUE(first->answer().has_classification());
  EXPECT_TRUE(second->answer().has_classification());
  EXPECT_LT(second->wire_bytes() + 200, first->wire_bytes())
      << "second message compact: " << second->wire_bytes() << " vs " << first->wire_bytes();
}

}  // namespace
}  // namespace lip
