#include "server/dynamic_batcher.h"

namespace lip {

absl::Status JobAbandoned(const BatchTicket& ticket, absl::Time now, absl::string_view node) {
  // The deadline first: gRPC also marks a call whose deadline passed as cancelled.
  if (now > ticket.deadline) {
    return absl::DeadlineExceededError(absl::StrCat(
        "deadline passed after ", absl::ToDoubleMilliseconds(now - ticket.enqueued), " ms in the ", node));
  }
  if ((ticket.cancelled != nullptr && ticket.cancelled->load()) || (ticket.caller_gone && ticket.caller_gone())) {
    return absl::CancelledError("the caller cancelled before the message ran");
  }
  return absl::OkStatus();
}

}  // namespace lip
