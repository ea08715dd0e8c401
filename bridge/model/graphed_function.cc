#include "bridge/model/graphed_function.h"

#include <map>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "bridge/model/cuda_graph_capture.h"

namespace lip {

struct GraphedFunction::Cache {
  struct Entry {
#if LIP_CUDA_GRAPHS
    std::unique_ptr<at::cuda::CUDAGraph> graph;
#endif
    std::vector<torch::Tensor> inputs;   // the graph reads these
    std::vector<torch::Tensor> outputs;  // the graph writes these
    bool failed = false;                 // the capture failed: this key runs eagerly
  };
  torch::Device device{torch::kCPU};
  int max_graphs = 0;
  std::mutex mutex;
  std::map<std::string, Entry> entries;
#if LIP_CUDA_GRAPHS
  // One pool for every graph of this function: replays take turns (the mutex) and outputs are
  // copied out before it is released, so a later graph may reuse what an earlier one freed.
  CudaGraphPool pool{0, 0};
#endif
};

GraphedFunction::GraphedFunction(torch::Device device, bool enabled, int max_graphs)
    : cache_(std::make_unique<Cache>()) {
  cache_->device = device;
  cache_->max_graphs = max_graphs;
  uses_graphs_ = LIP_CUDA_GRAPHS && enabled && device.is_cuda() && max_graphs > 0;
}

GraphedFunction::~GraphedFunction() = default;

int GraphedFunction::num_graphs() const {
  std::lock_guard<std::mutex> lock(cache_->mutex);
  int n = 0;
  for (const auto& [key, entry] : cache_->entries) n += entry.failed ? 0 : 1;
  return n;
}

int64_t GraphBatchBucket(int64_t batch) {
  int64_t bucket = 1;
  while (bucket < batch) bucket *= 2;
  return bucket;
}

int64_t GraphTokenBucket(int64_t tokens) {
  // Padding positions cost a batch as much compute as real ones, so short inputs (a short message
  // at the sender, a framed text at the receiver) get the finest buckets; 16 buckets up to 256
  // either way. (The receiver's latent classify graph is keyed by its exact frame length.)
  const int64_t step = tokens <= 64 ? 8 : tokens <= 128 ? 16 : 32;
  return (tokens + step - 1) / step * step;
}

std::vector<torch::Tensor> GraphedFunction::Run(const std::string& key,
                                                const std::vector<torch::Tensor>& inputs,
                                                const Body& body) const {
#if LIP_CUDA_GRAPHS
  if (!uses_graphs_) return body(inputs);
  std::string full_key = key;
  for (const torch::Tensor& t : inputs) {
    absl::StrAppend(&full_key, "|", std::string(c10::toString(t.scalar_type())), c10::str(t.sizes()));
  }
  std::lock_guard<std::mutex> lock(cache_->mutex);
  auto it = cache_->entries.find(full_key);
  if (it == cache_->entries.end()) {
    if (static_cast<int>(cache_->entries.size()) >= cache_->max_graphs) return body(inputs);
    Cache::Entry& e = cache_->entries[full_key];
    for (const torch::Tensor& t : inputs) e.inputs.push_back(t.to(cache_->device).clone());
    auto graph = CaptureCudaGraph(
        CudaGraphCaptureStream(cache_->device.index()), cache_->pool,
        /*eager_runs=*/2, [&] { e.outputs = body(e.inputs); });
    if (graph == nullptr) {
      e.failed = true;
      e.inputs.clear();
      e.outputs.clear();
    } else {
      if (cache_->pool.first == 0 && cache_->pool.second == 0) cache_->pool = graph->pool();
      e.graph = std::move(graph);
    }
    it = cache_->entries.find(full_key);
  }
  Cache::Entry& e = it->second;
  if (e.failed) return body(inputs);
  for (size_t i = 0; i < inputs.size(); ++i) e.inputs[i].copy_(inputs[i]);
  e.graph->replay();
  std::vector<torch::Tensor> outputs;
  outputs.reserve(e.outputs.size());
  for (const torch::Tensor& t : e.outputs) outputs.push_back(t.clone());
  return outputs;
#else
  (void)key;
  return body(inputs);
#endif
}

}  // namespace lip
