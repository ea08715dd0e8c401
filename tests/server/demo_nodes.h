// Shared by the node tests that run real lip-receiver / lip-sender processes on
// the shipped demo model pair: a bridge checkpoint for the pair with random
// (untrained) halves — the wiring, not the accuracy, is under test — and a test
// directory with certificates from which nodes are started over mutual TLS on
// 127.0.0.1 and clients are configured.
#ifndef LIP_TESTS_SERVER_DEMO_NODES_H_
#define LIP_TESTS_SERVER_DEMO_NODES_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "client/lip_client.h"
#include "tests/server/node_process.h"

namespace lip::testing {

inline constexpr char kDemoSenderModel[] = "demo/models/sender-llama";
inline constexpr char kDemoReceiverModel[] = "demo/models/receiver-qwen2";
inline constexpr char kDemoSenderModelName[] = "lip-demo/sender-llama";
inline constexpr char kDemoReceiverModelName[] = "lip-demo/receiver-qwen2";
// The verbalizers of the random SST-2 bridge.
inline const std::vector<std::string> kDemoBridgeLabels = {" negative", " positive"};
// SST-2 style reviews of different lengths (batches of them are padded).
inline const std::vector<std::string> kDemoTexts = {
    "one long string of cliches .",
    "a gorgeous , witty , seductive movie .",
    "the film is strictly routine .",
    "an utterly charming and hilarious film that reminded me of the best of the genre .",
    "it 's a bad sign when you 're rooting for the film to end .",
    "a masterpiece four years in the making ."};

// True when both demo model directories are there (tests skip otherwise).
bool DemoModelsPresent();

// Writes a valid SST-2 bridge checkpoint named `name` for the demo pair into `dir`.
absl::Status MakeRandomDemoBridge(const std::string& dir, const std::string& name);

// Writes two bridges sharing one random sender half (byte-identical sender.safetensors, as
// lip-train --method=joint_receivers writes them), with the random SST-2 bridge's labels: `qwen2_dir`
// for the demo receiver, `llama_dir` for the demo sender model as a receiver. Named `name`-qwen2
// and `name`-llama.
absl::Status MakeRandomFanOutBridges(const std::string& qwen2_dir, const std::string& llama_dir,
                                     const std::string& name);

// A test directory `root` holding certs/ (made by Create) for the identities
// admin, registry, sender, receiver; node logs go to root/<role>.log.
class NodeTestDir {
 public:
  static absl::StatusOr<NodeTestDir> Create(const std::string& prefix);
  const std::string& root() const { return root_; }
  // Starts `binary` as `role` (its certificate, node id "<role>-1", listen and /metrics on
  // 127.0.0.1:0) with `extra` flags; nullptr (and a test failure) when it does not come up.
  std::unique_ptr<NodeProcess> Start(const std::string& binary, const std::string& role,
                                     const std::vector<std::string>& extra) const;
  // As Start, for another node of the same role: node id `node_id`, log root/<node_id>.log.
  std::unique_ptr<NodeProcess> StartNamed(const std::string& binary, const std::string& role,
                                          const std::string& node_id, const std::vector<std::string>& extra) const;
  // Client options for `identity`'s certificate, calling 127.0.0.1:<port>.
  ClientOptions Options(const std::string& identity, int port) const;
  // Removes the directory unless LIP_KEEP_TEST_DIR is set.
  void Remove() const;

 private:
  explicit NodeTestDir(std::string root) : root_(std::move(root)) {}
  std::string root_;
};

}  // namespace lip::testing

#endif  // LIP_TESTS_SERVER_DEMO_NODES_H_
