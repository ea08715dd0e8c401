// GraphedFunction: a function of device tensors, replayed from a CUDA graph per input shape.
//
// The model's own forward replays graphs (DecoderModel::Forward), but a node's message path is
// more than the model: the sender normalises and resamples the states it reads, the receiver
// adapts the soft tokens, primes them and scores labels. Run eagerly, those few dozen small
// kernels cost more host time than the model's whole replay. A pipeline hands the whole path —
// model forward included (ForwardInput::cuda_graph = false inside) — to a GraphedFunction, which
// captures it once per key and input shapes and replays it from then on.
//
// Where no graph applies (a CPU model, a build without LIP_CUDA_GRAPHS, graphs turned off, the
// cap reached, a failed capture) Run simply calls the body: callers have one code path.
//
// A body must be capturable: no host synchronisation (.item(), .to(kCPU), a host-side check of a
// device value), no decision on the host from the inputs' values (only from their shapes and the
// key), every tensor it makes on the inputs' device. Its outputs are copied out of the graph's
// buffers before Run returns, so callers own them.
#ifndef LIP_BRIDGE_MODEL_GRAPHED_FUNCTION_H_
#define LIP_BRIDGE_MODEL_GRAPHED_FUNCTION_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "bridge/torch_compat.h"

namespace lip {

class GraphedFunction {
 public:
  using Body = std::function<std::vector<torch::Tensor>(const std::vector<torch::Tensor>& inputs)>;

  // Graphs apply when `enabled`, `device` is a CUDA device and this build captures; at most
  // `max_graphs` are kept (a call beyond runs eagerly).
  GraphedFunction(torch::Device device, bool enabled, int max_graphs);
  ~GraphedFunction();
  GraphedFunction(const GraphedFunction&) = delete;
  GraphedFunction& operator=(const GraphedFunction&) = delete;

  // body(inputs), from a graph where one applies: the first call for (key, the inputs' shapes and
  // dtypes) captures the body over static copies of the inputs; later calls copy the inputs into
  // them and replay. `key` names whatever else decides the body's kernels (the caller's options).
  // Thread-safe: replays of one GraphedFunction take turns. Errors of LibTorch propagate as
  // c10::Error, as from an eager call.
  std::vector<torch::Tensor> Run(const std::string& key, const std::vector<torch::Tensor>& inputs,
                                 const Body& body) const;

  // True when Run may replay graphs (the constructor's conditions, this build included).
  bool uses_graphs() const { return uses_graphs_; }
  // Graphs captured so far.
  int num_graphs() const;

 private:
  struct Cache;  // graphed_function.cc
  bool uses_graphs_ = false;
  std::unique_ptr<Cache> cache_;
};

// The bucket a CUDA graph is captured for: batch rows rounded up to a power of two, positions to a
// multiple of 8 up to 64, of 16 up to 128 and of 32 beyond (16 buckets up to 256; DecoderModel's
// graphs use the same buckets, so a node's warm-up covers both).
int64_t GraphBatchBucket(int64_t batch);
int64_t GraphTokenBucket(int64_t tokens);

}  // namespace lip

#endif  // LIP_BRIDGE_MODEL_GRAPHED_FUNCTION_H_
