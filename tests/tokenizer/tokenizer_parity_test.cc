// Parity with the Hugging Face `tokenizers` library (0.23) on the real tokenizer files of
// ../shared/models: every text of the ../shared/data test splits (hashes of ids and of the decoded
// text) plus hand-written hard cases and random id sequences (full ids and strings).
// Goldens: tests/data/tokenizers/golden/, made by tests/data/tokenizers/make_golden.py.
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "bridge/tokenizer/tokenizer.h"
#include "gtest/gtest.h"
#include "tests/tokenizer/golden_file.h"

namespace lip {
namespace {

const std::string kShared = LIP_SOURCE_DIR "/../shared";
const std::string kGolden = LIP_SOURCE_DIR "/tests/data/tokenizers/golden";

struct ParityCase {
  std::string model_dir;  // under ../shared/models
  std::string golden;     // golden file stem
};

std::string IdsToString(const std::vector<int32_t>& ids) { return absl::StrCat("[", absl::StrJoin(ids, ","), "]"); }

class TokenizerParityTest : public ::testing::TestWithParam<ParityCase> {
 protected:
  void SetUp() override {
    const std::string dir = kShared + "/models/" + GetParam().model_dir;
    if (!std::filesystem::exists(dir + "/tokenizer.json")) {
      GTEST_SKIP() << "SKIPPED: " << dir << "/tokenizer.json not found (the ../shared folder beside the "
                   << "repository is absent), so tokenizer parity with Hugging Face tokenizers is NOT checked";
    }
    auto tokenizer = Tokenizer::FromDirectory(dir);
    ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
    tokenizer_ = std::move(*tokenizer);
  }
  std::unique_ptr<Tokenizer> tokenizer_;
};

TEST_P(TokenizerParityTest, HardCasesAndDecodeCasesMatchExactly) {
  const auto records = ReadJsonLines(kGolden + "/" + GetParam().golden + ".hard.jsonl");
  ASSERT_FALSE(records.empty()) << "golden file missing for " << GetParam().golden;
  ASSERT_EQ(records[0].at("kind"), "header");
  EXPECT_EQ(tokenizer_->vocab_size(), records[0].at("vocab_size").get<int32_t>());

  int checked = 0, failed = 0;
  for (size_t r = 1; r < records.size(); ++r) {
    const auto& rec = records[r];
    const auto ids = rec.at("ids").get<std::vector<int32_t>>();
    std::vector<std::string> problems;
    if (rec.at("kind") != "decode") {
      const std::string text = rec.at("text").get<std::string>();
      auto with = tokenizer_->Encode(text, true);
      auto plain = tokenizer_->Encode(text, false);
      if (!with.ok() || *with != ids) {
        problems.push_back(absl::StrCat("encode: got ", with.ok() ? IdsToString(*with) : with.status().ToString(),
                                        " want ", IdsToString(ids)));
      }
      const auto want_plain = rec.at("ids_plain").get<std::vector<int32_t>>();
      if (!plain.ok() || *plain != want_plain) {
        problems.push_back(absl::StrCat("encode(no specials): got ",
                                        plain.ok() ? IdsToString(*plain) : plain.status().ToString(), " want ",
                                        IdsToString(want_plain)));
      }
    }
    auto decoded = tokenizer_->Decode(ids, true);
    auto decoded_special = tokenizer_->Decode(ids, false);
    if (!decoded.ok() || *decoded != rec.at("decoded").get<std::string>()) {
      problems.push_back(absl::StrCat("decode: got ", decoded.ok() ? *decoded : decoded.status().ToString(),
                                      " want ", rec.at("decoded").get<std::string>()));
    }
    if (!decoded_special.ok() || *decoded_special != rec.at("decoded_special").get<std::string>()) {
      problems.push_back(absl::StrCat("decode(keep specials): got ",
                                      decoded_special.ok() ? *decoded_special : decoded_special.status().ToString(),
                                      " want ", rec.at("decoded_special").get<std::string>()));
    }
    ++checked;
    if (!problems.empty()) {
      ++failed;
      ADD_FAILURE() << GetParam().golden << " record " << r << " " << rec.dump().substr(0, 300) << "\n  "
                    << absl::StrJoin(problems, "\n  ");
    }
  }
  std::cout << "[ parity ] " << GetParam().model_dir << ": hard/decode cases " << (checked - failed) << "/" << checked
            << " exact\n";
}

TEST_P(TokenizerParityTest, EveryDatasetTestTextMatches) {
  const auto golden = ReadGoldenHashes(kGolden + "/" + GetParam().golden + ".tsv");
  ASSERT_FALSE(golden.empty()) << "golden file missing for " << GetParam().golden;
  std::map<std::string, std::vector<std::string>> sets;
  for (const char* s : {"sst2", "ag_news", "trec"}) {
    sets[s] = ReadDatasetTexts(kShared + "/data/" + s + "/test.jsonl");
    ASSERT_FALSE(sets[s].empty()) << "dataset " << s << " missing under " << kShared;
  }
  std::map<std::string, std::pair<int, int>> encode_ok, decode_ok;  // set -> (ok, total)
  int reported = 0;
  for (const GoldenHashLine& g : golden) {
    ASSERT_LT(g.index, sets[g.set].size()) << g.set;
    const std::string& text = sets[g.set][g.index];
    auto ids = tokenizer_->Encode(text, true);
    ASSERT_TRUE(ids.ok()) << ids.status();
    const bool enc = ids->size() == g.num_ids && Fnv64Ids(*ids) == g.ids_hash;
    auto decoded = tokenizer_->Decode(*ids, true);
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    const bool dec = Fnv64(*decoded) == g.decoded_hash;
    encode_ok[g.set].first += enc;
    encode_ok[g.set].second += 1;
    decode_ok[g.set].first += dec;
    decode_ok[g.set].second += 1;
    if ((!enc || !dec) && reported++ < 5) {
      ADD_FAILURE() << GetParam().golden << " " << g.set << "[" << g.index << "] encode " << (enc ? "ok" : "DIFFERS")
                    << " (" << ids->size() << " ids, want " << g.num_ids << "), decode " << (dec ? "ok" : "DIFFERS")
                    << ": " << text.substr(0, 200);
    }
  }
  for (const auto& [set, counts] : encode_ok) {
    std::cout << "[ parity ] " << GetParam().model_dir << " " << set << ": encode " << counts.first << "/"
              << counts.second << ", decode " << decode_ok[set].first << "/" << decode_ok[set].second << "\n";
    EXPECT_EQ(counts.first, counts.second) << set;
    EXPECT_EQ(decode_ok[set].first, decode_ok[set].second) << set;
  }
}

INSTANTIATE_TEST_SUITE_P(
    RealTokenizers, TokenizerParityTest,
    ::testing::Values(ParityCase{"meta-llama--Llama-3.1-8B-Instruct", "meta-llama--Llama-3.1-8B-Instruct"},
                      ParityCase{"mistralai--Mistral-7B-v0.1", "mistralai--Mistral-7B-v0.1"},
                      ParityCase{"Qwen--Qwen2.5-0.5B-Instruct", "Qwen--Qwen2.5-0.5B-Instruct"},
                      // Same tokenizer.json as 0.5B (identical bytes), checked against the same goldens.
                      ParityCase{"Qwen--Qwen2.5-7B-Instruct", "Qwen--Qwen2.5-0.5B-Instruct"},
                      ParityCase{"TinyLlama--TinyLlama-1.1B-Chat-v1.0", "TinyLlama--TinyLlama-1.1B-Chat-v1.0"},
                      ParityCase{"microsoft--phi-2", "microsoft--phi-2"}),
    [](const ::testing::TestParamInfo<ParityCase>& info) {
      std::string name = info.param.model_dir;
      for (char& c : name) {
        if (!isalnum(static_cast<unsigned char>(c))) c = '_';
      }
      return name;
    });

// The demo models' own tokenizers (trained by demo/make_demo_models.py with `tokenizers`), checked
// against the tokenizer goldens engineer "demo" wrote beside the runtime goldens.
class DemoTokenizerParityTest : public ::testing::TestWithParam<std::string> {};

TEST_P(DemoTokenizerParityTest, MatchesTokenizersGoldens) {
  const std::string dir = LIP_SOURCE_DIR "/demo/models/" + GetParam();
  const std::string golden_path = LIP_SOURCE_DIR "/tests/data/demo-parity/" + GetParam() + ".json";
  if (!std::filesystem::exists(dir + "/tokenizer.json") || !std::filesystem::exists(golden_path)) {
    GTEST_SKIP() << "SKIPPED: " << dir << "/tokenizer.json or " << golden_path
                 << " not found; the demo tokenizer is NOT checked";
  }
  auto tokenizer = Tokenizer::FromDirectory(dir);
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  std::ifstream in(golden_path);
  const nlohmann::json golden = nlohmann::json::parse(in);
  int checked = 0;
  for (const char* section : {"tokenizer_cases", "cases"}) {
    for (const auto& c : golden.at(section)) {
      const std::string text = c.at("text").get<std::string>();
      const auto want = c.at("ids").get<std::vector<int32_t>>();
      auto ids = (*tokenizer)->Encode(text, true);
      ASSERT_TRUE(ids.ok()) << ids.status();
      EXPECT_EQ(IdsToString(*ids), IdsToString(want)) << GetParam() << " text: " << text;
      if (c.contains("decoded")) {
        EXPECT_EQ(*(*tokenizer)->Decode(want, false), c.at("decoded").get<std::string>()) << text;
        EXPECT_EQ(*(*tokenizer)->Decode(want, true), c.at("decoded_skip_special").get<std::string>()) << text;
      }
      ++checked;
    }
  }
  std::cout << "[ parity ] demo " << GetParam() << ": " << checked << " tokenizer cases checked\n";
  EXPECT_GT(checked, 0);
}

INSTANTIATE_TEST_SUITE_P(DemoTokenizers, DemoTokenizerParityTest,
                         ::testing::Values("sender-llama", "receiver-qwen2"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string name = info.param;
                           for (char& c : name) {
                             if (!isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return name;
                         });

}  // namespace
}  // namespace lip
