#include "server/registry_presence.h"

#include "common/node/logging.h"

namespace lip {

RegistryPresence::RegistryPresence(std::unique_ptr<RegistryClient> client, lip::v1::NodeInfo node)
    : client_(std::move(client)), node_(std::move(node)) {}

RegistryPresence::~RegistryPresence() { Stop(); }

absl::Status RegistryPresence::Start() {
  auto registered = client_->RegisterNode(node_);
  if (registered.ok() && registered->heartbeat_interval_ms() > 0) {
    interval_ms_ = registered->heartbeat_interval_ms();
  }
  thread_ = std::thread([this] { Loop(); });
  return registered.status();
}

void RegistryPresence::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  if (!thread_.joinable()) return;  // never started, or already stopped
  thread_.join();
  // Leave, so that nobody resolves this node while it drains (best effort: the liveness
  // timeout covers a registry that does not answer).
  absl::Status left = client_->Leave(node_.node_id());
  if (!left.ok()) LogWarning("presence", "leaving the registry failed", {{"error", left.ToString()}});
}

void RegistryPresence::Loop() {
  bool registered = true;
  while (true) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      wake_.wait_for(lock, std::chrono::milliseconds(interval_ms_.load()), [this] { return stop_; });
      if (stop_) return;
    }
    absl::Status status = registered ? client_->Heartbeat(node_.node_id()) : absl::NotFoundError("");
    if (status.code() == absl::StatusCode::kNotFound) {
      auto again = client_->RegisterNode(node_);
      registered = again.ok();
      if (again.ok()) {
        LogInfo("presence", "registered with the registry", {{"node_id", node_.node_id()}});
      } else {
        LogWarning("presence", "registration failed", {{"error", again.status().ToString()}});
      }
    } else if (!status.ok()) {
      LogWarning("presence", "heartbeat failed", {{"error", status.ToString()}});
    }
  }
}

}  // namespace lip
