// Calibrated label scores: a receiver prefers some labels whatever it reads (the demo receiver
// answers " positive" to nearly every review), so the raw argmax over log p(label | input) can be
// a constant predictor. Calibration subtracts that prior, measured once per frame:
//
//   score(label) = log p(label | frame with the input) - log p(label | the bare frame without it)
//
// where the bare frame is [BOS, context prefix, anchor] with nothing between them (no text, no
// soft tokens). The same bare frame serves zero-shot (text input) and the bridge (soft-token
// input). Reported next to the raw scores, never in their place.
#ifndef LIP_BRIDGE_EVAL_CALIBRATED_SCORES_H_
#define LIP_BRIDGE_EVAL_CALIBRATED_SCORES_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "bridge/latent/receiver_pipeline.h"

namespace lip {

// The label log-probabilities of the receiver's bare frame (its bridge's priming and labels, an
// empty text). Errors from the receiver pass through.
absl::StatusOr<std::vector<float>> BareFrameLogProbs(const ReceiverPipeline& receiver);

// argmax over labels of label_log_probs[i] - bare_frame_log_probs[i] (ties: the lower index).
// -1 when the two have different sizes or are empty.
int64_t CalibratedPrediction(const std::vector<float>& label_log_probs, const std::vector<float>& bare_frame_log_probs);

}  // namespace lip

#endif  // LIP_BRIDGE_EVAL_CALIBRATED_SCORES_H_
