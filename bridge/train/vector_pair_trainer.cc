#include "bridge/train/vector_pair_trainer.h"

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>

#include "absl/strings/str_cat.h"
#include "common/wire/status_macros.h"

namespace lip {
namespace {

absl::Status CheckPairs(const torch::Tensor& x, int64_t width_x, const torch::Tensor& y, int64_t width_y,
                        int64_t min_pairs, const VectorPairTrainingOptions& options) {
  if (!x.defined() || !y.defined() || x.dim() != 2 || y.dim() != 2) {
    return absl::InvalidArgumentError("paired vectors must be 2-D tensors [N, d]");
  }
  if (x.size(0) != y.size(0)) {
    return absl::InvalidArgumentError(absl::StrCat("paired vectors have ", x.size(0), " and ", y.size(0), " rows"));
  }
  if (x.size(0) < min_pairs) {
    return absl::InvalidArgumentError(absl::StrCat("got ", x.size(0), " pairs, need at least ", min_pairs));
  }
  if (x.size(1) != width_x || y.size(1) != width_y) {
    return absl::InvalidArgumentError(absl::StrCat("paired vectors are ", x.size(1), " and ", y.size(1),
                                                   " wide, expected ", width_x, " and ", width_y));
  }
  if (options.steps < 0) return absl::InvalidArgumentError(absl::StrCat("steps is ", options.steps, ", expected >= 0"));
  if (options.batch_size <= 0) {
    return absl::InvalidArgumentError(absl::StrCat("batch_size is ", options.batch_size, ", expected > 0"));
  }
  if (!(options.learning_rate > 0)) {
    return absl::InvalidArgumentError(absl::StrCat("learning_rate is ", options.learning_rate, ", expected > 0"));
  }
  return absl::OkStatus();
}

// The shared loop: `loss_of(x_batch, y_batch)` is minimized over shuffled mini-batches.
absl::StatusOr<VectorPairTrainingReport> TrainOnPairs(
    torch::nn::Module& module, const torch::Tensor& x, const torch::Tensor& y,
    const VectorPairTrainingOptions& options,
    const std::function<torch::Tensor(const torch::Tensor&, const torch::Tensor&)>& loss_of) {
  VectorPairTrainingReport report;
  try {
    const int64_t n = x.size(0);
    const int64_t batch = std::min(options.batch_size, n);
    torch::Tensor xs = x.to(torch::kFloat32), ys = y.to(torch::kFloat32);
    {
      torch::NoGradGuard no_grad;
      module.eval();
      report.initial_loss = loss_of(xs, ys).item<double>();
    }
    module.train();
    torch::optim::AdamW optimizer(module.parameters(), torch::optim::AdamWOptions(options.learning_rate)
                                                           .weight_decay(options.weight_decay));
    at::Generator generator = at::detail::createCPUGenerator(options.seed);
    torch::Tensor order;
    int64_t cursor = n;
    for (int64_t step = 1; step <= options.steps; ++step) {
      if (cursor + batch > n) {  // a new epoch: reshuffle
        order = torch::randperm(n, generator, torch::TensorOptions().dtype(torch::kInt64));
        cursor = 0;
      }
      torch::Tensor index = order.narrow(0, cursor, batch);
      cursor += batch;
      optimizer.zero_grad();
      torch::Tensor loss = loss_of(xs.index_select(0, index), ys.index_select(0, index));
      const double value = loss.item<double>();
      if (!std::isfinite(value)) return absl::InternalError(absl::StrCat("loss is ", value, " at step ", step));
      loss.backward();
      if (options.max_grad_norm > 0) torch::nn::utils::clip_grad_norm_(module.parameters(), options.max_grad_norm);
      optimizer.step();
      report.step_losses.push_back(value);
      if (options.report_every > 0 && options.on_report && step % options.report_every == 0) {
        options.on_report(step, value);
      }
    }
    module.eval();
    torch::NoGradGuard no_grad;
    report.final_loss = loss_of(xs, ys).item<double>();
    return report;
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("training on vector pairs: ", e.what_without_backtrace()));
  }
}

}  // namespace

absl::StatusOr<VectorPairTrainingReport> TrainBottleneckAdapter(BottleneckAdapter& adapter,
                                                                const torch::Tensor& sender_vectors,
                                                                const torch::Tensor& receiver_vectors,
                                                                const VectorPairTrainingOptions& options) {
  LIP_RETURN_IF_ERROR(CheckPairs(sender_vectors, adapter->config().input_width, receiver_vectors,
                                 adapter->config().output_width, 1, options));
  return TrainOnPairs(*adapter, sender_vectors, receiver_vectors, options,
                      [&](const torch::Tensor& x, const torch::Tensor& y) {
                        return HybridVectorLoss(adapter->forward(x), y, options.hybrid_lambda);
                      });
}

absl::StatusOr<VectorPairTrainingReport> TrainDualTranslator(DualTranslator& translator, const torch::Tensor& a,
                                                             const torch::Tensor& b,
                                                             const VectorPairTrainingOptions& options) {
  LIP_RETURN_IF_ERROR(
      CheckPairs(a, translator->config().width_a, b, translator->config().width_b, 2, options));
  if (options.batch_size < 2) {
    return absl::InvalidArgumentError(absl::StrCat("batch_size is ", options.batch_size, ", InfoNCE needs >= 2"));
  }
  return TrainOnPairs(*translator, a, b, options, [&](const torch::Tensor& x, const torch::Tensor& y) {
    return ComputeDualTranslationLosses(translator, x, y, options.dual).total;
  });
}

}  // namespace lip
