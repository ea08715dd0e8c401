// ReceiverBreaker: a sender's memory of receivers that just failed (a circuit breaker).
//
// When a receiver answers UNAVAILABLE (connection refused, reset, shutting down) the sender
// records it here and, for `open_for`, prefers every other receiver serving the same bridge —
// without waiting for the registry's liveness timeout to drop the dead node. After `open_for`
// the receiver is tried again like any other (half-open); an answer from it closes the breaker
// at once.
//
// Thread-safety: all methods may be called from several threads.
#ifndef LIP_SERVER_SENDER_RECEIVER_BREAKER_H_
#define LIP_SERVER_SENDER_RECEIVER_BREAKER_H_

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace lip {

class ReceiverBreaker {
 public:
  explicit ReceiverBreaker(absl::Duration open_for) : open_for_(open_for) {}

  // True when `address` failed less than open_for before `now` and has not answered since.
  bool IsOpen(const std::string& address, absl::Time now) const;
  void RecordFailure(const std::string& address, absl::Time now);
  void RecordSuccess(const std::string& address);

  // `addresses` with the ones whose breaker is open moved to the back (order otherwise kept):
  // healthy receivers are tried first, and a message still has somewhere to go when all failed.
  std::vector<std::string> HealthyFirst(std::vector<std::string> addresses, absl::Time now) const;

 private:
  const absl::Duration open_for_;
  mutable std::mutex mu_;
  std::map<std::string, absl::Time> failed_at_;  // by address
};

}  // namespace lip

#endif  // LIP_SERVER_SENDER_RECEIVER_BREAKER_H_
