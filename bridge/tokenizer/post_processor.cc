#include "bridge/tokenizer/post_processor.h"

#include "absl/strings/str_cat.h"
#include "bridge/tokenizer/json_fields.h"
#include "nlohmann/json.hpp"

namespace lip {
namespace {

// Every supported post-processor reduces to fixed ids before and after the sequence.
class FixedWrap final : public PostProcessor {
 public:
  FixedWrap(std::vector<int32_t> prefix, std::vector<int32_t> suffix)
      : prefix_(std::move(prefix)), suffix_(std::move(suffix)) {}
  std::vector<int32_t> PrefixIds() const override { return prefix_; }
  std::vector<int32_t> SuffixIds() const override { return suffix_; }

 private:
  std::vector<int32_t> prefix_, suffix_;
};

absl::Status ParseTemplate(const nlohmann::json& spec, std::vector<int32_t>* prefix,
                           std::vector<int32_t>* suffix) {
  auto single = spec.find("single");
  if (single == spec.end() || !single->is_array()) {
    return absl::InvalidArgumentError("TemplateProcessing: \"single\" is missing or not an array");
  }
  const nlohmann::json empty = nlohmann::json::object();
  auto specials_it = spec.find("special_tokens");
  const nlohmann::json& specials = specials_it != spec.end() && specials_it->is_object() ? *specials_it : empty;
  bool seen_sequence = false;
  for (const auto& item : *single) {
    if (auto seq = item.find("Sequence"); seq != item.end()) {
      if (seen_sequence) return absl::InvalidArgumentError("TemplateProcessing: \"single\" has two sequences");
      seen_sequence = true;
      continue;
    }
    auto special = item.find("SpecialToken");
    if (special == item.end()) {
      return absl::InvalidArgumentError(absl::StrCat("TemplateProcessing: template item ", item.dump()));
    }
    auto name = JsonString(*special, "id", "TemplateProcessing SpecialToken");
    if (!name.ok()) return name.status();
    auto entry = specials.find(*name);
    if (entry == specials.end() || !entry->contains("ids") || !(*entry)["ids"].is_array()) {
      return absl::InvalidArgumentError(
          absl::StrCat("TemplateProcessing: special token \"", *name, "\" has no entry in special_tokens"));
    }
    for (const auto& id : (*entry)["ids"]) {
      if (!id.is_number_integer()) {
        return absl::InvalidArgumentError(absl::StrCat("TemplateProcessing: \"", *name, "\" id ", id.dump()));
      }
      (seen_sequence ? suffix : prefix)->push_back(id.get<int32_t>());
    }
  }
  if (!seen_sequence) return absl::InvalidArgumentError("TemplateProcessing: \"single\" has no Sequence");
  return absl::OkStatus();
}

// "cls": ["<s>", 0], "sep": ["</s>", 2]
absl::StatusOr<int32_t> PairId(const nlohmann::json& spec, const char* key, const char* component) {
  auto it = spec.find(key);
  if (it == spec.end() || !it->is_array() || it->size() != 2 || !(*it)[1].is_number_integer()) {
    return absl::InvalidArgumentError(absl::StrCat(component, ": \"", key, "\" is not [token, id]"));
  }
  return (*it)[1].get<int32_t>();
}

}  // namespace

void PostProcessor::Process(std::vector<int32_t>* ids, bool add_special_tokens) const {
  if (!add_special_tokens) return;
  std::vector<int32_t> prefix = PrefixIds();
  std::vector<int32_t> suffix = SuffixIds();
  ids->insert(ids->begin(), prefix.begin(), prefix.end());
  ids->insert(ids->end(), suffix.begin(), suffix.end());
}

absl::StatusOr<std::unique_ptr<PostProcessor>> PostProcessor::FromJson(const nlohmann::json& spec) {
  auto type = JsonString(spec, "type", "post_processor");
  if (!type.ok()) return type.status();
  if (*type == "ByteLevel") return std::make_unique<FixedWrap>(std::vector<int32_t>{}, std::vector<int32_t>{});
  if (*type == "TemplateProcessing") {
    std::vector<int32_t> prefix, suffix;
    if (absl::Status s = ParseTemplate(spec, &prefix, &suffix); !s.ok()) return s;
    return std::make_unique<FixedWrap>(std::move(prefix), std::move(suffix));
  }
  if (*type == "RobertaProcessing" || *type == "BertProcessing") {
    auto cls = PairId(spec, "cls", type->c_str());
    auto sep = PairId(spec, "sep", type->c_str());
    if (!cls.ok()) return cls.status();
    if (!sep.ok()) return sep.status();
    return std::make_unique<FixedWrap>(std::vector<int32_t>{*cls}, std::vector<int32_t>{*sep});
  }
  if (*type == "Sequence") {
    auto it = spec.find("processors");
    if (it == spec.end() || !it->is_array()) {
      return absl::InvalidArgumentError("Sequence post-processor has no \"processors\" array");
    }
    // Each processor wraps the output of the previous one.
    std::vector<int32_t> prefix, suffix;
    for (const auto& part : *it) {
      auto p = FromJson(part);
      if (!p.ok()) return p.status();
      std::vector<int32_t> pre = (*p)->PrefixIds(), suf = (*p)->SuffixIds();
      prefix.insert(prefix.begin(), pre.begin(), pre.end());
      suffix.insert(suffix.end(), suf.begin(), suf.end());
    }
    return std::make_unique<FixedWrap>(std::move(prefix), std::move(suffix));
  }
  return absl::UnimplementedError(absl::StrCat("post-processor type \"", *type, "\" is not supported"));
}

}  // namespace lip
