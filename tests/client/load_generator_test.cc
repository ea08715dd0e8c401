// The load generator's parts that need no node: reading the JSONL messages, naming paths and
// status codes, scoring answers and the per-level statistics (counts, percentiles, bytes).
#include "client/load_generator.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>

namespace lip {
namespace {

std::string WriteTemp(const std::string& text) {
  char name[] = "/tmp/lip-load-messages-XXXXXX";
  const int fd = mkstemp(name);
  EXPECT_GE(fd, 0);
  std::ofstream(name) << text;
  return name;
}

TEST(LoadGeneratorTest, ReadsMessagesOfOneTaskUpToALimit) {
  const std::string path = WriteTemp(
      "{\"task\": \"a\", \"text\": \"one\", \"label\": \"x\"}\n\n"
      "{\"task\": \"b\", \"text\": \"two\"}\n"
      "{\"task\": \"a\", \"text\": \"three\"}\n"
      "{\"task\": \"a\", \"text\": \"four\"}\n");
  auto all = ReadLoadMessages(path, "");
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->size(), 4u);
  auto a = ReadLoadMessages(path, "a", 2);
  ASSERT_TRUE(a.ok());
  ASSERT_EQ(a->size(), 2u);
  EXPECT_EQ((*a)[0].text, "one");
  EXPECT_EQ((*a)[0].label, "x");
  EXPECT_EQ((*a)[1].text, "three");
  EXPECT_EQ((*a)[1].label, "");
  EXPECT_EQ(ReadLoadMessages(path, "c").status().code(), absl::StatusCode::kInvalidArgument);
  std::remove(path.c_str());
}

TEST(LoadGeneratorTest, RefusesABadLineNamingIt) {
  const std::string path = WriteTemp("{\"text\": \"ok\"}\n{\"text\": 3}\n");
  auto messages = ReadLoadMessages(path, "");
  EXPECT_EQ(messages.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(messages.status().message().find(":2:"), std::string::npos) << messages.status();
  std::remove(path.c_str());
  EXPECT_EQ(ReadLoadMessages("/nonexistent/messages.jsonl", "").status().code(), absl::StatusCode::kNotFound);
}

TEST(LoadGeneratorTest, PathAndStatusNames) {
  for (LoadPath path : {LoadPath::kLatent, LoadPath::kTextRelay, LoadPath::kDirectText}) {
    auto parsed = ParseLoadPath(LoadPathName(path));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, path);
  }
  EXPECT_FALSE(ParseLoadPath("relay").ok());
  EXPECT_EQ(StatusCodeName(0), "OK");
  EXPECT_EQ(StatusCodeName(8), "RESOURCE_EXHAUSTED");
  EXPECT_EQ(StatusCodeName(4), "DEADLINE_EXCEEDED");
}

TEST(LoadGeneratorTest, ScoresByLabelIndexOrByLabelText) {
  lip::v1::ClassifyResult answer;
  answer.set_label(" science");
  answer.set_label_index(3);
  LabelMatcher by_index{{"World", "Sports", "Business", "Sci/Tech"}};
  EXPECT_TRUE(by_index.IsRight(answer, "Sci/Tech"));
  EXPECT_FALSE(by_index.IsRight(answer, "World"));
  LabelMatcher by_text;
  EXPECT_TRUE(by_text.IsRight(answer, "Science"));
  EXPECT_FALSE(by_text.IsRight(answer, "Sci/Tech"));
}

TEST(LoadGeneratorTest, SummaryCountsEveryAnswerAndTakesStatisticsOverOkOnes) {
  LevelResult result;
  result.sent = 6;
  result.wall_s = 2.0;
  for (int i = 1; i <= 4; ++i) {
    LoadSample ok;
    ok.latency_ms = 10.0 * i;  // 10, 20, 30, 40
    ok.wire_bytes = 100 * i;
    ok.right = i % 2;
    result.samples.push_back(ok);
  }
  LoadSample exhausted;
  exhausted.code = 8;
  exhausted.latency_ms = 1;
  result.samples.push_back(exhausted);
  LoadSample late;
  late.code = 4;
  late.latency_ms = 1000;
  result.samples.push_back(late);

  const LevelSummary s = Summarize(result);
  EXPECT_EQ(s.sent, 6);
  EXPECT_EQ(s.answered, 6);
  EXPECT_EQ(s.answered_by_status.at("OK"), 4);
  EXPECT_EQ(s.answered_by_status.at("RESOURCE_EXHAUSTED"), 1);
  EXPECT_EQ(s.answered_by_status.at("DEADLINE_EXCEEDED"), 1);
  EXPECT_DOUBLE_EQ(s.throughput_msg_s, 2.0);  // 4 OK answers in 2 s
  EXPECT_DOUBLE_EQ(s.p50_ms, 20);             // nearest rank over the OK answers only
  EXPECT_DOUBLE_EQ(s.p95_ms, 40);
  EXPECT_DOUBLE_EQ(s.max_ms, 40);
  EXPECT_DOUBLE_EQ(s.mean_ms, 25);
  EXPECT_DOUBLE_EQ(s.bytes_per_message, 250);
  EXPECT_EQ(s.labelled, 4);
  ASSERT_TRUE(s.accuracy.has_value());
  EXPECT_DOUBLE_EQ(*s.accuracy, 0.5);
}

TEST(LoadGeneratorTest, RefusesLevelsItCannotRun) {
  const std::vector<LoadMessage> messages = {{"text", ""}};
  LoadLevel level;
  LoadTargets none;
  EXPECT_EQ(RunLoadLevel(level, none, messages, LabelMatcher()).status().code(),
            absl::StatusCode::kInvalidArgument);  // no sender to call
  level.concurrency = 0;
  EXPECT_FALSE(RunLoadLevel(level, none, messages, LabelMatcher()).ok());
  level.concurrency = 1;
  EXPECT_FALSE(RunLoadLevel(level, none, {}, LabelMatcher()).ok());
}

}  // namespace
}  // namespace lip
