#include "bridge/eval/linear_probe.h"

#include "absl/strings/str_cat.h"
#include "common/wire/status_macros.h"

namespace lip {
namespace {

// Mean-pooled source-layer states (N, d_s) of every text in `data`.
absl::StatusOr<torch::Tensor> PooledStates(const SenderPipeline& sender, const TextDataset& data,
                                           int64_t batch_size) {
  std::vector<torch::Tensor> pooled;
  for (size_t begin = 0; begin < data.examples.size(); begin += batch_size) {
    std::vector<std::string> texts;
    for (size_t i = begin; i < std::min(data.examples.size(), begin + batch_size); ++i) {
      texts.push_back(data.examples[i].text);
    }
    LIP_ASSIGN_OR_RETURN(SourceStates source, sender.ReadSourceStates(texts));
    torch::Tensor mask = source.mask.to(torch::kFloat32).unsqueeze(-1);
    pooled.push_back(((source.states * mask).sum(1) / mask.sum(1)).to(torch::kCPU));
  }
  return torch::cat(pooled, 0);
}

torch::Tensor Labels(const TextDataset& data) {
  std::vector<int64_t> labels;
  for (const LabelledText& e : data.examples) labels.push_back(e.label);
  return torch::tensor(labels, torch::kInt64);
}

}  // namespace

absl::StatusOr<LinearProbeResult> RunSenderLinearProbe(const SenderPipeline& sender, const TextDataset& train,
                                                       const TextDataset& test,
                                                       const LinearProbeOptions& options) {
  if (train.examples.empty() || test.examples.empty()) {
    return absl::InvalidArgumentError("linear probe needs non-empty train and test sets");
  }
  if (train.label_names != test.label_names) {
    return absl::InvalidArgumentError("linear probe train and test sets have different labels");
  }
  torch::NoGradGuard outer_no_grad;
  LIP_ASSIGN_OR_RETURN(torch::Tensor train_x, PooledStates(sender, train, options.batch_size));
  LIP_ASSIGN_OR_RETURN(torch::Tensor test_x, PooledStates(sender, test, options.batch_size));
  const torch::Tensor mean = train_x.mean(0);
  const torch::Tensor std = train_x.std(0).clamp_min(1e-5);
  train_x = (train_x - mean) / std;
  test_x = (test_x - mean) / std;
  const torch::Tensor train_y = Labels(train), test_y = Labels(test);

  try {
    torch::manual_seed(options.seed);
    torch::nn::Linear probe(train_x.size(1), int64_t(train.label_names.size()));
    torch::optim::AdamW optimizer(probe->parameters(),
                                  torch::optim::AdamWOptions(options.learning_rate).weight_decay(options.weight_decay));
    {
      torch::AutoGradMode enable_grad(true);
      for (int64_t epoch = 0; epoch < options.epochs; ++epoch) {
        optimizer.zero_grad();
        torch::Tensor loss = torch::nn::functional::cross_entropy(probe->forward(train_x), train_y);
        loss.backward();
        optimizer.step();
      }
    }
    LinearProbeResult result;
    result.train_examples = train_x.size(0);
    result.test_examples = test_x.size(0);
    result.train_accuracy = (probe->forward(train_x).argmax(1) == train_y).to(torch::kFloat64).mean().item<double>();
    result.test_accuracy = (probe->forward(test_x).argmax(1) == test_y).to(torch::kFloat64).mean().item<double>();
    return result;
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("linear probe failed: ", e.what_without_backtrace()));
  }
}

}  // namespace lip
