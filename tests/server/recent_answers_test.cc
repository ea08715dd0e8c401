// RecentAnswers: the receiver's memory of recent answers, by caller and packet id.
#include "server/receiver/recent_answers.h"

#include <gtest/gtest.h>

#include "absl/time/clock.h"

namespace lip {
namespace {

TEST(RecentAnswersTest, FindsWhatWasRememberedForTheSameCallerOnly) {
  RecentAnswers answers(8, absl::Minutes(1));
  const absl::Time now = absl::Now();
  answers.Remember(RecentAnswers::Key("sender-a", "packet-1", 7), "answer-1", now);
  EXPECT_EQ(answers.Find(RecentAnswers::Key("sender-a", "packet-1", 7), now), "answer-1");
  EXPECT_FALSE(answers.Find(RecentAnswers::Key("sender-b", "packet-1", 7), now).has_value());
  EXPECT_FALSE(answers.Find(RecentAnswers::Key("sender-a", "packet-2", 7), now).has_value());
  // The same id on another packet (another digest) is another message.
  EXPECT_FALSE(answers.Find(RecentAnswers::Key("sender-a", "packet-1", 8), now).has_value());
  // A repeat keeps the first answer.
  answers.Remember(RecentAnswers::Key("sender-a", "packet-1", 7), "answer-1-again", now);
  EXPECT_EQ(answers.Find(RecentAnswers::Key("sender-a", "packet-1", 7), now), "answer-1");
}

TEST(RecentAnswersTest, ForgetsAfterTtlAndBeyondCapacityOldestFirst) {
  RecentAnswers answers(3, absl::Seconds(10));
  const absl::Time start = absl::Now();
  for (int i = 0; i < 5; ++i) {
    answers.Remember(RecentAnswers::Key("s", std::to_string(i), 7), "a" + std::to_string(i), start + absl::Seconds(i));
  }
  const absl::Time now = start + absl::Seconds(5);
  EXPECT_FALSE(answers.Find(RecentAnswers::Key("s", "0", 7), now).has_value());
  EXPECT_FALSE(answers.Find(RecentAnswers::Key("s", "1", 7), now).has_value());
  EXPECT_EQ(answers.Find(RecentAnswers::Key("s", "2", 7), now), "a2");
  EXPECT_EQ(answers.Find(RecentAnswers::Key("s", "4", 7), now), "a4");
  // 10 s after it was remembered, an answer is gone.
  EXPECT_FALSE(answers.Find(RecentAnswers::Key("s", "2", 7), start + absl::Seconds(12)).has_value());
  EXPECT_EQ(answers.Find(RecentAnswers::Key("s", "4", 7), start + absl::Seconds(12)), "a4");
  RecentAnswers none(0, absl::Minutes(1));
  none.Remember("k", "v", now);
  EXPECT_FALSE(none.Find("k", now).has_value());
}

}  // namespace
}  // namespace lip
