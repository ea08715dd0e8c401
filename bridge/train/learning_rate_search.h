// Choosing the learning rate on validation: a run given several candidate rates trains once per
// rate (same seed, same data, same schedule shape) and keeps the one whose final accuracy on the
// validation set carved from train is highest. The test split is touched only by the chosen run.
// The bridge and the receiver-only prompt-tuning baseline go through the same search, so neither
// side of the comparison in docs/results.md gets a tuned rate the other lacks. No LibTorch.
#ifndef LIP_BRIDGE_TRAIN_LEARNING_RATE_SEARCH_H_
#define LIP_BRIDGE_TRAIN_LEARNING_RATE_SEARCH_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace lip {

struct LearningRateTrial {
  double learning_rate = 0;
  double validation_accuracy = 0;  // final validation accuracy of the run at this rate
  double final_train_loss = 0;     // mean loss of the last logged steps (shown, not used to choose)
};

// The default candidates (lip-train --learning_rates=default): 3e-4 to 1e-1 in half-decades, wide
// enough that the chosen rate of every method of the suite has room on both sides.
inline constexpr char kDefaultLearningRateGrid[] = "3e-4,1e-3,3e-3,1e-2,3e-2,1e-1";

// "0.001,3e-3,0.01" -> {0.001, 0.003, 0.01}; "default" -> kDefaultLearningRateGrid. INVALID_ARGUMENT for an empty list, a token that is
// not a number, a rate that is not finite and > 0, or a rate listed twice.
absl::StatusOr<std::vector<double>> ParseLearningRates(const std::string& list);

// Index of the trial with the highest validation accuracy; ties go to the earliest trial, so the
// order of the candidate list is the tie-break (list the preferred default first). `trials` must
// not be empty.
size_t BestLearningRateTrial(const std::vector<LearningRateTrial>& trials);

// Whether `chosen` is the smallest or the largest rate of `trials` (a grid of at least two rates):
// then the grid may not bracket the optimum and the rate should be searched further that way.
bool ChosenRateAtGridEdge(const std::vector<LearningRateTrial>& trials, double chosen);

// [{"learning_rate": .., "validation_accuracy": .., "final_train_loss": ..}, ...], as recorded in
// run results and in a bridge's bridge.json evaluation. FromJson: INVALID_ARGUMENT naming the
// problem when `json` is not such an array.
nlohmann::json LearningRateTrialsToJson(const std::vector<LearningRateTrial>& trials);
absl::StatusOr<std::vector<LearningRateTrial>> LearningRateTrialsFromJson(const nlohmann::json& json);

}  // namespace lip

#endif  // LIP_BRIDGE_TRAIN_LEARNING_RATE_SEARCH_H_
