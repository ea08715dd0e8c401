#include "bridge/eval/calibrated_scores.h"

#include "common/wire/status_macros.h"

namespace lip {

absl::StatusOr<std::vector<float>> BareFrameLogProbs(const ReceiverPipeline& receiver) {
  TextMessage bare;  // empty text; the bridge's priming and labels
  LIP_ASSIGN_OR_RETURN(auto answers, receiver.AnswerText({bare}));
  if (!answers[0].ok()) return answers[0].status();
  return answers[0]->label_log_probs;
}

int64_t CalibratedPrediction(const std::vector<float>& label_log_probs, const std::vector<float>& bare_frame_log_probs) {
  if (label_log_probs.empty() || label_log_probs.size() != bare_frame_log_probs.size()) return -1;
  int64_t best = 0;
  for (size_t i = 1; i < label_log_probs.size(); ++i) {
    if (label_log_probs[i] - bare_frame_log_probs[i] > label_log_probs[best] - bare_frame_log_probs[best]) best = i;
  }
  return best;
}

}  // namespace lip
