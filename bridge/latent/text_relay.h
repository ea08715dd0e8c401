// Text relay, the baseline LIP is compared with: instead of shipping soft tokens, the sender model
// WRITES a message about its input and the receiver reads what it wrote. This file holds the frame
// the sender is prompted with, shared by the sender node's RelayText (server/sender/) and lip-eval's
// text-relay baseline (bridge/tools/eval_main.cc), so both measure the same thing (docs/nodes.md,
// "Text relay: the frame").
#ifndef LIP_BRIDGE_LATENT_TEXT_RELAY_H_
#define LIP_BRIDGE_LATENT_TEXT_RELAY_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "bridge/latent/sender_pipeline.h"

namespace lip {

// The prompt the sender continues; "{text}" stands for the input text.
inline constexpr char kTextRelayFrame[] =
    "Text: {text}\nWrite a short message that tells another agent what this text is about.\nMessage:";

// The research's generation budget for text relay (tokens).
inline constexpr int kDefaultRelayTokens = 32;

// kTextRelayFrame with `text` in place of "{text}".
std::string FrameForTextRelay(const std::string& text);

// The sender's message about `text`: its greedy continuation of FrameForTextRelay(text), at most
// max_new_tokens (1..1024), stopping at the model's end of text (excluded). The message may be empty
// (the model ended at once); callers deliver it anyway. Errors as SenderPipeline::GenerateText.
absl::StatusOr<GeneratedText> WriteRelayMessage(const SenderPipeline& sender, const std::string& text,
                                                int max_new_tokens);

// One text for WriteRelayMessages.
struct RelayRequest {
  std::string text;
  int max_new_tokens = kDefaultRelayTokens;
};

// WriteRelayMessage for texts of unrelated callers, generated as one batch
// (SenderPipeline::GenerateEach): answers[i] is requests[i]'s message or its own error.
absl::StatusOr<std::vector<absl::StatusOr<GeneratedText>>> WriteRelayMessages(
    const SenderPipeline& sender, const std::vector<RelayRequest>& requests);

}  // namespace lip

#endif  // LIP_BRIDGE_LATENT_TEXT_RELAY_H_
