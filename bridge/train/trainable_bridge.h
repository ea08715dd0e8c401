// The modules of a Perceiver bridge while it is trained between two frozen models, built and saved
// the same way by every trainer that trains the whole bridge (BridgeTrainer for classification,
// ContinuationTrainer for generation):
//   metadata (bridge.json) --> SenderEncoder + ReceiverAdapter (seeded), EnergyMatcher,
//   ContextPrimer from the tokenized priming, the sender and receiver pipelines that share the two
//   trainable modules (so evaluation runs exactly what the nodes run), and AdamW over both modules.
//
// Ownership: shares the frozen models and tokenizers through the pipelines; owns the modules and
// the optimizer. Movable, not thread-safe.
#ifndef LIP_BRIDGE_TRAIN_TRAINABLE_BRIDGE_H_
#define LIP_BRIDGE_TRAIN_TRAINABLE_BRIDGE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "bridge/latent/bridge_config.h"
#include "bridge/latent/context_primer.h"
#include "bridge/latent/energy_matcher.h"
#include "bridge/latent/receiver_adapter.h"
#include "bridge/latent/receiver_pipeline.h"
#include "bridge/latent/sender_encoder.h"
#include "bridge/latent/sender_pipeline.h"
#include "bridge/train/bridge_metadata_for_training.h"
#include "bridge/train/train_config.h"
#include "nlohmann/json.hpp"

namespace lip {

struct TrainableBridge {
  BridgeMetadata metadata;
  SenderEncoder encoder{nullptr};
  ReceiverAdapter adapter{nullptr};
  std::unique_ptr<EnergyMatcher> energy_matcher;
  PrimingTokens priming;  // metadata.priming tokenized by the receiver's tokenizer
  std::unique_ptr<ContextPrimer> primer;
  std::unique_ptr<SenderPipeline> sender_pipeline;      // shares encoder
  std::unique_ptr<ReceiverPipeline> receiver_pipeline;  // shares adapter
  std::unique_ptr<torch::optim::AdamW> optimizer;      // encoder + adapter, config's rate and decay
  // The name the sender half's file carries (SaveBridgeCheckpoint's sender_half_bridge); "" = the
  // bridge's. Bridges sharing one encoder set the same, so their sender files are identical.
  std::string sender_half_bridge;

  // Seeds LibTorch with config.seed, then builds everything above from `metadata` (as
  // BridgeMetadataForTraining made it, plus what the trainer adds) between the endpoints' models.
  // With `shared_encoder` (non-null) the bridge does not make its own sender half but trains that
  // one, shared with other bridges of the same sender (one encoder for several receivers,
  // JointReceiverTrainer); its shape must be metadata.sender's. INVALID_ARGUMENT when the priming
  // does not tokenize or a pipeline rejects the shapes.
  static absl::StatusOr<TrainableBridge> Create(const TrainConfig& config, const BridgeEndpoints& endpoints,
                                                BridgeMetadata metadata,
                                                SenderEncoder shared_encoder = SenderEncoder(nullptr));

  // The trainable tensors: the encoder's, then the adapter's.
  std::vector<torch::Tensor> Parameters() const;

  // Puts both trainable modules in training mode until the returned scope ends, then back in
  // evaluation mode, on every exit of a step (an error included).
  class TrainingScope {
   public:
    explicit TrainingScope(TrainableBridge& bridge) : bridge_(bridge) { bridge_.SetTraining(true); }
    ~TrainingScope() { bridge_.SetTraining(false); }
    TrainingScope(const TrainingScope&) = delete;
    TrainingScope& operator=(const TrainingScope&) = delete;

   private:
    TrainableBridge& bridge_;
  };
  void SetTraining(bool on);

  // One optimizer update from `loss` (OptimizerUpdate with this bridge's optimizer and tensors).
  void Update(const torch::Tensor& loss, double max_grad_norm);

  // Writes a bridge checkpoint (bridge.json + both halves, docs/checkpoint.md) to `dir`, recording
  // `steps_done` in the training section and `evaluation` as measured on held-out data.
  absl::Status Save(const std::string& dir, int64_t steps_done, const nlohmann::json& evaluation);
  // The metadata as Save writes it, without the evaluation.
  BridgeMetadata MetadataAfter(int64_t steps_done) const;
};

// One update of `optimizer` from `loss`: zeroes the gradients, backpropagates, clips the global
// norm of `parameters`' gradients to `max_grad_norm` (0: no clipping) and steps. Throws c10::Error
// as LibTorch does.
void OptimizerUpdate(torch::optim::Optimizer& optimizer, const std::vector<torch::Tensor>& parameters,
                     const torch::Tensor& loss, double max_grad_norm);

}  // namespace lip

#endif  // LIP_BRIDGE_TRAIN_TRAINABLE_BRIDGE_H_
