// Throughput of the LIP v1 packet codec (common/wire/packet_codec.h) on typical
// soft-token shapes: build (quantize + checksum + validate), serialize,
// decode (parse + validate + dequantize), and the CRC32C / fp16 kernels.
// Arguments: dtype (1 fp32, 2 fp16, 3 bf16, 4 int8), M, d. Bytes/s counts the
// fp32 tensor (M*d*4); the wire_bytes counter is the serialized packet size.
//   ./build/benchmarks/packet_codec_benchmark --benchmark_filter=Decode
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "common/wire/crc32c.h"
#include "common/wire/half_float.h"
#include "common/wire/packet_codec.h"

namespace lip {
namespace {

std::vector<float> Values(int rows, int cols) {
  std::vector<float> v(static_cast<size_t>(rows) * cols);
  uint32_t state = 1;
  for (float& x : v) {
    state = state * 1664525u + 1013904223u;
    x = (static_cast<float>(state >> 8) * 0x1p-24f - 0.5f) * 6.0f;
  }
  return v;
}

PacketMetadata Metadata() {
  PacketMetadata meta;
  meta.packet_id = std::string(16, 'x');
  meta.created_unix_nanos = 1;
  meta.sender_model.set_name("bench-sender");
  meta.bridge.set_name("bench-bridge");
  meta.task.mutable_classify()->add_labels("a");
  meta.task.mutable_classify()->add_labels("b");
  return meta;
}

void ShapeArgs(benchmark::internal::Benchmark* b) {
  for (int dtype = 1; dtype <= 4; ++dtype) {
    b->Args({dtype, 8, 512});
    b->Args({dtype, 32, 4096});
  }
}

void BM_BuildPacket(benchmark::State& state) {
  const auto dtype = static_cast<lip::v1::DType>(state.range(0));
  const int rows = static_cast<int>(state.range(1)), cols = static_cast<int>(state.range(2));
  const std::vector<float> values = Values(rows, cols);
  const PacketMetadata meta = Metadata();
  size_t wire = 0;
  for (auto _ : state) {
    absl::StatusOr<lip::v1::LipPacket> packet = BuildPacket(meta, values, rows, cols, dtype);
    if (!packet.ok()) state.SkipWithError("BuildPacket failed");
    wire = packet->ByteSizeLong();
    benchmark::DoNotOptimize(packet);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * rows * cols * 4);
  state.counters["wire_bytes"] = static_cast<double>(wire);
  state.SetLabel(DTypeName(dtype));
}
BENCHMARK(BM_BuildPacket)->Apply(ShapeArgs);

void BM_SerializePacket(benchmark::State& state) {
  const auto dtype = static_cast<lip::v1::DType>(state.range(0));
  const int rows = static_cast<int>(state.range(1)), cols = static_cast<int>(state.range(2));
  const std::vector<float> values = Values(rows, cols);
  const lip::v1::LipPacket packet = *BuildPacket(Metadata(), values, rows, cols, dtype);
  for (auto _ : state) benchmark::DoNotOptimize(SerializePacket(packet));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * rows * cols * 4);
  state.SetLabel(DTypeName(dtype));
}
BENCHMARK(BM_SerializePacket)->Apply(ShapeArgs);

void BM_DecodePacket(benchmark::State& state) {
  const auto dtype = static_cast<lip::v1::DType>(state.range(0));
  const int rows = static_cast<int>(state.range(1)), cols = static_cast<int>(state.range(2));
  const std::vector<float> values = Values(rows, cols);
  const std::string wire = SerializePacket(*BuildPacket(Metadata(), values, rows, cols, dtype));
  for (auto _ : state) {
    absl::StatusOr<DecodedPacket> decoded = DecodePacket(wire);
    if (!decoded.ok()) state.SkipWithError("DecodePacket failed");
    benchmark::DoNotOptimize(decoded);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * rows * cols * 4);
  state.counters["wire_bytes"] = static_cast<double>(wire.size());
  state.SetLabel(DTypeName(dtype));
}
BENCHMARK(BM_DecodePacket)->Apply(ShapeArgs);

void BM_Crc32c(benchmark::State& state) {
  const std::string data(static_cast<size_t>(state.range(0)), 'z');
  for (auto _ : state) benchmark::DoNotOptimize(Crc32c(data));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_Crc32c)->Arg(8 * 512 * 2)->Arg(1 << 20);

void BM_FloatsToHalf(benchmark::State& state) {
  const std::vector<float> values = Values(1, static_cast<int>(state.range(0)));
  std::vector<unsigned char> out(values.size() * 2);
  for (auto _ : state) {
    FloatsToHalfBytes(values.data(), values.size(), out.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0) * 4);
}
BENCHMARK(BM_FloatsToHalf)->Arg(8 * 512);

}  // namespace
}  // namespace lip
