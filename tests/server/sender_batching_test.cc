// The sender's dynamic batcher (server/sender/text_batcher.h) on the demo sender model: concurrent
// texts share one pipeline call, and each still gets the soft tokens (or relay message) it gets
// alone; a malformed text fails alone while its batch-mates succeed; a lone text on an idle sender
// runs at once whatever the window. Then a real lip-sender process: concurrent Encode RPCs are
// batched (lip_sender_batch_size) and each packet equals the packet of its text sent alone.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "bridge/latent/sender_pipeline.h"
#include "bridge/latent/text_relay.h"
#include "client/lip_client.h"
#include "common/wire/packet_codec.h"
#include "bridge/model/graphed_function.h"
#include "server/graph_warmup.h"
#include "server/sender/text_batcher.h"
#include "tests/server/demo_nodes.h"
#include "tests/server/node_process.h"

namespace lip {
namespace {

constexpr char kBridgeName[] = "sender-batching-sst2";
constexpr int kMaxRounds = 20;  // rounds of concurrent calls until one of them shared a batch

// Different lengths on purpose: a batch is right-padded (encode) or left-padded (relay).
const std::vector<std::string>& kTexts = testing::kDemoTexts;
const std::string kInvalidUtf8 = "a \xff\xfe broken text";

// Element-wise closeness of two soft-token tensors (batched vs alone: same math, other rounding).
void ExpectClose(const std::vector<float>& got, const std::vector<float>& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  float worst = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    worst = std::max(worst, std::abs(got[i] - want[i]) / (1.0f + std::abs(want[i])));
  }
  EXPECT_LT(worst, 1e-4f) << what;
}

class SenderBatchingTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!testing::DemoModelsPresent()) GTEST_SKIP() << "demo/models is missing";
    auto dir = testing::NodeTestDir::Create("lip-sender-batching");
    ASSERT_TRUE(dir.ok()) << dir.status();
    dir_ = new testing::NodeTestDir(*std::move(dir));
    ASSERT_TRUE(testing::MakeRandomDemoBridge(BridgeDir(), kBridgeName).ok());
    SenderPipelineOptions options;
    options.bridge_dir = BridgeDir();
    options.model_dir = testing::kDemoSenderModel;
    options.allow_model_mismatch = true;
    auto pipeline = SenderPipeline::Load(options);
    ASSERT_TRUE(pipeline.ok()) << pipeline.status();
    pipeline_ = pipeline->release();
  }
  static void TearDownTestSuite() {
    delete pipeline_;
    pipeline_ = nullptr;
    if (dir_ != nullptr) {
      dir_->Remove();
      delete dir_;
      dir_ = nullptr;
    }
  }
  static std::string BridgeDir() { return dir_->root() + "/bridge"; }

  static std::vector<float> Alone(const std::string& text) {
    auto encoded = pipeline_->Encode({text});
    EXPECT_TRUE(encoded.ok()) << encoded.status();
    return encoded.ok() ? encoded->front().z : std::vector<float>();
  }

  static DynamicBatcherOptions Options(int max_batch_size, absl::Duration max_wait) {
    DynamicBatcherOptions options;
    options.max_batch_size = max_batch_size;
    options.max_wait = max_wait;
    return options;
  }

  static testing::NodeTestDir* dir_;
  static SenderPipeline* pipeline_;
  metrics::Registry metrics_;
};
testing::NodeTestDir* SenderBatchingTest::dir_ = nullptr;
SenderPipeline* SenderBatchingTest::pipeline_ = nullptr;

TEST_F(SenderBatchingTest, EncodeEachFailsABadTextAloneAndLeavesTheOthersAsAlone) {
  std::vector<std::string> batch = kTexts;
  batch.insert(batch.begin() + 2, kInvalidUtf8);
  batch.push_back("");
  auto answers = pipeline_->EncodeEach(batch);
  ASSERT_TRUE(answers.ok()) << answers.status();
  ASSERT_EQ(answers->size(), batch.size());
  EXPECT_EQ((*answers)[2].status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE((*answers)[2].status().message().find("text 2"), std::string::npos) << (*answers)[2].status();
  EXPECT_EQ(answers->back().status().code(), absl::StatusCode::kInvalidArgument);
  for (size_t i = 0; i < batch.size(); ++i) {
    if (i == 2 || i + 1 == batch.size()) continue;
    ASSERT_TRUE((*answers)[i].ok()) << i << ": " << (*answers)[i].status();
    ExpectClose((*answers)[i]->z, Alone(batch[i]), batch[i]);
  }
  auto only_bad = pipeline_->EncodeEach({kInvalidUtf8});
  ASSERT_TRUE(only_bad.ok()) << only_bad.status();  // nothing to run: no model call, no batch failure
  EXPECT_EQ(only_bad->front().status().code(), absl::StatusCode::kInvalidArgument);
}

// The warm-up's placeholder texts (server/graph_warmup.h) reach every token bucket a message of the
// bridge can fill, tokenized as the sender tokenizes them, so no bucket is first captured on a message.
TEST_F(SenderBatchingTest, WarmUpTextsReachEveryTokenBucketOfTheSendersMessages) {
  const int64_t max_tokens = pipeline_->bridge().sender.max_text_tokens;
  std::set<int64_t> reached;
  for (int words : WarmupWordCounts(static_cast<int>(max_tokens))) {
    for (int row_words : {words, words - 1}) {  // a padded batch's rows (PlaceholderTexts)
      if (row_words < 1) continue;
      auto ids = pipeline_->tokenizer().Encode(PlaceholderWords(row_words), /*add_special_tokens=*/true);
      ASSERT_TRUE(ids.ok()) << ids.status();
      reached.insert(GraphTokenBucket(std::min<int64_t>(static_cast<int64_t>(ids->size()), max_tokens)));
    }
  }
  for (int64_t tokens = 2; tokens <= max_tokens; ++tokens) {
    EXPECT_EQ(reached.count(GraphTokenBucket(tokens)), 1u) << "no warm-up text fills the bucket of " << tokens
                                                           << " tokens";
  }
}

TEST_F(SenderBatchingTest, IdleSenderEncodesALoneTextAtOnce) {
  // A window of an hour: a lone text that waited for company would never come back.
  TextBatcher batcher(pipeline_, Options(8, absl::Hours(1)), &metrics_);
  for (const std::string& text : {kTexts[0], kTexts[1], kTexts[0]}) {
    Batched<EncodedText> encoded = batcher.Encode(text, absl::InfiniteFuture());
    ASSERT_TRUE(encoded.result.ok()) << encoded.result.status();
    EXPECT_EQ(encoded.batch_size, 1);
    ExpectClose(encoded.result->z, Alone(text), text);
  }
}

TEST_F(SenderBatchingTest, ConcurrentTextsShareAPipelineCallAndAMalformedOneFailsAlone) {
  TextBatcher batcher(pipeline_, Options(8, absl::Milliseconds(50)), &metrics_);
  std::vector<std::string> texts = kTexts;
  texts.push_back(kInvalidUtf8);
  std::vector<std::vector<float>> alone;
  for (const std::string& text : kTexts) alone.push_back(Alone(text));
  bool bad_shared_a_batch = false;
  int largest = 0;
  for (int round = 0; round < kMaxRounds && !bad_shared_a_batch; ++round) {
    std::vector<Batched<EncodedText>> got(texts.size());
    std::vector<std::thread> callers;
    for (size_t i = 0; i < texts.size(); ++i) {
      callers.emplace_back([&, i] { got[i] = batcher.Encode(texts[i], absl::Now() + absl::Seconds(60)); });
    }
    for (std::thread& caller : callers) caller.join();
    for (size_t i = 0; i < kTexts.size(); ++i) {
      ASSERT_TRUE(got[i].result.ok()) << kTexts[i] << ": " << got[i].result.status();
      ExpectClose(got[i].result->z, alone[i], kTexts[i]);
      largest = std::max(largest, got[i].batch_size);
    }
    const Batched<EncodedText>& bad = got.back();
    EXPECT_EQ(bad.result.status().code(), absl::StatusCode::kInvalidArgument) << bad.result.status();
    bad_shared_a_batch = bad.batch_size > 1;  // its batch-mates succeeded (asserted above)
  }
  EXPECT_TRUE(bad_shared_a_batch) << "in " << kMaxRounds << " rounds the malformed text never shared a batch";
  EXPECT_GT(largest, 1);
}

TEST_F(SenderBatchingTest, ConcurrentRelaysGenerateTogetherAndEachWritesWhatItWritesAlone) {
  TextBatcher batcher(pipeline_, Options(8, absl::Milliseconds(50)), &metrics_);
  // Different budgets in one batch: each row is cut at its own.
  const std::vector<int> budgets = {3, 8, 5, 8};
  std::vector<GeneratedText> alone;
  for (size_t i = 0; i < budgets.size(); ++i) {
    auto written = WriteRelayMessage(*pipeline_, kTexts[i], budgets[i]);
    ASSERT_TRUE(written.ok()) << written.status();
    alone.push_back(*std::move(written));
  }
  bool bad_shared_a_batch = false;
  for (int round = 0; round < kMaxRounds && !bad_shared_a_batch; ++round) {
    std::vector<Batched<GeneratedText>> got(budgets.size() + 1);
    std::vector<std::thread> callers;
    for (size_t i = 0; i < budgets.size(); ++i) {
      callers.emplace_back([&, i] { got[i] = batcher.Relay(kTexts[i], budgets[i], absl::InfiniteFuture()); });
    }
    callers.emplace_back([&] { got.back() = batcher.Relay(kTexts[4], 5000, absl::InfiniteFuture()); });
    for (std::thread& caller : callers) caller.join();
    for (size_t i = 0; i < budgets.size(); ++i) {
      ASSERT_TRUE(got[i].result.ok()) << got[i].result.status();
      EXPECT_EQ(got[i].result->token_ids, alone[i].token_ids) << kTexts[i] << " in a batch of " << got[i].batch_size;
      EXPECT_EQ(got[i].result->text, alone[i].text);
      EXPECT_EQ(got[i].result->stopped_on_eos, alone[i].stopped_on_eos);
    }
    EXPECT_EQ(got.back().result.status().code(), absl::StatusCode::kInvalidArgument) << got.back().result.status();
    bad_shared_a_batch = got.back().batch_size > 1;
  }
  EXPECT_TRUE(bad_shared_a_batch) << "in " << kMaxRounds << " rounds the bad budget never shared a batch";
}

// The count of observations of lip_sender_batch_size{work="encode"} above 1, from /metrics.
int BatchesLargerThanOne(const testing::NodeProcess& node) {
  auto text = testing::HttpGet(node.metrics_port(), "/metrics");
  EXPECT_TRUE(text.ok()) << text.status();
  if (!text.ok()) return -1;
  auto value_of = [&](const std::string& series) {
    const size_t at = text->find(series);
    if (at == std::string::npos) return -1.0;
    return std::stod(text->substr(at + series.size()));
  };
  const double total = value_of("lip_sender_batch_size_count{work=\"encode\"} ");
  const double ones = value_of("lip_sender_batch_size_bucket{work=\"encode\",le=\"1\"} ");
  return static_cast<int>(total - ones);
}

TEST_F(SenderBatchingTest, SenderNodeBatchesConcurrentEncodesAndEachPacketEqualsItsTextAlone) {
  auto node = dir_->Start(LIP_SENDER_BINARY, "sender",
                          {"--model_dir=" + std::string(testing::kDemoSenderModel), "--bridge_dir=" + BridgeDir(),
                           "--allow_model_mismatch", "--max_batch_size=8", "--max_batch_wait_ms=50"});
  ASSERT_NE(node, nullptr);
  auto client = SenderClient::Connect(dir_->Options("sender", node->port()));
  ASSERT_TRUE(client.ok()) << client.status();
  auto request = [](const std::string& text) {
    lip::v1::EncodeRequest r;
    r.set_text(text);
    r.set_wire_dtype(lip::v1::DTYPE_FP32);
    return r;
  };
  // Alone, one at a time on an idle node.
  std::vector<std::vector<float>> alone;
  for (const std::string& text : kTexts) {
    auto encoded = (*client)->Encode(request(text));
    ASSERT_TRUE(encoded.ok()) << encoded.status();
    auto z = ValidateAndDequantize(encoded->packet());
    ASSERT_TRUE(z.ok()) << z.status();
    alone.push_back(*std::move(z));
  }
  EXPECT_EQ(BatchesLargerThanOne(*node), 0);
  for (int round = 0; round < kMaxRounds && BatchesLargerThanOne(*node) == 0; ++round) {
    std::vector<absl::StatusOr<lip::v1::EncodeResponse>> got(kTexts.size(), absl::UnknownError("not run"));
    std::vector<std::thread> callers;
    for (size_t i = 0; i < kTexts.size(); ++i) {
      callers.emplace_back([&, i] { got[i] = (*client)->Encode(request(kTexts[i])); });
    }
    for (std::thread& caller : callers) caller.join();
    for (size_t i = 0; i < kTexts.size(); ++i) {
      ASSERT_TRUE(got[i].ok()) << got[i].status();
      auto z = ValidateAndDequantize(got[i]->packet());
      ASSERT_TRUE(z.ok()) << z.status();
      ExpectClose(*z, alone[i], kTexts[i]);
    }
  }
  EXPECT_GT(BatchesLargerThanOne(*node), 0) << "no Encode ever shared a batch";
  // An empty text is refused alone; the node keeps serving.
  auto empty = (*client)->Encode(request(""));
  EXPECT_EQ(empty.status().code(), absl::StatusCode::kInvalidArgument) << empty.status();
  EXPECT_TRUE((*client)->Encode(request(kTexts[0])).ok());
  EXPECT_EQ(node->Terminate(60000), 0);
}

}  // namespace
}  // namespace lip
