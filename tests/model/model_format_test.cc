// safetensors reader/writer, config.json parsing and checkpoint directories.
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "bridge/model/checkpoint_dir.h"
#include "bridge/model/model_config.h"
#include "bridge/model/safetensors.h"
#include "gtest/gtest.h"

namespace lip {
namespace {

const std::string kSource = LIP_SOURCE_DIR;
const std::string kFixtures = kSource + "/tests/data/models";
const std::string kShared = kSource + "/../shared/models";

std::string TempPath(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return std::string(dir ? dir : "/tmp") + "/lip_model_format_" + std::to_string(::getpid()) + "_" + name;
}

void WriteBytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out << bytes;
}

std::string ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A raw safetensors file from a header string and a data buffer.
std::string RawFile(const std::string& header, const std::string& data) {
  std::string out(8, '\0');
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return out + header + data;
}

TEST(SafetensorsTest, RoundTripsAllDtypesAndMetadata) {
  const std::string path = TempPath("roundtrip.safetensors");
  torch::Tensor f32 = torch::randn({3, 4});
  torch::Tensor bf16 = torch::randn({5}).to(torch::kBFloat16);
  torch::Tensor f16 = torch::randn({2, 2}).to(torch::kHalf);
  torch::Tensor i64 = torch::arange(7, torch::kInt64);
  torch::Tensor i32 = torch::arange(3, torch::kInt32);
  torch::Tensor u8 = torch::arange(9, torch::kUInt8).view({3, 3});
  torch::Tensor empty = torch::zeros({0, 4});
  ASSERT_TRUE(WriteSafetensors(path,
                               {{"f32", f32}, {"bf16", bf16}, {"f16", f16}, {"i64", i64},
                                {"i32", i32}, {"u8", u8}, {"empty", empty}, {"t_noncontig", f32.t()}},
                               {{"format", "pt"}, {"lip", "bridge"}})
                  .ok());
  auto file = SafetensorsFile::Open(path);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ((*file)->metadata().at("lip"), "bridge");
  EXPECT_EQ((*file)->names().size(), 8u);
  EXPECT_EQ((*file)->names()[0], "f32");  // file order
  auto check = [&](const std::string& name, const torch::Tensor& expected) {
    auto t = (*file)->Tensor(name);
    ASSERT_TRUE(t.ok()) << t.status();
    EXPECT_EQ(t->scalar_type(), expected.scalar_type()) << name;
    EXPECT_EQ(t->sizes(), expected.sizes()) << name;
    EXPECT_TRUE(torch::equal(*t, expected.contiguous())) << name;
  };
  check("f32", f32);
  check("bf16", bf16);
  check("f16", f16);
  check("i64", i64);
  check("i32", i32);
  check("u8", u8);
  check("empty", empty);
  check("t_noncontig", f32.t());
  auto entry = (*file)->Entry("bf16");
  ASSERT_TRUE(entry.ok());
  EXPECT_EQ(entry->dtype_name, "BF16");
  EXPECT_EQ(entry->end - entry->begin, 10u);
  EXPECT_EQ((*file)->Tensor("nope").status().code(), absl::StatusCode::kNotFound);
  std::remove(path.c_str());
}

TEST(SafetensorsTest, TensorsAreViewsThatOutliveTheFileObjectAndNeverWriteBack) {
  const std::string path = TempPath("view.safetensors");
  torch::Tensor w = torch::arange(16, torch::kFloat32);
  ASSERT_TRUE(WriteSafetensors(path, {{"w", w}}).ok());
  const std::string before = ReadBytes(path);
  torch::Tensor view;
  {
    auto file = SafetensorsFile::Open(path);
    ASSERT_TRUE(file.ok());
    auto a = (*file)->Tensor("w");
    auto b = (*file)->Tensor("w");
    ASSERT_TRUE(a.ok() && b.ok());
    // Two lookups share the same mapped bytes: no copy was made.
    EXPECT_EQ(a->data_ptr(), b->data_ptr());
    view = *a;
  }  // file object destroyed; the view keeps the mapping alive
  EXPECT_TRUE(torch::equal(view, w));
  view.mul_(2);  // copy-on-write: the file on disk is unchanged
  EXPECT_EQ(ReadBytes(path), before);
  std::remove(path.c_str());
}

TEST(SafetensorsTest, RejectsCorruptFilesWithClearErrors) {
  const std::string path = TempPath("bad.safetensors");
  struct Case {
    std::string bytes;
    std::string expect_in_message;
  };
  const std::string good_header = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  const std::vector<Case> cases = {
      {"abc", "too short"},
      {RawFile(good_header, "1234"), "outside"},  // data truncated
      {std::string("\xff\xff\xff\xff\x00\x00\x00\x00", 8) + "{}", "exceeds"},
      {RawFile("{not json", ""), "not a JSON object"},
      {RawFile(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", "12345678"), "expected numel"},
      {RawFile(R"({"a":{"dtype":"Q4","shape":[2],"data_offsets":[0,8]}})", "12345678"), "unknown safetensors dtype"},
      {RawFile(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
               "12345678"),
       "overlap"},
      {RawFile(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", "12345678"), "non-negative"},
      {RawFile(R"({"a":{"dtype":"F32","shape":[2]}})", "12345678"), "data_offsets"},
  };
  for (const Case& c : cases) {
    WriteBytes(path, c.bytes);
    auto file = SafetensorsFile::Open(path);
    ASSERT_FALSE(file.ok()) << c.expect_in_message;
    EXPECT_NE(file.status().message().find(c.expect_in_message), std::string::npos)
        << "got: " << file.status().message();
  }
  EXPECT_EQ(SafetensorsFile::Open(TempPath("missing")).status().code(), absl::StatusCode::kNotFound);
  std::remove(path.c_str());
}

TEST(SafetensorsTest, WriterRejectsBadNames) {
  const std::string path = TempPath("names.safetensors");
  EXPECT_FALSE(WriteSafetensors(path, {{"", torch::ones({1})}}).ok());
  EXPECT_FALSE(WriteSafetensors(path, {{"a", torch::ones({1})}, {"a", torch::ones({1})}}).ok());
  EXPECT_FALSE(WriteSafetensors(path, {{"__metadata__", torch::ones({1})}}).ok());
  EXPECT_FALSE(WriteSafetensors(path, {{"c", torch::ones({1}, torch::kComplexFloat)}}).ok());
}

TEST(ModelConfigTest, ParsesTransformers5Fixtures) {
  auto llama3 = ReadModelConfig(kFixtures + "/llama3_mqa/config.json");
  ASSERT_TRUE(llama3.ok()) << llama3.status();
  EXPECT_EQ(llama3->rope.type, "llama3");
  EXPECT_EQ(llama3->rope.theta, 500000.0);
  EXPECT_EQ(llama3->rope.original_max_position_embeddings, 16);
  EXPECT_EQ(llama3->head_dim, 16);
  EXPECT_EQ(llama3->hidden_size, 48);
  EXPECT_EQ(llama3->num_key_value_heads, 1);
  EXPECT_TRUE(llama3->attention_bias);
  EXPECT_TRUE(llama3->mlp_bias);
  EXPECT_EQ(llama3->eos_token_ids, (std::vector<int64_t>{2, 3}));

  auto mistral = ReadModelConfig(kFixtures + "/mistral_sw/config.json");
  ASSERT_TRUE(mistral.ok()) << mistral.status();
  EXPECT_EQ(mistral->layer_sliding_window, (std::vector<int64_t>{6, 6}));

  auto qwen = ReadModelConfig(kFixtures + "/qwen2_tied/config.json");
  ASSERT_TRUE(qwen.ok()) << qwen.status();
  EXPECT_TRUE(qwen->qkv_bias);
  EXPECT_TRUE(qwen->tie_word_embeddings);
  EXPECT_EQ(qwen->rms_norm_eps, 1e-6);
  EXPECT_EQ(qwen->rope.theta, 1e6);
  EXPECT_EQ(qwen->layer_sliding_window, (std::vector<int64_t>{0, 0}));
}

TEST(ModelConfigTest, ParsesRealClassicConfigs) {
  auto llama = ReadModelConfig(kShared + "/meta-llama--Llama-3.1-8B-Instruct/config.json");
  if (!llama.ok() && llama.status().code() == absl::StatusCode::kNotFound) GTEST_SKIP() << "../shared absent";
  ASSERT_TRUE(llama.ok()) << llama.status();
  EXPECT_EQ(llama->rope.type, "llama3");
  EXPECT_EQ(llama->rope.factor, 8.0);
  EXPECT_EQ(llama->rope.original_max_position_embeddings, 8192);
  EXPECT_EQ(llama->num_key_value_heads, 8);
  EXPECT_EQ(llama->head_dim, 128);
  EXPECT_EQ(llama->eos_token_ids, (std::vector<int64_t>{128001, 128008, 128009}));

  auto mistral = ReadModelConfig(kShared + "/mistralai--Mistral-7B-v0.1/config.json");
  ASSERT_TRUE(mistral.ok()) << mistral.status();
  EXPECT_EQ(mistral->layer_sliding_window[0], 4096);

  auto qwen = ReadModelConfig(kShared + "/Qwen--Qwen2.5-0.5B-Instruct/config.json");
  ASSERT_TRUE(qwen.ok()) << qwen.status();
  EXPECT_TRUE(qwen->tie_word_embeddings);
  EXPECT_TRUE(qwen->qkv_bias);
  EXPECT_EQ(qwen->layer_sliding_window[0], 0);  // use_sliding_window: false

  auto tiny = ReadModelConfig(kShared + "/TinyLlama--TinyLlama-1.1B-Chat-v1.0/config.json");
  ASSERT_TRUE(tiny.ok()) << tiny.status();
  EXPECT_EQ(tiny->num_key_value_heads, 4);

  auto phi = ReadModelConfig(kShared + "/microsoft--phi-2/config.json");
  EXPECT_EQ(phi.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_NE(phi.status().message().find("phi"), std::string::npos);
}

TEST(ModelConfigTest, RefusesUnsupportedOrInvalidConfigs) {
  const std::string base =
      R"("vocab_size":10,"hidden_size":8,"intermediate_size":16,"num_hidden_layers":1,"num_attention_heads":2)";
  EXPECT_TRUE(ParseModelConfig(R"({"model_type":"llama",)" + base + "}").ok());
  auto yarn = ParseModelConfig(R"({"model_type":"llama",)" + base +
                               R"(,"rope_scaling":{"rope_type":"yarn","factor":4.0}})");
  EXPECT_EQ(yarn.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_NE(yarn.status().message().find("yarn"), std::string::npos);
  EXPECT_EQ(ParseModelConfig(R"({"model_type":"gpt2",)" + base + "}").status().code(),
            absl::StatusCode::kUnimplemented);
  auto gqa = ParseModelConfig(R"({"model_type":"llama",)" + base + R"(,"num_key_value_heads":3})");
  EXPECT_EQ(gqa.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(gqa.status().message().find("num_key_value_heads 3"), std::string::npos);
  EXPECT_EQ(ParseModelConfig(R"({"model_type":"llama","hidden_size":8})").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseModelConfig("[1,2]").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseModelConfig(R"({"model_type":"llama",)" + base + R"(,"hidden_act":"gelu"})").status().code(),
            absl::StatusCode::kUnimplemented);
}

TEST(CheckpointDirTest, OpensSingleAndShardedCheckpoints) {
  auto single = CheckpointDir::Open(kFixtures + "/llama_gqa");
  ASSERT_TRUE(single.ok()) << single.status();
  EXPECT_EQ((*single)->shard_paths().size(), 1u);
  EXPECT_TRUE((*single)->Contains("lm_head.weight"));
  EXPECT_EQ((*single)->generation().pad_token_id, 0);
  EXPECT_EQ((*single)->generation().eos_token_ids, (std::vector<int64_t>{2}));  // from config.json

  auto sharded = CheckpointDir::Open(kFixtures + "/llama3_mqa");
  ASSERT_TRUE(sharded.ok()) << sharded.status();
  EXPECT_EQ((*sharded)->shard_paths().size(), 4u);
  auto w = (*sharded)->Tensor("model.layers.1.mlp.down_proj.weight");
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ(w->sizes(), torch::IntArrayRef({48, 96}));
  EXPECT_EQ((*sharded)->Tensor("model.layers.9.mlp.down_proj.weight").status().code(),
            absl::StatusCode::kNotFound);

  EXPECT_EQ(CheckpointDir::Open(kFixtures + "/does_not_exist").status().code(), absl::StatusCode::kNotFound);
}

TEST(CheckpointDirTest, ParsesGenerationConfig) {
  GenerationDefaults d;
  auto g = ParseGenerationConfig(R"({"eos_token_id":[128001,128009],"do_sample":true,"temperature":0.6,"top_p":0.9})", d);
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->eos_token_ids, (std::vector<int64_t>{128001, 128009}));
  EXPECT_TRUE(g->do_sample);
  EXPECT_DOUBLE_EQ(g->temperature, 0.6);
  EXPECT_FALSE(ParseGenerationConfig("nope", d).ok());
}

}  // namespace
}  // namespace lip
