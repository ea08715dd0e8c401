// Tokenizer factories: pick the file, build the pipeline, then complete BOS/EOS from side files.
#include "bridge/tokenizer/tokenizer.h"

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "bridge/tokenizer/json_tokenizer.h"
#include "bridge/tokenizer/sentencepiece_tokenizer.h"
#include "nlohmann/json.hpp"

namespace lip {

// Fills Tokenizer::bos_id_/eos_ids_ (it is the class's friend).
class TokenizerSpecialIds {
 public:
  static void FromTemplate(const JsonTokenizer& json, Tokenizer* t) {
    std::vector<int32_t> prefix = json.TemplatePrefixIds();
    if (!prefix.empty()) t->bos_id_ = prefix.front();
    for (int32_t id : json.TemplateSuffixIds()) AddEos(id, t);
  }

  // tokenizer_config.json: bos_token / eos_token as "text" or {"content": "text"}; BOS only when it
  // also says add_bos_token: true. generation_config.json: eos_token_id as an int or a list of ints.
  static void FromSideFiles(const std::filesystem::path& dir, Tokenizer* t) {
    const nlohmann::json tokenizer_config = ReadJson(dir / "tokenizer_config.json");
    const nlohmann::json generation_config = ReadJson(dir / "generation_config.json");
    std::vector<int32_t> eos;
    for (int32_t id : IdList(generation_config, "eos_token_id")) eos.push_back(id);
    if (auto id = TokenIdOf(tokenizer_config, "eos_token", *t)) eos.push_back(*id);
    for (int32_t id : t->eos_ids_) eos.push_back(id);
    t->eos_ids_.clear();
    for (int32_t id : eos) AddEos(id, t);
    const bool add_bos = tokenizer_config.is_object() && tokenizer_config.contains("add_bos_token") &&
                         tokenizer_config["add_bos_token"].is_boolean() &&
                         tokenizer_config["add_bos_token"].get<bool>();
    if (!t->bos_id_ && add_bos) t->bos_id_ = TokenIdOf(tokenizer_config, "bos_token", *t);
  }

 private:
  static void AddEos(int32_t id, Tokenizer* t) {
    if (std::find(t->eos_ids_.begin(), t->eos_ids_.end(), id) == t->eos_ids_.end()) t->eos_ids_.push_back(id);
  }

  static nlohmann::json ReadJson(const std::filesystem::path& path) {
    std::ifstream in(path);
    if (!in) return nlohmann::json();
    nlohmann::json j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
    return j.is_discarded() ? nlohmann::json() : j;
  }

  static std::vector<int32_t> IdList(const nlohmann::json& config, const char* key) {
    std::vector<int32_t> ids;
    if (!config.is_object()) return ids;
    auto it = config.find(key);
    if (it == config.end()) return ids;
    if (it->is_number_integer()) ids.push_back(it->get<int32_t>());
    if (it->is_array()) {
      for (const auto& v : *it) {
        if (v.is_number_integer()) ids.push_back(v.get<int32_t>());
      }
    }
    return ids;
  }

  static std::optional<int32_t> TokenIdOf(const nlohmann::json& config, const char* key, const Tokenizer& t) {
    if (!config.is_object()) return std::nullopt;
    auto it = config.find(key);
    if (it == config.end()) return std::nullopt;
    if (it->is_string()) return t.TokenToId(it->get<std::string>());
    if (it->is_object() && it->contains("content") && (*it)["content"].is_string()) {
      return t.TokenToId((*it)["content"].get<std::string>());
    }
    return std::nullopt;
  }
};

absl::StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::FromTokenizerJson(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open tokenizer file ", path));
  std::string contents(static_cast<size_t>(in.tellg()), '\0');
  in.seekg(0);
  if (!in.read(contents.data(), static_cast<std::streamsize>(contents.size()))) {
    return absl::DataLossError(absl::StrCat("cannot read tokenizer file ", path));
  }
  auto json = JsonTokenizer::FromJsonText(contents, path);
  if (!json.ok()) return json.status();
  TokenizerSpecialIds::FromTemplate(**json, json->get());
  return std::unique_ptr<Tokenizer>(std::move(*json));
}

absl::StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::FromSentencePieceModel(const std::string& path) {
  auto sp = SentencePieceTokenizer::Load(path);
  if (!sp.ok()) return sp.status();
  return std::unique_ptr<Tokenizer>(std::move(*sp));
}

absl::StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::FromDirectory(const std::string& dir) {
  const std::filesystem::path root(dir);
  std::error_code ec;
  absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer;
  if (std::filesystem::is_regular_file(root / "tokenizer.json", ec)) {
    tokenizer = FromTokenizerJson((root / "tokenizer.json").string());
  } else if (std::filesystem::is_regular_file(root / "tokenizer.model", ec)) {
    tokenizer = FromSentencePieceModel((root / "tokenizer.model").string());
  } else {
    return absl::NotFoundError(absl::StrCat("no tokenizer.json or tokenizer.model in ", dir));
  }
  if (!tokenizer.ok()) return tokenizer.status();
  TokenizerSpecialIds::FromSideFiles(root, tokenizer->get());
  return tokenizer;
}

}  // namespace lip
