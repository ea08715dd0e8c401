// SenderPipeline and ReceiverPipeline on tiny random models with real tokenizers: shapes,
// padding invariance, per-message errors, batching consistency, model identity checks.
#include "bridge/latent/context_primer.h"
#include "bridge/latent/receiver_pipeline.h"
#include "bridge/latent/sender_pipeline.h"
#include "bridge/model/label_scorer.h"
#include "gtest/gtest.h"
#include "tests/latent/test_models.h"

namespace lip {
namespace {

using testing_models::TinyBridge;
using testing_models::TinyReceiver;
using testing_models::TinySender;

class PipelinesTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    torch::manual_seed(21);
    sender_ = new testing_models::ModelAndTokenizer(TinySender());
    receiver_ = new testing_models::ModelAndTokenizer(TinyReceiver());
  }
  static void TearDownTestSuite() {
    delete sender_;
    delete receiver_;
  }

  std::unique_ptr<SenderPipeline> MakeSender(BridgeMetadata m) {
    torch::manual_seed(22);
    auto pipeline = SenderPipeline::Create(sender_->model, sender_->tokenizer, SenderHalf{m, SenderEncoder(m.sender)});
    EXPECT_TRUE(pipeline.ok()) << pipeline.status();
    return pipeline.ok() ? std::move(*pipeline) : nullptr;
  }
  std::unique_ptr<ReceiverPipeline> MakeReceiver(BridgeMetadata m) {
    torch::manual_seed(23);
    auto pipeline = ReceiverPipeline::Create(receiver_->model, receiver_->tokenizer,
                                             ReceiverHalf{m, ReceiverAdapter(m.receiver.adapter)});
    EXPECT_TRUE(pipeline.ok()) << pipeline.status();
    return pipeline.ok() ? std::move(*pipeline) : nullptr;
  }
  BridgeMetadata Bridge() { return TinyBridge(*sender_->model, *receiver_->model); }

  static testing_models::ModelAndTokenizer* sender_;
  static testing_models::ModelAndTokenizer* receiver_;
};
testing_models::ModelAndTokenizer* PipelinesTest::sender_ = nullptr;
testing_models::ModelAndTokenizer* PipelinesTest::receiver_ = nullptr;

TEST_F(PipelinesTest, EncodeGivesMByDzPerTextIndependentOfBatchPadding) {
  auto sender = MakeSender(Bridge());
  ASSERT_NE(sender, nullptr);
  auto alone = sender->Encode({"a short text"});
  ASSERT_TRUE(alone.ok()) << alone.status();
  ASSERT_EQ(alone->size(), 1u);
  const EncodedText& e = (*alone)[0];
  EXPECT_EQ(e.num_soft_tokens, 4);
  EXPECT_EQ(e.width, 12);
  EXPECT_EQ(e.z.size(), 48u);
  EXPECT_EQ(e.source_layer, 1);
  EXPECT_GT(e.text_tokens, 1);
  EXPECT_FALSE(e.truncated);
  EXPECT_EQ(e.energy_mode, sender->bridge().receiver.energy.mode);
  // The device part is timed inside the whole encode.
  EXPECT_GT(e.device_ms, 0);
  EXPECT_LE(e.device_ms, e.encode_ms);

  auto batched = sender->Encode({"a much longer text that needs many more tokens than the first one", "a short text"});
  ASSERT_TRUE(batched.ok()) << batched.status();
  const std::vector<float>& padded_z = (*batched)[1].z;
  for (size_t i = 0; i < e.z.size(); ++i) EXPECT_NEAR(padded_z[i], e.z[i], 1e-4) << i;
  EXPECT_NE((*batched)[0].z, e.z);

  auto long_text = sender->Encode({std::string(400, 'x') + " and many words after it to go past the limit"});
  ASSERT_TRUE(long_text.ok());
  EXPECT_TRUE((*long_text)[0].truncated);
  EXPECT_EQ((*long_text)[0].text_tokens, 24);
}

TEST_F(PipelinesTest, EncodeRefusesEmptyInput) {
  auto sender = MakeSender(Bridge());
  EXPECT_EQ(sender->Encode({}).status().code(), absl::StatusCode::kInvalidArgument);
  absl::Status status = sender->Encode({"fine", ""}).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("text 1"), std::string::npos) << status;
}

TEST_F(PipelinesTest, CreateRefusesAModelTheBridgeWasNotTrainedOn) {
  BridgeMetadata m = Bridge();
  m.sender_model.weights_digest = "sha256:0000";
  EXPECT_EQ(SenderPipeline::Create(sender_->model, sender_->tokenizer, SenderHalf{m, SenderEncoder(m.sender)})
                .status()
                .code(),
            absl::StatusCode::kFailedPrecondition);
  m = Bridge();
  m.receiver.adapter.output_width = 40;
  EXPECT_EQ(ReceiverPipeline::Create(receiver_->model, receiver_->tokenizer,
                                     ReceiverHalf{m, ReceiverAdapter(m.receiver.adapter)})
                .status()
                .code(),
            absl::StatusCode::kFailedPrecondition);
  ReceiverPipelineOptions options;
  options.bridge_dir = "/nonexistent/bridge";
  options.model_dir = "/nonexistent/model";
  EXPECT_EQ(ReceiverPipeline::Load(options).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(PipelinesTest, ClassifyScoresEveryLabelAndBatchingDoesNotChangeAnswers) {
  auto sender = MakeSender(Bridge());
  auto receiver = MakeReceiver(Bridge());
  auto encoded = sender->Encode({"great film", "boring and far too long", "fine"});
  ASSERT_TRUE(encoded.ok());
  std::vector<LatentMessage> messages;
  for (const EncodedText& e : *encoded) {
    LatentMessage m;
    m.z = e.z;
    m.num_soft_tokens = e.num_soft_tokens;
    m.width = e.width;
    messages.push_back(m);
  }
  auto answers = receiver->Answer(messages);
  ASSERT_TRUE(answers.ok()) << answers.status();
  ASSERT_EQ(answers->size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    ASSERT_TRUE((*answers)[i].ok()) << (*answers)[i].status();
    const ReceiverAnswer& a = *(*answers)[i];
    ASSERT_EQ(a.label_log_probs.size(), 2u);
    EXPECT_LT(a.label_log_probs[0], 0.0f);
    EXPECT_EQ(a.label, a.label_index == 0 ? " negative" : " positive");
    EXPECT_EQ(a.label_index, a.label_log_probs[0] >= a.label_log_probs[1] ? 0 : 1);
    EXPECT_EQ(a.batch_size, 3);
    auto alone = receiver->Answer({messages[i]});
    ASSERT_TRUE(alone.ok() && (*alone)[0].ok());
    for (size_t l = 0; l < 2; ++l) EXPECT_NEAR((*alone)[0]->label_log_probs[l], a.label_log_probs[l], 1e-4);
  }
}

TEST_F(PipelinesTest, ABadMessageFailsAloneAndGenerationRespectsItsBudget) {
  auto receiver = MakeReceiver(Bridge());
  LatentMessage good;
  good.num_soft_tokens = 4;
  good.width = 12;
  good.z.assign(48, 0.5f);
  LatentMessage wrong_size = good;
  wrong_size.z.resize(47);
  LatentMessage nan = good;
  nan.z[3] = std::nanf("");
  LatentMessage generate = good;
  generate.task.kind = ReceiverTask::Kind::kGenerate;
  generate.task.max_new_tokens = 5;
  auto answers = receiver->Answer({good, wrong_size, nan, generate});
  ASSERT_TRUE(answers.ok()) << answers.status();
  EXPECT_TRUE((*answers)[0].ok());
  EXPECT_EQ((*answers)[1].status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE((*answers)[1].status().message().find("47 values"), std::string::npos) << (*answers)[1].status();
  EXPECT_EQ((*answers)[2].status().code(), absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE((*answers)[3].ok()) << (*answers)[3].status();
  EXPECT_LE((*answers)[3]->token_ids.size(), 5u);
  EXPECT_FALSE((*answers)[3]->stop_reason.empty());

  LatentMessage bad_budget = generate;
  bad_budget.task.max_new_tokens = 0;
  auto refused = receiver->Answer({bad_budget});
  ASSERT_TRUE(refused.ok());
  EXPECT_EQ((*refused)[0].status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(PipelinesTest, AdaptedSoftTokensCarryTheReferenceEnergy) {
  auto receiver = MakeReceiver(Bridge());
  torch::Tensor soft = receiver->AdaptSoftTokens(torch::randn({2, 4, 12}));
  EXPECT_EQ(soft.sizes(), (std::vector<int64_t>{2, 4, 24}));
  EXPECT_TRUE(torch::allclose(soft.norm(2, -1), torch::ones({2, 4}), 1e-4, 1e-4));  // E_ref = 1.0
}

TEST_F(PipelinesTest, TextAnswersDoNotDependOnLeftPaddingInTheBatch) {
  auto receiver = MakeReceiver(Bridge());
  TextMessage short_text;
  short_text.text = "good";
  TextMessage long_text;
  long_text.text = "a long and winding review of a film that goes on and on";
  auto alone = receiver->AnswerText({short_text});
  auto batched = receiver->AnswerText({long_text, short_text});
  ASSERT_TRUE(alone.ok() && batched.ok());
  ASSERT_TRUE((*alone)[0].ok() && (*batched)[1].ok());
  for (size_t l = 0; l < 2; ++l) {
    EXPECT_NEAR((*batched)[1]->label_log_probs[l], (*alone)[0]->label_log_probs[l], 1e-4);
  }
}

std::vector<LatentMessage> MessagesOf(const std::vector<EncodedText>& encoded) {
  std::vector<LatentMessage> messages;
  for (const EncodedText& e : encoded) {
    LatentMessage m;
    m.z = e.z;
    m.num_soft_tokens = e.num_soft_tokens;
    m.width = e.width;
    messages.push_back(m);
  }
  return messages;
}

// Where the model replays CUDA graphs, batches are padded to the graphs' buckets (3 rows -> 4,
// tokens to GraphTokenBucket's buckets); the padding must change no soft token and no score.
TEST_F(PipelinesTest, GraphBucketPaddingChangesNoSoftTokenAndNoScore) {
  const std::vector<std::string> texts = {"great film", "boring and far too long for what it says", "fine"};
  auto sender = MakeSender(Bridge());
  auto padded_sender = MakeSender(Bridge());
  padded_sender->PadToGraphBucketsForTesting();
  auto encoded = sender->Encode(texts);
  auto padded_encoded = padded_sender->Encode(texts);
  ASSERT_TRUE(encoded.ok() && padded_encoded.ok());
  ASSERT_EQ(padded_encoded->size(), 3u);
  for (size_t t = 0; t < texts.size(); ++t) {
    ASSERT_EQ((*padded_encoded)[t].z.size(), (*encoded)[t].z.size());
    EXPECT_EQ((*padded_encoded)[t].text_tokens, (*encoded)[t].text_tokens);
    for (size_t i = 0; i < (*encoded)[t].z.size(); ++i) {
      EXPECT_NEAR((*padded_encoded)[t].z[i], (*encoded)[t].z[i], 1e-5) << "text " << t << " value " << i;
    }
  }
  auto receiver = MakeReceiver(Bridge());
  auto padded_receiver = MakeReceiver(Bridge());
  padded_receiver->PadToGraphBucketsForTesting();
  auto answers = receiver->Answer(MessagesOf(*encoded));
  auto padded_answers = padded_receiver->Answer(MessagesOf(*encoded));
  ASSERT_TRUE(answers.ok() && padded_answers.ok());
  for (size_t t = 0; t < texts.size(); ++t) {
    ASSERT_TRUE((*answers)[t].ok() && (*padded_answers)[t].ok());
    EXPECT_EQ((*padded_answers)[t]->label_index, (*answers)[t]->label_index);
    for (size_t l = 0; l < 2; ++l) {
      EXPECT_NEAR((*padded_answers)[t]->label_log_probs[l], (*answers)[t]->label_log_probs[l], 1e-5);
    }
  }
}

// Labels of one token each take the receiver's one-function path (adapter, priming, prefill and
// scoring together, one graph replay on a GPU); its scores are those of the receiver's parts run
// one after another: AdaptSoftTokens, ContextPrimer, ScoreLabels.
TEST_F(PipelinesTest, OneTokenLabelsScoreAsTheReceiversPartsDoOneAfterAnother) {
  const BridgeMetadata bridge = Bridge();
  auto receiver = MakeReceiver(bridge);
  std::vector<std::vector<int64_t>> labels;
  for (const std::string& label : bridge.labels) {
    auto ids = receiver_->tokenizer->Encode(label, /*add_special_tokens=*/false);
    ASSERT_TRUE(ids.ok());
    ASSERT_EQ(ids->size(), 1u) << "the test needs one-token labels: \"" << label << "\"";
    labels.push_back({(*ids)[0]});
  }
  torch::manual_seed(5);
  torch::Tensor z = torch::randn({3, 4, 12});
  std::vector<LatentMessage> messages;
  for (int64_t b = 0; b < 3; ++b) {
    LatentMessage m;
    m.z.assign(z[b].data_ptr<float>(), z[b].data_ptr<float>() + 48);
    m.num_soft_tokens = 4;
    m.width = 12;
    messages.push_back(m);
  }
  auto answers = receiver->Answer(messages);
  ASSERT_TRUE(answers.ok()) << answers.status();

  auto priming = TokenizePriming(*receiver_->tokenizer, bridge.priming);
  ASSERT_TRUE(priming.ok());
  auto primed = ContextPrimer(*priming).Prime(receiver->AdaptSoftTokens(z), receiver_->model->embedding_weight());
  ASSERT_TRUE(primed.ok());
  torch::NoGradGuard no_grad;
  auto reference = ScoreLabels(*receiver_->model, primed->inputs_embeds, primed->attention_mask, labels);
  ASSERT_TRUE(reference.ok()) << reference.status();
  for (int64_t b = 0; b < 3; ++b) {
    ASSERT_TRUE((*answers)[b].ok()) << (*answers)[b].status();
    for (int64_t l = 0; l < 2; ++l) {
      EXPECT_NEAR((*answers)[b]->label_log_probs[l], (*reference)[b][l].item<float>(), 1e-5) << b << "," << l;
    }
  }
}

}  // namespace
}  // namespace lip
