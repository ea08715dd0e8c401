#include "server/receiver/recent_answers.h"

namespace lip {

std::optional<std::string> RecentAnswers::Find(const std::string& key, absl::Time now) {
  std::lock_guard<std::mutex> lock(mu_);
  EvictLocked(now);
  auto it = answers_.find(key);
  if (it == answers_.end()) return std::nullopt;
  return it->second.answer;
}

void RecentAnswers::Remember(const std::string& key, std::string answer, absl::Time now) {
  if (capacity_ == 0) return;
  std::lock_guard<std::mutex> lock(mu_);
  EvictLocked(now);
  // A key already there keeps its first answer (a repeat's answer is the same message's).
  if (!answers_.try_emplace(key, Entry{std::move(answer), now}).second) return;
  order_.push_back(key);
  while (answers_.size() > capacity_) {
    answers_.erase(order_.front());
    order_.pop_front();
  }
}

void RecentAnswers::EvictLocked(absl::Time now) {
  while (!order_.empty()) {
    auto it = answers_.find(order_.front());
    if (it != answers_.end() && now - it->second.at < ttl_) break;
    if (it != answers_.end()) answers_.erase(it);
    order_.pop_front();
  }
}

}  // namespace lip
