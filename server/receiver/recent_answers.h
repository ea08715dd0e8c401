// RecentAnswers: a receiver's memory of the messages it answered lately, so that a message sent
// again — a client's retry after a lost connection or a timeout, with the same packet — is
// answered once: the repeat gets the first answer's bytes without running again.
//
// Keyed by the caller's identity (certificate CN), the packet's packet_id and a digest of the
// whole packet, so one sender can never read another's answers and a different packet that
// reuses an id (another sequence number, another task) runs on its own. Only successful answers are kept (a retry after an error runs
// again); a repeat that arrives while the first is still running runs too. At most `capacity`
// answers, each for at most `ttl`; the oldest go first.
//
// Thread-safety: all methods may be called from several threads.
#ifndef LIP_SERVER_RECEIVER_RECENT_ANSWERS_H_
#define LIP_SERVER_RECEIVER_RECENT_ANSWERS_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "absl/time/time.h"

namespace lip {

class RecentAnswers {
 public:
  RecentAnswers(size_t capacity, absl::Duration ttl) : capacity_(capacity), ttl_(ttl) {}

  static std::string Key(const std::string& caller, const std::string& packet_id, uint64_t packet_digest) {
    return caller + '\n' + packet_id + '\n' + std::to_string(packet_digest);
  }
  // The serialized answer kept for `key`, if any and younger than ttl.
  std::optional<std::string> Find(const std::string& key, absl::Time now);
  void Remember(const std::string& key, std::string answer, absl::Time now);

 private:
  struct Entry {
    std::string answer;
    absl::Time at;
  };
  void EvictLocked(absl::Time now);

  const size_t capacity_;
  const absl::Duration ttl_;
  std::mutex mu_;
  std::map<std::string, Entry> answers_;
  std::deque<std::string> order_;  // keys, oldest first (a key appears once)
};

}  // namespace lip

#endif  // LIP_SERVER_RECEIVER_RECENT_ANSWERS_H_
