#include "server/rpc_guard.h"

#include <utility>

namespace lip {

RpcGuard::RpcGuard(metrics::Registry& registry, std::string service, MessageCounter* messages)
    : metrics_(registry, std::move(service)), messages_(messages) {}

grpc::Status RpcGuard::Serve(grpc::ServerContextBase* context, const char* method, Step authorize,
                             Step handler) {
  RpcTimer timer(metrics_, method);
  if (absl::Status refused = authorize(); !refused.ok()) return timer.Finish(refused, context);
  const absl::Status status = handler();
  if (messages_ != nullptr) messages_->Count(method, status);
  return timer.Finish(status, context);
}

}  // namespace lip
