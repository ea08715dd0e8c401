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

}  // namespace lip
