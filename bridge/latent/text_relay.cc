#include "bridge/latent/text_relay.h"

#include "absl/strings/str_replace.h"

namespace lip {

std::string FrameForTextRelay(const std::string& text) {
  return absl::StrReplaceAll(kTextRelayFrame, {{"{text}", text}});
}

absl::StatusOr<GeneratedText> WriteRelayMessage(const SenderPipeline& sender, const std::string& text,
                                                int max_new_tokens) {
  return sender.GenerateText(FrameForTextRelay(text), max_new_tokens);
}

absl::StatusOr<std::vector<absl::StatusOr<GeneratedText>>> WriteRelayMessages(
    const SenderPipeline& sender, const std::vector<RelayRequest>& requests) {
  std::vector<SenderPipeline::GenerationRequest> prompts;
  for (const RelayRequest& request : requests) {
    prompts.push_back({FrameForTextRelay(request.text), request.max_new_tokens});
  }
  return sender.GenerateEach(prompts);
}

}  // namespace lip
