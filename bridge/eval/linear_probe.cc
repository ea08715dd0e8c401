#include "bridge/eval/linear_probe.h"

#include "absl/strings/str_cat.h"
#include "bridge/eval/classification_scores.h"
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
    pooled.push_back(((source.states.to(torch::kFloat32) * mask).sum(1) / mask.sum(1)).to(torch::kCPU));
  }
  return torch::cat(pooled, 0);
}

torch::Tensor Labels(const TextDataset& data) {
  std::vector<int64_t> labels;
  for (const LabelledText& e : data.examples) labels.push_back(e.label);
  return torch::tensor(labels, torch::kInt64);
}

double Accuracy(torch::nn::Linear& probe, const torch::Tensor& x, const torch::Tensor& y) {
  return (probe->forward(x).argmax(1) == y).to(torch::kFloat64).mean().item<double>();
}

}  // namespace

absl::StatusOr<LinearProbeResult> FitTunedLinearProbe(torch::Tensor train_x, const torch::Tensor& train_y,
                                                      torch::Tensor validation_x, const torch::Tensor& validation_y,
                                                      torch::Tensor test_x, const torch::Tensor& test_y,
                                                      int64_t classes, const LinearProbeOptions& options) {
  if (train_x.size(0) == 0 || validation_x.size(0) == 0 || test_x.size(0) == 0) {
    return absl::InvalidArgumentError("linear probe needs non-empty train, validation and test sets");
  }
  if (train_x.size(0) != train_y.size(0) || validation_x.size(0) != validation_y.size(0) ||
      test_x.size(0) != test_y.size(0) || validation_x.size(1) != train_x.size(1) ||
      test_x.size(1) != train_x.size(1)) {
    return absl::InvalidArgumentError("linear probe features and labels have mismatched shapes");
  }
  if (options.l2_grid.empty()) return absl::InvalidArgumentError("linear probe needs at least one L2 penalty");
  try {
    torch::NoGradGuard outer_no_grad;
    const torch::Tensor mean = train_x.mean(0);
    const torch::Tensor std = train_x.std(0).clamp_min(1e-5);
    train_x = (train_x - mean) / std;
    validation_x = (validation_x - mean) / std;
    test_x = (test_x - mean) / std;

    LinearProbeResult result;
    std::vector<torch::Tensor> best_weights;  // of the chosen penalty: weight, bias
    for (double l2 : options.l2_grid) {
      torch::manual_seed(options.seed);
      torch::nn::Linear probe(train_x.size(1), classes);
      torch::optim::Adam optimizer(probe->parameters(), torch::optim::AdamOptions(options.learning_rate));
      ProbeTrial trial;
      trial.l2 = l2;
      trial.validation_accuracy = -1;
      std::vector<torch::Tensor> trial_best;
      int64_t without_improvement = 0;
      for (int64_t epoch = 1; epoch <= options.max_epochs; ++epoch) {
        {
          torch::AutoGradMode enable_grad(true);
          optimizer.zero_grad();
          torch::Tensor loss = torch::nn::functional::cross_entropy(probe->forward(train_x), train_y) +
                               l2 * probe->weight.pow(2).sum();
          loss.backward();
          optimizer.step();
        }
        if (epoch % options.eval_every != 0 && epoch != options.max_epochs) continue;
        const double accuracy = Accuracy(probe, validation_x, validation_y);
        if (accuracy > trial.validation_accuracy) {
          trial.validation_accuracy = accuracy;
          trial.best_epoch = epoch;
          trial_best = {probe->weight.detach().clone(), probe->bias.detach().clone()};
          without_improvement = 0;
        } else if (++without_improvement >= options.patience) {
          break;
        }
      }
      result.trials.push_back(trial);
      // Ties go to the larger penalty.
      if (best_weights.empty() || trial.validation_accuracy > result.validation_accuracy ||
          (trial.validation_accuracy == result.validation_accuracy && l2 > result.l2)) {
        result.l2 = l2;
        result.validation_accuracy = trial.validation_accuracy;
        best_weights = trial_best;
      }
    }
    torch::nn::Linear probe(train_x.size(1), classes);
    probe->weight.copy_(best_weights[0]);
    probe->bias.copy_(best_weights[1]);
    result.train_examples = train_x.size(0);
    result.validation_examples = validation_x.size(0);
    result.test_examples = test_x.size(0);
    result.train_accuracy = Accuracy(probe, train_x, train_y);
    const torch::Tensor predicted = probe->forward(test_x).argmax(1);
    ClassificationScores scores(static_cast<int>(classes));
    for (int64_t i = 0; i < test_x.size(0); ++i) scores.Add(test_y[i].item<int64_t>(), predicted[i].item<int64_t>());
    result.test_accuracy = scores.Accuracy();
    result.test_macro_f1 = scores.MacroF1();
    return result;
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("linear probe failed: ", e.what_without_backtrace()));
  }
}

absl::StatusOr<LinearProbeResult> RunSenderLinearProbe(const SenderPipeline& sender, const TextDataset& train,
                                                       const TextDataset& test,
                                                       const LinearProbeOptions& options) {
  if (train.examples.size() < 2 || test.examples.empty()) {
    return absl::InvalidArgumentError("linear probe needs a training split of 2 or more examples and a test split");
  }
  if (train.label_names != test.label_names) {
    return absl::InvalidArgumentError("linear probe train and test sets have different labels");
  }
  TextDataset fit, validation;
  const int64_t validation_size =
      std::max<int64_t>(1, ValidationSizeFor(options.validation_size, static_cast<int64_t>(train.examples.size())));
  LIP_RETURN_IF_ERROR(SplitValidation(train, validation_size, options.seed, &fit, &validation));
  torch::NoGradGuard no_grad;
  LIP_ASSIGN_OR_RETURN(torch::Tensor fit_x, PooledStates(sender, fit, options.batch_size));
  LIP_ASSIGN_OR_RETURN(torch::Tensor validation_x, PooledStates(sender, validation, options.batch_size));
  LIP_ASSIGN_OR_RETURN(torch::Tensor test_x, PooledStates(sender, test, options.batch_size));
  return FitTunedLinearProbe(fit_x, Labels(fit), validation_x, Labels(validation), test_x, Labels(test),
                             static_cast<int64_t>(train.label_names.size()), options);
}

}  // namespace lip
