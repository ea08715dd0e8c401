#include "bridge/model/static_decoder.h"

#include <algorithm>
#include <cmath>

#include "bridge/model/decoder_ops.h"

#include "bridge/model/cuda_graph_capture.h"

namespace lip {

struct StaticDecoderBuffers {
  int64_t rows = 0;       // Bb
  int64_t positions = 0;  // C
  std::vector<torch::Tensor> keys, values;  // per layer [Bb, kv_heads, C, D]
  torch::Tensor key_mask;     // [Bb, C] int64, 1 = a valid key
  torch::Tensor next_positions;  // [Bb] int64: the position id of each row's next token
  torch::Tensor column;       // [1] int64: the column the next token's K/V go to
  torch::Tensor input;        // [Bb, 1, H] model dtype: the step's token embeddings
  torch::Tensor logits;       // [Bb, V] fp32: the step's output
  bool stepped = false;       // one eager step ran (lazy CUDA set-up done)
  bool capture_failed = false;
#if LIP_CUDA_GRAPHS
  std::unique_ptr<at::cuda::CUDAGraph> graph;
  c10::optional<c10::cuda::CUDAStream> side_stream;  // the first eager step and the capture run here
#endif
  std::mutex busy;  // held by the session that uses these buffers
};

struct StaticDecoderPool {
  static constexpr int kMaxDecoders = 8;
  std::map<std::pair<int64_t, int64_t>, std::unique_ptr<StaticDecoderBuffers>> decoders;
};

namespace {
constexpr int64_t kMaxRows = 64;
constexpr int64_t kPositionQuantum = 128;
constexpr int64_t kMaxPositions = 2048;
}  // namespace

std::unique_ptr<StaticDecodeSession> AcquireStaticDecoder(const DecoderModel& model, int64_t batch, int64_t positions,
                                                          bool force) {
  if (!force && !model.uses_cuda_graphs()) return nullptr;
  if (batch < 1 || batch > kMaxRows || positions < 1) return nullptr;
  int64_t rows = 1;
  while (rows < batch) rows *= 2;
  const int64_t C = (positions + kPositionQuantum - 1) / kPositionQuantum * kPositionQuantum;
  if (C > kMaxPositions) return nullptr;
  for (const DecoderModel::Layer& l : model.layers_) {
    if (l.sliding_window > 0 && C > l.sliding_window) return nullptr;  // a window would cut in
  }
  std::lock_guard<std::mutex> lock(model.static_decoders_mutex_);
  if (model.static_decoders_ == nullptr) model.static_decoders_ = std::make_shared<StaticDecoderPool>();
  StaticDecoderPool& pool = *model.static_decoders_;
  auto key = std::make_pair(rows, C);
  auto it = pool.decoders.find(key);
  if (it == pool.decoders.end()) {
    if (static_cast<int>(pool.decoders.size()) >= StaticDecoderPool::kMaxDecoders) return nullptr;
    auto buffers = std::make_unique<StaticDecoderBuffers>();
    const ModelConfig& c = model.config();
    const auto act = torch::TensorOptions().device(model.device()).dtype(model.activation_dtype_);
    const auto ids = torch::TensorOptions().device(model.device()).dtype(torch::kInt64);
    buffers->rows = rows;
    buffers->positions = C;
    for (int64_t i = 0; i < model.num_layers(); ++i) {
      buffers->keys.push_back(torch::zeros({rows, c.num_key_value_heads, C, c.head_dim}, act));
      buffers->values.push_back(torch::zeros({rows, c.num_key_value_heads, C, c.head_dim}, act));
    }
    buffers->key_mask = torch::zeros({rows, C}, ids);
    buffers->next_positions = torch::zeros({rows}, ids);
    buffers->column = torch::zeros({1}, ids);
    buffers->input = torch::zeros({rows, 1, c.hidden_size}, act.dtype(model.dtype()));
    buffers->logits = torch::zeros({rows, c.vocab_size}, act.dtype(torch::kFloat32));
    it = pool.decoders.emplace(key, std::move(buffers)).first;
  }
  std::unique_lock<std::mutex> lease(it->second->busy, std::try_to_lock);
  if (!lease.owns_lock()) return nullptr;
  return std::unique_ptr<StaticDecodeSession>(
      new StaticDecodeSession(model, it->second.get(), std::move(lease), batch));
}

StaticDecodeSession::StaticDecodeSession(const DecoderModel& model, StaticDecoderBuffers* buffers,
                                         std::unique_lock<std::mutex> lease, int64_t batch)
    : model_(model), buffers_(buffers), lease_(std::move(lease)), batch_(batch) {}

StaticDecodeSession::~StaticDecodeSession() = default;

void StaticDecodeSession::Load(const KvCache& cache) {
  StaticDecoderBuffers& d = *buffers_;
  const int64_t L = cache.length(), B = batch_;
  TORCH_CHECK(cache.batch_size() == B && L >= 1 && L < d.positions && cache.num_layers() == model_.num_layers(),
              "static decoder: cache of batch ", cache.batch_size(), " and ", L, " positions does not fit ",
              d.rows, " rows x ", d.positions, " positions");
  torch::NoGradGuard no_grad;
  for (int64_t i = 0; i < model_.num_layers(); ++i) {
    d.keys[i].zero_();
    d.values[i].zero_();
    d.keys[i].narrow(0, 0, B).narrow(2, 0, L).copy_(cache.layer_keys(i));
    d.values[i].narrow(0, 0, B).narrow(2, 0, L).copy_(cache.layer_values(i));
  }
  d.key_mask.zero_();
  d.key_mask.narrow(0, 0, B).narrow(1, 0, L).copy_(cache.attention_mask());
  if (B < d.rows) d.key_mask.narrow(0, B, d.rows - B).select(1, 0).fill_(1);  // extra rows see one zero key
  d.next_positions.zero_();
  d.next_positions.narrow(0, 0, B).copy_(cache.next_positions());
  d.column.fill_(L);
  loaded_length_ = L;
  steps_ = 0;
}

void StaticDecodeSession::RunStep() {
  using decoder_ops::mask_min;
  using decoder_ops::repeat_kv;
  StaticDecoderBuffers& d = *buffers_;
  const ModelConfig& c = model_.config();
  const int64_t Bb = d.rows, C = d.positions;
  const int64_t n_heads = c.num_attention_heads, n_kv = c.num_key_value_heads;
  const double scaling = 1.0 / std::sqrt(static_cast<double>(c.head_dim));
  torch::Tensor hidden = d.input.to(model_.activation_dtype_);
  d.key_mask.index_fill_(1, d.column, 1);
  auto [cos, sin] = model_.RopeTables(d.next_positions.view({Bb, 1}), hidden.scalar_type());
  torch::Tensor additive = torch::zeros({Bb, 1, 1, C}, hidden.options())
                               .masked_fill((d.key_mask == 0).view({Bb, 1, 1, C}), mask_min(hidden.scalar_type()));
  for (int64_t i = 0; i < model_.num_layers(); ++i) {
    const DecoderModel::Layer& l = model_.layers_[i];
    auto [q, k, v] = model_.BlockQkv(l, hidden, cos, sin);
    d.keys[i].index_copy_(2, d.column, k);
    d.values[i].index_copy_(2, d.column, v);
    torch::Tensor attn;
    if (model_.options_.fast_runtime) {
      attn = decoder_ops::grouped_attention(q, d.keys[i], d.values[i], additive, /*causal=*/false, scaling,
                                            /*sdpa=*/LIP_TORCH2);
    } else {
      torch::Tensor keys = repeat_kv(d.keys[i], n_heads / n_kv);
      torch::Tensor values = repeat_kv(d.values[i], n_heads / n_kv);
      torch::Tensor scores = torch::matmul(q, keys.transpose(2, 3)) * scaling + additive;
      attn = torch::matmul(torch::softmax(scores, -1, torch::kFloat32).to(q.scalar_type()), values);
    }
    hidden = model_.BlockOutput(l, hidden, attn, /*residual_is_scratch=*/i > 0);  // layer 0's is d.input
  }
  hidden = model_.Norm(hidden, model_.final_norm_);
  d.logits.copy_(model_.Logits(hidden).select(1, 0));
  d.column.add_(1);
  d.next_positions.add_(1);
}

torch::Tensor StaticDecodeSession::Step(const torch::Tensor& embeds) {
  StaticDecoderBuffers& d = *buffers_;
  TORCH_CHECK(embeds.dim() == 3 && embeds.size(0) == batch_ && embeds.size(1) == 1, "static decoder: embeds of shape ",
              embeds.sizes(), ", expected [", batch_, ",1,H]");
  TORCH_CHECK(loaded_length_ + steps_ < d.positions, "static decoder: all ", d.positions, " positions are used");
  torch::NoGradGuard no_grad;
  d.input.narrow(0, 0, batch_).copy_(embeds);
  ++steps_;
#if LIP_CUDA_GRAPHS
  if (model_.uses_cuda_graphs() && !d.stepped) {
    // The first step of a new decoder runs eagerly on the side stream the capture will use, so the
    // lazy set-up (cuBLAS handle and workspace of that stream, kernel choices) happens outside it.
    torch::cuda::synchronize();
    d.side_stream = c10::cuda::getStreamFromPool(/*isHighPriority=*/false, model_.device().index());
    {
      c10::cuda::CUDAStreamGuard guard(*d.side_stream);
      RunStep();
    }
    d.side_stream->synchronize();
    d.stepped = true;
    return d.logits.narrow(0, 0, batch_).clone();
  }
  if (model_.uses_cuda_graphs() && !d.capture_failed) {
    if (d.graph == nullptr) {
      // Captured on the side stream of the eager first step; the capture records this step
      // without running it, the replay below runs it.
      d.graph = CaptureCudaGraph(*d.side_stream, CudaGraphPool{0, 0}, /*eager_runs=*/0, [&] { RunStep(); });
      d.capture_failed = d.graph == nullptr;
    }
    if (d.graph != nullptr) {
      d.graph->replay();
      graph_replayed_ = true;
      return d.logits.narrow(0, 0, batch_).clone();
    }
  }
#endif
  RunStep();
  d.stepped = true;
  return d.logits.narrow(0, 0, batch_).clone();
}

}  // namespace lip
