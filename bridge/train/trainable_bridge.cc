#include "bridge/train/trainable_bridge.h"

#include <utility>

#include "bridge/latent/bridge_checkpoint.h"
#include "common/wire/status_macros.h"

namespace lip {

absl::StatusOr<TrainableBridge> TrainableBridge::Create(const TrainConfig& config, const BridgeEndpoints& endpoints,
                                                        BridgeMetadata metadata, SenderEncoder shared_encoder) {
  TrainableBridge b;
  b.metadata = std::move(metadata);
  const BridgeMetadata& m = b.metadata;
  torch::manual_seed(config.seed);
  if (shared_encoder) {
    const SenderHalfConfig& shared = shared_encoder->config();
    if (shared.source_layer != m.sender.source_layer || shared.max_text_tokens != m.sender.max_text_tokens ||
        shared.perceiver.num_queries != m.sender.perceiver.num_queries ||
        shared.perceiver.input_width != m.sender.perceiver.input_width ||
        shared.perceiver.output_width != m.sender.perceiver.output_width) {
      return absl::InvalidArgumentError("the shared sender encoder's shape differs from the bridge's sender half");
    }
    b.encoder = std::move(shared_encoder);
  } else {
    b.encoder = SenderEncoder(m.sender);
  }
  b.adapter = ReceiverAdapter(m.receiver.adapter);
  b.energy_matcher = std::make_unique<EnergyMatcher>(m.receiver.energy);
  LIP_ASSIGN_OR_RETURN(b.priming, TokenizePriming(*endpoints.receiver_tokenizer, m.priming));
  b.primer = std::make_unique<ContextPrimer>(b.priming);
  LIP_ASSIGN_OR_RETURN(b.sender_pipeline, SenderPipeline::Create(endpoints.sender_model, endpoints.sender_tokenizer,
                                                                 SenderHalf{m, b.encoder}));
  LIP_ASSIGN_OR_RETURN(b.receiver_pipeline,
                       ReceiverPipeline::Create(endpoints.receiver_model, endpoints.receiver_tokenizer,
                                                ReceiverHalf{m, b.adapter}));
  b.optimizer = std::make_unique<torch::optim::AdamW>(
      b.Parameters(), torch::optim::AdamWOptions(config.learning_rate).weight_decay(config.weight_decay));
  return b;
}

std::vector<torch::Tensor> TrainableBridge::Parameters() const {
  std::vector<torch::Tensor> parameters = encoder->parameters();
  for (const torch::Tensor& p : adapter->parameters()) parameters.push_back(p);
  return parameters;
}

void TrainableBridge::SetTraining(bool on) {
  encoder->train(on);
  adapter->train(on);
}

void TrainableBridge::Update(const torch::Tensor& loss, double max_grad_norm) {
  OptimizerUpdate(*optimizer, Parameters(), loss, max_grad_norm);
}

void OptimizerUpdate(torch::optim::Optimizer& optimizer, const std::vector<torch::Tensor>& parameters,
                     const torch::Tensor& loss, double max_grad_norm) {
  optimizer.zero_grad();
  loss.backward();
  if (max_grad_norm > 0) torch::nn::utils::clip_grad_norm_(parameters, max_grad_norm);
  optimizer.step();
}

BridgeMetadata TrainableBridge::MetadataAfter(int64_t steps_done) const {
  BridgeMetadata m = metadata;
  m.training["steps_done"] = steps_done;
  return m;
}

absl::Status TrainableBridge::Save(const std::string& dir, int64_t steps_done, const nlohmann::json& evaluation) {
  BridgeMetadata m = MetadataAfter(steps_done);
  m.evaluation = evaluation;
  return SaveBridgeCheckpoint(dir, m, *encoder, *adapter, /*saved=*/nullptr, sender_half_bridge);
}

}  // namespace lip
