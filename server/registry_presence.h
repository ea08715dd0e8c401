// RegistryPresence: keeps one node listed in the registry — registers it,
// heartbeats at the interval the registry asks for, and re-registers when the
// registry has forgotten it (NOT_FOUND after a registry restart), and leaves
// on Stop (listed as not alive at once). Failures are logged and retried;
// they never stop the node.
//
// Ownership: owns its background thread and its RegistryClient. Thread-safety:
// Start/Stop from one thread.
#ifndef LIP_SERVER_REGISTRY_PRESENCE_H_
#define LIP_SERVER_REGISTRY_PRESENCE_H_

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "client/lip_client.h"
#include "lip/v1/registry.pb.h"

namespace lip {

class RegistryPresence {
 public:
  RegistryPresence(std::unique_ptr<RegistryClient> client, lip::v1::NodeInfo node);
  ~RegistryPresence();  // Stop()

  // Registers once synchronously (returning that result) and starts the heartbeat thread
  // whatever the result (it keeps retrying).
  absl::Status Start();
  void Stop();
  RegistryClient& client() { return *client_; }

 private:
  void Loop();

  std::unique_ptr<RegistryClient> client_;
  const lip::v1::NodeInfo node_;
  std::atomic<uint32_t> interval_ms_{1000};
  std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace lip

#endif  // LIP_SERVER_REGISTRY_PRESENCE_H_
