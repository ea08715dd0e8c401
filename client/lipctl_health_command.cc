// `lipctl node health`: one grpc.health.v1 check against any LIP node (client/health_check.h).
// Made for container health checks and scripts: exit 0 only when the node answers SERVING.
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "client/health_check.h"
#include "client/lipctl_command.h"
#include "common/node/grpc_status.h"

namespace lip {

int RunNodeHealth(const std::vector<std::string>& raw) {
  auto args = LipctlArgs::Parse(raw, {"node", "service", "cert", "key", "ca", "server-name", "timeout-ms"},
                                {"insecure"});
  if (!args.ok()) {
    std::fprintf(stderr, "lipctl: %s\n", args.status().ToString().c_str());
    return kLipctlUsage;
  }
  ClientOptions options;
  options.address = args->Get("node");
  if (options.address.empty() || !args->positional().empty()) {
    std::fprintf(stderr, "lipctl: node health needs --node HOST:PORT and no other arguments\n");
    return kLipctlUsage;
  }
  options.tls.cert_file = args->Get("cert");
  options.tls.key_file = args->Get("key");
  options.tls.ca_file = args->Get("ca");
  options.tls.insecure = args->Has("insecure");
  options.tls.server_name_override = args->Get("server-name");
  auto timeout = args->GetInt("timeout-ms", 3000, 1, 3600000);
  if (!timeout.ok()) {
    std::fprintf(stderr, "lipctl: %s\n", timeout.status().ToString().c_str());
    return kLipctlUsage;
  }
  options.timeout = absl::Milliseconds(*timeout);
  auto status = CheckHealth(options, args->Get("service"));
  if (!status.ok()) {
    std::fprintf(stderr, "lipctl: %s: %s\n", options.address.c_str(), status.status().ToString().c_str());
    return kLipctlFailed;
  }
  std::printf("{\"node\": \"%s\", \"status\": \"%s\"}\n", options.address.c_str(), ServingStatusName(*status));
  return *status == ServingStatus::kServing ? kLipctlOk : kLipctlFailed;
}

}  // namespace lip
