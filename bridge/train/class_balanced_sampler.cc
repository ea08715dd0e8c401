#include "bridge/train/class_balanced_sampler.h"

#include <algorithm>
#include <numeric>
#include <random>

#include "absl/strings/str_cat.h"

namespace lip {

absl::StatusOr<ClassBalancedSampler> ClassBalancedSampler::Create(const std::vector<int32_t>& labels,
                                                                  int32_t num_classes, uint64_t seed) {
  if (num_classes < 1) return absl::InvalidArgumentError(absl::StrCat("num_classes is ", num_classes));
  ClassBalancedSampler sampler;
  sampler.by_class_.resize(num_classes);
  for (size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] < 0 || labels[i] >= num_classes) {
      return absl::InvalidArgumentError(
          absl::StrCat("example ", i, " has label ", labels[i], " outside [0, ", num_classes, ")"));
    }
    sampler.by_class_[labels[i]].push_back(i);
  }
  size_t largest = 0;
  for (int32_t c = 0; c < num_classes; ++c) {
    if (sampler.by_class_[c].empty()) {
      return absl::InvalidArgumentError(absl::StrCat("class ", c, " has no training example"));
    }
    largest = std::max(largest, sampler.by_class_[c].size());
  }
  sampler.epoch_length_ = int64_t(largest) * num_classes;
  sampler.state_.seed = seed;
  sampler.BuildEpochOrder();
  return sampler;
}

void ClassBalancedSampler::BuildEpochOrder() {
  const int64_t num_classes = by_class_.size();
  const int64_t rounds = epoch_length_ / num_classes;
  std::mt19937_64 rng(state_.seed * 1000003ULL + uint64_t(state_.epoch));
  // Per class, `rounds` draws: shuffled passes over its examples, reshuffled after each pass.
  std::vector<std::vector<int64_t>> draws(num_classes);
  for (int64_t c = 0; c < num_classes; ++c) {
    std::vector<int64_t> pool = by_class_[c];
    while (int64_t(draws[c].size()) < rounds) {
      std::shuffle(pool.begin(), pool.end(), rng);
      for (int64_t index : pool) {
        if (int64_t(draws[c].size()) == rounds) break;
        draws[c].push_back(index);
      }
    }
  }
  order_.clear();
  order_.reserve(epoch_length_);
  std::vector<int64_t> classes(num_classes);
  std::iota(classes.begin(), classes.end(), 0);
  for (int64_t r = 0; r < rounds; ++r) {
    std::shuffle(classes.begin(), classes.end(), rng);
    for (int64_t c : classes) order_.push_back(draws[c][r]);
  }
}

std::vector<int64_t> ClassBalancedSampler::Next(int64_t count) {
  std::vector<int64_t> out;
  out.reserve(count);
  while (int64_t(out.size()) < count) {
    if (state_.position >= epoch_length_) {
      ++state_.epoch;
      state_.position = 0;
      BuildEpochOrder();
    }
    out.push_back(order_[state_.position++]);
  }
  return out;
}

absl::Status ClassBalancedSampler::Restore(const SamplerState& state) {
  if (state.position < 0 || state.position > epoch_length_ || state.epoch < 0) {
    return absl::InvalidArgumentError(absl::StrCat("sampler state epoch ", state.epoch, " position ",
                                                   state.position, " is outside an epoch of ",
                                                   epoch_length_));
  }
  state_ = state;
  BuildEpochOrder();
  return absl::OkStatus();
}

}  // namespace lip
