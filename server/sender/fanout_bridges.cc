#include "server/sender/fanout_bridges.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace lip {

FanOutBridges::FanOutBridges(BridgeMetadata own) { bridges_.push_back(std::move(own)); }

absl::Status FanOutBridges::Add(BridgeMetadata other) {
  const BridgeMetadata& own = bridges_[0];
  auto refuse = [&](const std::string& why) {
    return absl::InvalidArgumentError(absl::StrCat("bridge \"", other.name, "\" cannot share bridge \"", own.name,
                                                   "\"'s encode: ", why));
  };
  if (other.sender_model.name != own.sender_model.name ||
      other.sender_model.weights_digest != own.sender_model.weights_digest) {
    return refuse(absl::StrCat("it is for sender model ", other.sender_model.name, ", not ", own.sender_model.name));
  }
  if (other.sender_file_digest.empty() || other.sender_file_digest != own.sender_file_digest) {
    return refuse(absl::StrCat("its sender half (", other.sender_file_digest, ") is not this sender's (",
                               own.sender_file_digest, "); train them together (lip-train --method=joint_receivers)"));
  }
  if (other.sender.source_layer != own.sender.source_layer ||
      other.sender.max_text_tokens != own.sender.max_text_tokens ||
      other.sender.perceiver.num_queries != own.sender.perceiver.num_queries ||
      other.sender.perceiver.output_width != own.sender.perceiver.output_width) {
    return refuse("its sender half has another shape");
  }
  for (const BridgeMetadata& bridge : bridges_) {
    if (bridge.receiver_model.name == other.receiver_model.name) {
      return refuse(absl::StrCat("bridge \"", bridge.name, "\" already serves receiver model ",
                                 other.receiver_model.name));
    }
  }
  bridges_.push_back(std::move(other));
  return absl::OkStatus();
}

absl::StatusOr<const BridgeMetadata*> FanOutBridges::ForReceiver(const std::string& receiver_model) const {
  for (const BridgeMetadata& bridge : bridges_) {
    if (bridge.receiver_model.name == receiver_model) return &bridge;
  }
  return absl::NotFoundError(absl::StrCat("this sender has no bridge for receiver model \"", receiver_model,
                                          "\" (it has: ", absl::StrJoin(receiver_models(), ", "), ")"));
}

std::vector<std::string> FanOutBridges::receiver_models() const {
  std::vector<std::string> names;
  for (const BridgeMetadata& bridge : bridges_) names.push_back(bridge.receiver_model.name);
  return names;
}

}  // namespace lip
