#include "server/sender/receiver_breaker.h"

#include <algorithm>

namespace lip {

bool ReceiverBreaker::IsOpen(const std::string& address, absl::Time now) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = failed_at_.find(address);
  return it != failed_at_.end() && now - it->second < open_for_;
}

void ReceiverBreaker::RecordFailure(const std::string& address, absl::Time now) {
  std::lock_guard<std::mutex> lock(mu_);
  failed_at_[address] = now;
}

void ReceiverBreaker::RecordSuccess(const std::string& address) {
  std::lock_guard<std::mutex> lock(mu_);
  failed_at_.erase(address);
}

std::vector<std::string> ReceiverBreaker::HealthyFirst(std::vector<std::string> addresses,
                                                       absl::Time now) const {
  std::stable_partition(addresses.begin(), addresses.end(),
                        [&](const std::string& address) { return !IsOpen(address, now); });
  return addresses;
}

}  // namespace lip
