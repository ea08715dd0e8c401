// Behaviour of the tokenizer pipeline pieces and the Tokenizer contract: hand-checked regex splits,
// a small hand-written tokenizer.json (byte fallback, Metaspace, added tokens), refusals of
// unsupported components, error handling, special ids from side files, round trips and concurrent use
// (tokenizer.model: sentencepiece_tokenizer_test.cc). Tests that need the real files in ../shared skip
// loudly without them.
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "bridge/tokenizer/json_tokenizer.h"
#include "bridge/tokenizer/split_pattern.h"
#include "bridge/tokenizer/tokenizer.h"
#include "bridge/tokenizer/unicode_text.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/tokenizer/golden_file.h"

namespace lip {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

const std::string kShared = LIP_SOURCE_DIR "/../shared";

std::vector<std::string> Pieces(const SplitPattern& pattern, std::string_view text) {
  std::vector<std::string> out;
  for (const auto& [b, e] : pattern.FindMatches(text)) out.emplace_back(text.substr(b, e - b));
  return out;
}

TEST(SplitPatternTest, Llama3RegexSplitsLikeTiktoken) {
  auto p = SplitPattern::FromRegex(kLlama3SplitRegex);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_THAT(Pieces(**p, "Hello  world\n\n 123456"),
              ElementsAre("Hello", " ", " world", "\n\n", " ", "123", "456"));
  EXPECT_THAT(Pieces(**p, "I'M here, ok?!\n"), ElementsAre("I", "'M", " here", ",", " ok", "?!\n"));
  EXPECT_THAT(Pieces(**p, "a   "), ElementsAre("a", "   "));
}

TEST(SplitPatternTest, Qwen2RegexTakesOneDigitAtATime) {
  auto p = SplitPattern::FromRegex(kQwen2SplitRegex);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_THAT(Pieces(**p, "x=2024"), ElementsAre("x", "=", "2", "0", "2", "4"));
  EXPECT_THAT(Pieces(**p, "\u4f60\u597d \u4e16\u754c"), ElementsAre("\u4f60\u597d", " \u4e16\u754c"));
}

TEST(SplitPatternTest, Gpt2RegexIsCaseSensitiveForContractions) {
  auto p = SplitPattern::FromRegex(kGpt2SplitRegex);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_THAT(Pieces(**p, "it's IT'S 42x"), ElementsAre("it", "'s", " IT", "'", "S", " 42", "x"));
}

TEST(SplitPatternTest, UnknownRegexIsRefusedByName) {
  auto p = SplitPattern::FromRegex("\\w+|[^\\w\\s]+");
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(std::string(p.status().message()), HasSubstr("\\w+|[^\\w\\s]+"));
}

// A small sentencepiece-style tokenizer: Metaspace, BPE with byte fallback, <s> template.
nlohmann::json TinySentencePieceStyle() {
  nlohmann::json vocab = {{"<unk>", 0}, {"<s>", 1}, {"</s>", 2}};
  for (int b = 0; b < 256; ++b) {
    char name[8];
    snprintf(name, sizeof name, "<0x%02X>", b);
    vocab[name] = 3 + b;
  }
  int next = 259;
  for (const char* t : {"\u2581", "a", "b", "c", "ab", "\u2581ab", "abc", "\u2581abc"}) vocab[t] = next++;
  return {
      {"version", "1.0"},
      {"truncation", nullptr},
      {"padding", nullptr},
      {"added_tokens",
       {{{"id", 0}, {"content", "<unk>"}, {"special", true}, {"normalized", false}},
        {{"id", 1}, {"content", "<s>"}, {"special", true}, {"normalized", false}},
        {{"id", 2}, {"content", "</s>"}, {"special", true}, {"normalized", false}}}},
      {"normalizer", nullptr},
      {"pre_tokenizer", {{"type", "Metaspace"}, {"replacement", "\u2581"}, {"prepend_scheme", "first"}, {"split", false}}},
      {"post_processor",
       {{"type", "TemplateProcessing"},
        {"single", {{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}}, {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}},
        {"special_tokens", {{"<s>", {{"id", "<s>"}, {"ids", {1}}, {"tokens", {"<s>"}}}}}}}},
      {"decoder",
       {{"type", "Sequence"},
        {"decoders",
         {{{"type", "Replace"}, {"pattern", {{"String", "\u2581"}}}, {"content", " "}},
          {{"type", "ByteFallback"}},
          {{"type", "Fuse"}},
          {{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}}}}}},
      {"model",
       {{"type", "BPE"},
        {"unk_token", "<unk>"},
        {"fuse_unk", true},
        {"byte_fallback", true},
        {"vocab", vocab},
        {"merges", {"a b", "\u2581 ab", "ab c", "\u2581ab c"}}}}};
}

std::unique_ptr<JsonTokenizer> Build(const nlohmann::json& spec) {
  auto t = JsonTokenizer::FromJsonText(spec.dump(), "test tokenizer.json");
  EXPECT_TRUE(t.ok()) << t.status();
  return t.ok() ? std::move(*t) : nullptr;
}

TEST(JsonTokenizerTest, MergesByRankWithByteFallbackAndSpecialTokens) {
  auto t = Build(TinySentencePieceStyle());
  ASSERT_NE(t, nullptr);
  // "abc ab" -> "▁abc▁ab": merges a+b, ▁+ab, then ▁ab+c.
  EXPECT_THAT(*t->Encode("abc ab"), ElementsAre(1, 266, 264));
  // "é" (C3 A9) is not in the vocabulary: byte fallback.
  EXPECT_THAT(*t->Encode("\xC3\xA9", false), ElementsAre(259, 3 + 0xC3, 3 + 0xA9));
  // Special-token text is cut out first; the piece after it does not get a prefix "▁".
  EXPECT_THAT(*t->Encode("ab</s>ab", false), ElementsAre(264, 2, 263));
  EXPECT_EQ(*t->Decode({1, 266, 264, 2}), "abc ab");
  // As in tokenizers: the Strip decoder removes one leading space of the fused text, and "<s>" comes first.
  EXPECT_EQ(*t->Decode({1, 266, 264, 2}, false), "<s> abc ab</s>");
  EXPECT_EQ(*t->Decode({3 + 0xC3, 3 + 0xA9}), "\xC3\xA9");
  EXPECT_EQ(*t->Decode({3 + 0xC3}), "\xEF\xBF\xBD");  // cut UTF-8 -> U+FFFD per byte
  EXPECT_EQ(t->vocab_size(), 3 + 256 + 8);
  EXPECT_EQ(t->TokenToId("\u2581abc"), 266);
  EXPECT_EQ(t->IdToToken(2), "</s>");
  EXPECT_EQ(t->IdToToken(9999), std::nullopt);
  EXPECT_THAT(t->TemplatePrefixIds(), ElementsAre(1));
}

TEST(JsonTokenizerTest, InvalidUtf8IsRefusedNotGuessed) {
  auto t = Build(TinySentencePieceStyle());
  ASSERT_NE(t, nullptr);
  for (std::string bad : {std::string("a\xFF"), std::string("\xC3"), std::string("\xED\xA0\x80"),  // surrogate
                          std::string("\xC0\xAF")}) {                                            // overlong
    auto ids = t->Encode(bad);
    ASSERT_FALSE(ids.ok());
    EXPECT_EQ(ids.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(ids.status().message()), HasSubstr("UTF-8"));
  }
  EXPECT_TRUE(t->Encode("").ok());
  EXPECT_TRUE(t->Encode("").value().size() == 1);  // just <s>
}

TEST(JsonTokenizerTest, UnknownIdsAreAnErrorInDecode) {
  auto t = Build(TinySentencePieceStyle());
  ASSERT_NE(t, nullptr);
  for (int32_t bad : {-1, 267, 1 << 30}) {
    auto text = t->Decode({264, bad});
    ASSERT_FALSE(text.ok());
    EXPECT_EQ(text.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(text.status().message()), HasSubstr(std::to_string(bad)));
  }
}

TEST(JsonTokenizerTest, UnsupportedComponentsAreRefusedByName) {
  struct Case {
    const char* key;
    nlohmann::json value;
    absl::StatusCode code;
    const char* name;
  };
  const std::vector<Case> cases = {
      {"normalizer", {{"type", "BertNormalizer"}}, absl::StatusCode::kUnimplemented, "BertNormalizer"},
      {"normalizer", {{"type", "Replace"}, {"pattern", {{"Regex", " {2,}"}}}, {"content", " "}},
       absl::StatusCode::kUnimplemented, " {2,}"},
      {"pre_tokenizer", {{"type", "BertPreTokenizer"}}, absl::StatusCode::kUnimplemented, "BertPreTokenizer"},
      {"pre_tokenizer", {{"type", "Split"}, {"pattern", {{"Regex", "\\d+"}}}, {"behavior", "Isolated"}},
       absl::StatusCode::kUnimplemented, "\\d+"},
      {"pre_tokenizer", {{"type", "Split"}, {"pattern", {{"String", " "}}}, {"behavior", "Sideways"}},
       absl::StatusCode::kInvalidArgument, "Sideways"},
      {"post_processor", {{"type", "FancyProcessing"}}, absl::StatusCode::kUnimplemented, "FancyProcessing"},
      {"decoder", {{"type", "WordPiece"}}, absl::StatusCode::kUnimplemented, "WordPiece"},
      {"truncation", {{"max_length", 8}}, absl::StatusCode::kUnimplemented, "truncation"},
  };
  for (const Case& c : cases) {
    nlohmann::json spec = TinySentencePieceStyle();
    spec[c.key] = c.value;
    auto t = JsonTokenizer::FromJsonText(spec.dump(), "x.json");
    ASSERT_FALSE(t.ok()) << c.key << " " << c.value.dump();
    EXPECT_EQ(t.status().code(), c.code) << t.status();
    EXPECT_THAT(std::string(t.status().message()), HasSubstr(c.name));
  }
  nlohmann::json spec = TinySentencePieceStyle();
  spec["model"]["type"] = "Unigram";
  EXPECT_EQ(JsonTokenizer::FromJsonText(spec.dump(), "x.json").status().code(), absl::StatusCode::kUnimplemented);
  spec = TinySentencePieceStyle();
  spec["model"]["merges"].push_back("zz q");
  auto bad_merge = JsonTokenizer::FromJsonText(spec.dump(), "x.json");
  EXPECT_EQ(bad_merge.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad_merge.status().message()), HasSubstr("zz"));
  EXPECT_EQ(JsonTokenizer::FromJsonText("{not json", "x.json").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(JsonTokenizerTest, MergesInPairFormAreAccepted) {
  nlohmann::json spec = TinySentencePieceStyle();
  using J = nlohmann::json;
  spec["model"]["merges"] = J::array({J::array({"a", "b"}), J::array({"\u2581", "ab"}), J::array({"ab", "c"}),
                                      J::array({"\u2581ab", "c"})});
  auto t = Build(spec);
  ASSERT_NE(t, nullptr);
  EXPECT_THAT(*t->Encode("abc ab"), ElementsAre(1, 266, 264));
}

TEST(TokenizerTest, FromDirectoryWithoutTokenizerFilesIsNotFound) {
  const auto dir = std::filesystem::temp_directory_path() / "lip_tokenizer_empty_dir_test";
  std::filesystem::create_directories(dir);
  auto t = Tokenizer::FromDirectory(dir.string());
  EXPECT_EQ(t.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(t.status().message()), HasSubstr(dir.string()));
  EXPECT_EQ(Tokenizer::FromTokenizerJson((dir / "nope.json").string()).status().code(), absl::StatusCode::kNotFound);
}

// --- Tests on the real tokenizer files -------------------------------------------------------

std::unique_ptr<Tokenizer> LoadShared(const std::string& model) {
  auto t = Tokenizer::FromDirectory(kShared + "/models/" + model);
  EXPECT_TRUE(t.ok()) << t.status();
  return t.ok() ? std::move(*t) : nullptr;
}

#define SKIP_WITHOUT_SHARED()                                                                          \
  if (!std::filesystem::exists(kShared + "/models")) {                                                 \
    GTEST_SKIP() << "SKIPPED: " << kShared << "/models not found (../shared beside the repository is " \
                 << "absent); this test needs the real tokenizer files";                               \
  }

TEST(RealTokenizerTest, SpecialIdsComeFromTemplateAndSideFiles) {
  SKIP_WITHOUT_SHARED();
  struct Want {
    const char* model;
    std::optional<int32_t> bos;
    std::vector<int32_t> eos;
  };
  for (const Want& w : std::vector<Want>{
           {"meta-llama--Llama-3.1-8B-Instruct", 128000, {128001, 128008, 128009}},
           {"mistralai--Mistral-7B-v0.1", 1, {2}},
           {"Qwen--Qwen2.5-0.5B-Instruct", std::nullopt, {151645, 151643}},  // adds no BOS
           {"TinyLlama--TinyLlama-1.1B-Chat-v1.0", 1, {2}},
           {"microsoft--phi-2", std::nullopt, {50256}},  // adds no BOS either
       }) {
    auto t = LoadShared(w.model);
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(t->bos_id(), w.bos) << w.model;
    EXPECT_EQ(t->eos_ids(), w.eos) << w.model;
    // bos_id() is exactly what Encode puts in front.
    auto ids = t->Encode("x", true);
    auto plain = t->Encode("x", false);
    ASSERT_TRUE(ids.ok() && plain.ok());
    EXPECT_EQ(ids->size() - plain->size(), w.bos ? 1u : 0u) << w.model;
    if (w.bos) EXPECT_EQ(ids->front(), *w.bos) << w.model;
  }
}

TEST(RealTokenizerTest, ByteLevelTokenizersRoundTripText) {
  SKIP_WITHOUT_SHARED();
  const std::vector<std::string> texts = {
      "", "  two  spaces\tand\ttabs\r\n", "emoji \U0001F468\u200D\U0001F469\u200D\U0001F467 ok",
      "<|endoftext|> <|im_start|> <s>", "\u00e9\u0301 combining", "12345678901234567890"};
  for (const char* model : {"meta-llama--Llama-3.1-8B-Instruct", "microsoft--phi-2", "Qwen--Qwen2.5-0.5B-Instruct"}) {
    auto t = LoadShared(model);
    ASSERT_NE(t, nullptr);
    for (const std::string& text : texts) {
      auto ids = t->Encode(text, false);
      ASSERT_TRUE(ids.ok()) << ids.status();
      auto back = t->Decode(*ids, false);
      ASSERT_TRUE(back.ok()) << back.status();
      EXPECT_EQ(*back, text) << model;  // (all texts here are already NFC, so Qwen's NFC changes nothing)
    }
  }
}

// Random valid UTF-8 (any code point but surrogates, long whitespace and digit runs): never an
// error, and byte-level BPE gives the text back exactly.
TEST(RealTokenizerTest, RandomTextNeverFailsAndByteLevelRoundTrips) {
  SKIP_WITHOUT_SHARED();
  auto llama = LoadShared("meta-llama--Llama-3.1-8B-Instruct");
  auto mistral = LoadShared("mistralai--Mistral-7B-v0.1");
  ASSERT_NE(llama, nullptr);
  ASSERT_NE(mistral, nullptr);
  std::mt19937 rng(4);
  const std::vector<std::pair<char32_t, char32_t>> ranges = {
      {0x20, 0x7E}, {0x09, 0x0D}, {0x00, 0x1F}, {0x300, 0x36F}, {0x4E00, 0x9FFF},
      {0x1F300, 0x1FAFF}, {0xE000, 0xF8FF}, {0x10000, 0x10FFFF}, {0x200B, 0x200D}, {0x30, 0x39}};
  for (int round = 0; round < 300; ++round) {
    std::string text;
    const int length = round == 0 ? 0 : static_cast<int>(rng() % 64);
    for (int k = 0; k < length; ++k) {
      const auto& [lo, hi] = ranges[rng() % ranges.size()];
      const char32_t cp = lo + rng() % (hi - lo + 1);
      const int repeat = rng() % 8 == 0 ? 1 + rng() % 40 : 1;
      for (int r = 0; r < repeat; ++r) {
        AppendUtf8(cp, &text);  // no surrogates in the ranges above
      }
    }
    auto ids = llama->Encode(text, false);
    ASSERT_TRUE(ids.ok()) << ids.status();
    auto back = llama->Decode(*ids, false);
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(*back, text) << "round " << round;
    auto sp_ids = mistral->Encode(text);
    ASSERT_TRUE(sp_ids.ok()) << sp_ids.status();
    EXPECT_TRUE(mistral->Decode(*sp_ids).ok());
  }
}

TEST(RealTokenizerTest, ConcurrentEncodeAndDecodeGiveTheSequentialResults) {
  SKIP_WITHOUT_SHARED();
  auto t = LoadShared("meta-llama--Llama-3.1-8B-Instruct");
  ASSERT_NE(t, nullptr);
  const std::vector<std::string> texts = ReadDatasetTexts(kShared + "/data/sst2/test.jsonl");
  std::vector<std::vector<int32_t>> expected;
  for (const auto& text : texts) expected.push_back(*t->Encode(text));
  std::vector<int> mismatches(8, 0);
  std::vector<std::thread> threads;
  for (int w = 0; w < 8; ++w) {
    threads.emplace_back([&, w] {
      for (size_t i = w; i < texts.size(); i += 3) {
        auto ids = t->Encode(texts[i]);
        auto back = t->Decode(*ids);
        if (!ids.ok() || *ids != expected[i] || !back.ok() || *back != texts[i]) ++mismatches[w];
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int w = 0; w < 8; ++w) EXPECT_EQ(mismatches[w], 0) << "thread " << w;
}

}  // namespace
}  // namespace lip
