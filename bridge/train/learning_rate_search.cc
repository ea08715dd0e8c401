#include "bridge/train/learning_rate_search.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace lip {

absl::StatusOr<std::vector<double>> ParseLearningRates(const std::string& list) {
  if (absl::StripAsciiWhitespace(list) == "default") return ParseLearningRates(kDefaultLearningRateGrid);
  std::vector<double> rates;
  if (absl::StripAsciiWhitespace(list).empty()) return absl::InvalidArgumentError("no learning rate given");
  for (absl::string_view token : absl::StrSplit(list, ',')) {
    token = absl::StripAsciiWhitespace(token);
    double rate = 0;
    if (!absl::SimpleAtod(token, &rate)) {
      return absl::InvalidArgumentError(absl::StrCat("learning rate \"", token, "\" is not a number"));
    }
    if (!std::isfinite(rate) || rate <= 0) {
      return absl::InvalidArgumentError(absl::StrCat("learning rate ", token, " must be finite and > 0"));
    }
    for (double seen : rates) {
      if (seen == rate) return absl::InvalidArgumentError(absl::StrCat("learning rate ", token, " is listed twice"));
    }
    rates.push_back(rate);
  }
  return rates;
}

size_t BestLearningRateTrial(const std::vector<LearningRateTrial>& trials) {
  size_t best = 0;
  for (size_t i = 1; i < trials.size(); ++i) {
    if (trials[i].validation_accuracy > trials[best].validation_accuracy) best = i;
  }
  return best;
}

bool ChosenRateAtGridEdge(const std::vector<LearningRateTrial>& trials, double chosen) {
  if (trials.size() < 2) return false;
  double low = trials[0].learning_rate, high = trials[0].learning_rate;
  for (const LearningRateTrial& t : trials) {
    low = std::min(low, t.learning_rate);
    high = std::max(high, t.learning_rate);
  }
  return chosen <= low || chosen >= high;
}

nlohmann::json LearningRateTrialsToJson(const std::vector<LearningRateTrial>& trials) {
  nlohmann::json out = nlohmann::json::array();
  for (const LearningRateTrial& t : trials) {
    out.push_back({{"learning_rate", t.learning_rate},
                   {"validation_accuracy", t.validation_accuracy},
                   {"final_train_loss", t.final_train_loss}});
  }
  return out;
}

absl::StatusOr<std::vector<LearningRateTrial>> LearningRateTrialsFromJson(const nlohmann::json& json) {
  if (!json.is_array()) return absl::InvalidArgumentError("learning_rate_trials is not an array");
  std::vector<LearningRateTrial> trials;
  for (const nlohmann::json& item : json) {
    if (!item.is_object() || !item.contains("learning_rate") || !item["learning_rate"].is_number() ||
        !item.contains("validation_accuracy") || !item["validation_accuracy"].is_number()) {
      return absl::InvalidArgumentError(
          "learning_rate_trials: each entry needs numeric learning_rate and validation_accuracy");
    }
    LearningRateTrial t;
    t.learning_rate = item["learning_rate"].get<double>();
    t.validation_accuracy = item["validation_accuracy"].get<double>();
    if (item.contains("final_train_loss") && item["final_train_loss"].is_number()) {
      t.final_train_loss = item["final_train_loss"].get<double>();
    }
    trials.push_back(t);
  }
  return trials;
}

}  // namespace lip
