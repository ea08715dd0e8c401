#include "bridge/tokenizer/pre_tokenizer.h"

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "bridge/tokenizer/byte_level_alphabet.h"
#include "bridge/tokenizer/json_fields.h"
#include "bridge/tokenizer/split_pattern.h"
#include "bridge/tokenizer/unicode_text.h"
#include "nlohmann/json.hpp"

namespace lip {
namespace {

// What happens to the matched parts of a Split (tokenizers' SplitDelimiterBehavior).
enum class SplitBehavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };

struct Range {
  size_t begin, end;
  bool is_match;
};

// Cuts `text` at the matches of `pattern`, treating the matches as `behavior` says.
std::vector<std::pair<size_t, size_t>> SplitRanges(std::string_view text, const SplitPattern& pattern,
                                                   SplitBehavior behavior, bool invert) {
  std::vector<Range> cover;
  size_t last = 0;
  for (const auto& [b, e] : pattern.FindMatches(text)) {
    if (b > last) cover.push_back({last, b, false});
    cover.push_back({b, e, true});
    last = e;
  }
  if (last < text.size()) cover.push_back({last, text.size(), false});
  if (invert) {
    for (Range& r : cover) r.is_match = !r.is_match;
  }

  std::vector<std::pair<size_t, size_t>> out;
  bool previous_match = false;
  switch (behavior) {
    case SplitBehavior::kIsolated:
      for (const Range& r : cover) out.emplace_back(r.begin, r.end);
      break;
    case SplitBehavior::kRemoved:
      for (const Range& r : cover) {
        if (!r.is_match) out.emplace_back(r.begin, r.end);
      }
      break;
    case SplitBehavior::kMergedWithPrevious:
      for (const Range& r : cover) {
        if (r.is_match && !previous_match && !out.empty()) {
          out.back().second = r.end;
        } else {
          out.emplace_back(r.begin, r.end);
        }
        previous_match = r.is_match;
      }
      break;
    case SplitBehavior::kMergedWithNext:
      for (auto it = cover.rbegin(); it != cover.rend(); ++it) {
        if (it->is_match && !previous_match && !out.empty()) {
          out.back().first = it->begin;
        } else {
          out.emplace_back(it->begin, it->end);
        }
        previous_match = it->is_match;
      }
      std::reverse(out.begin(), out.end());
      break;
    case SplitBehavior::kContiguous:
      for (size_t k = 0; k < cover.size(); ++k) {
        if (k > 0 && cover[k].is_match == previous_match) {
          out.back().second = cover[k].end;
        } else {
          out.emplace_back(cover[k].begin, cover[k].end);
        }
        previous_match = cover[k].is_match;
      }
      break;
  }
  return out;
}

// Applies `cut` to every piece and keeps the non-empty results in order.
template <typename Cut>
void SplitEach(std::vector<TextPiece>* pieces, Cut cut) {
  std::vector<TextPiece> out;
  out.reserve(pieces->size() * 2);
  for (TextPiece& piece : *pieces) {
    for (auto& [b, e] : cut(piece)) {
      if (e > b) out.push_back({piece.text.substr(b, e - b), piece.at_input_start && b == 0});
    }
  }
  *pieces = std::move(out);
}

class Split final : public PreTokenizer {
 public:
  Split(std::unique_ptr<SplitPattern> pattern, SplitBehavior behavior, bool invert)
      : pattern_(std::move(pattern)), behavior_(behavior), invert_(invert) {}
  void PreTokenize(std::vector<TextPiece>* pieces) const override {
    SplitEach(pieces, [&](const TextPiece& p) { return SplitRanges(p.text, *pattern_, behavior_, invert_); });
  }

 private:
  std::unique_ptr<SplitPattern> pattern_;
  SplitBehavior behavior_;
  bool invert_;
};

class ByteLevel final : public PreTokenizer {
 public:
  ByteLevel(bool add_prefix_space, std::unique_ptr<SplitPattern> gpt2_regex)
      : add_prefix_space_(add_prefix_space), gpt2_regex_(std::move(gpt2_regex)) {}
  void PreTokenize(std::vector<TextPiece>* pieces) const override {
    if (add_prefix_space_) {
      for (TextPiece& p : *pieces) {
        if (!absl::StartsWith(p.text, " ")) p.text.insert(0, " ");
      }
    }
    if (gpt2_regex_ != nullptr) {
      SplitEach(pieces, [&](const TextPiece& p) {
        return SplitRanges(p.text, *gpt2_regex_, SplitBehavior::kIsolated, false);
      });
    }
    for (TextPiece& p : *pieces) p.text = BytesToAlphabet(p.text);
  }

 private:
  bool add_prefix_space_;
  std::unique_ptr<SplitPattern> gpt2_regex_;  // null when use_regex is false
};

class Metaspace final : public PreTokenizer {
 public:
  enum class Prepend { kAlways, kFirst, kNever };
  Metaspace(std::string replacement, Prepend prepend, bool split)
      : replacement_(std::move(replacement)), prepend_(prepend), split_(split) {}
  void PreTokenize(std::vector<TextPiece>* pieces) const override {
    for (TextPiece& p : *pieces) {
      p.text = absl::StrReplaceAll(p.text, {{" ", replacement_}});
      const bool wants_prefix = prepend_ == Prepend::kAlways || (prepend_ == Prepend::kFirst && p.at_input_start);
      if (wants_prefix && !absl::StartsWith(p.text, replacement_)) p.text.insert(0, replacement_);
    }
    if (split_) {
      auto literal = SplitPattern::FromLiteral(replacement_);
      SplitEach(pieces, [&](const TextPiece& p) {
        return SplitRanges(p.text, **literal, SplitBehavior::kMergedWithNext, false);
      });
    }
  }

 private:
  std::string replacement_;
  Prepend prepend_;
  bool split_;
};

// Splits on whitespace, dropping it (tokenizers' WhitespaceSplit).
class WhitespaceSplit final : public PreTokenizer {
 public:
  void PreTokenize(std::vector<TextPiece>* pieces) const override {
    SplitEach(pieces, [](const TextPiece& p) {
      std::vector<std::pair<size_t, size_t>> words;
      size_t begin = std::string::npos;
      for (const CodePoint& cp : DecodeUtf8(p.text)) {
        if (IsWhitespace(cp.value)) {
          if (begin != std::string::npos) words.emplace_back(begin, cp.byte_begin);
          begin = std::string::npos;
        } else if (begin == std::string::npos) {
          begin = cp.byte_begin;
        }
      }
      if (begin != std::string::npos) words.emplace_back(begin, p.text.size());
      return words;
    });
  }
};

class SequencePreTokenizer final : public PreTokenizer {
 public:
  explicit SequencePreTokenizer(std::vector<std::unique_ptr<PreTokenizer>> parts) : parts_(std::move(parts)) {}
  void PreTokenize(std::vector<TextPiece>* pieces) const override {
    for (const auto& part : parts_) part->PreTokenize(pieces);
  }

 private:
  std::vector<std::unique_ptr<PreTokenizer>> parts_;
};

absl::StatusOr<SplitBehavior> ParseBehavior(const std::string& name) {
  if (name == "Removed") return SplitBehavior::kRemoved;
  if (name == "Isolated") return SplitBehavior::kIsolated;
  if (name == "MergedWithPrevious") return SplitBehavior::kMergedWithPrevious;
  if (name == "MergedWithNext") return SplitBehavior::kMergedWithNext;
  if (name == "Contiguous") return SplitBehavior::kContiguous;
  return absl::InvalidArgumentError(absl::StrCat("Split pre-tokenizer: unknown behavior \"", name, "\""));
}

absl::StatusOr<std::unique_ptr<PreTokenizer>> MakeSplit(const nlohmann::json& spec) {
  auto behavior_name = JsonString(spec, "behavior", "Split pre-tokenizer");
  if (!behavior_name.ok()) return behavior_name.status();
  auto behavior = ParseBehavior(*behavior_name);
  if (!behavior.ok()) return behavior.status();
  auto invert = JsonBool(spec, "invert", "Split pre-tokenizer", false);
  if (!invert.ok()) return invert.status();
  auto pattern_it = spec.find("pattern");
  if (pattern_it == spec.end() || !pattern_it->is_object()) {
    return absl::InvalidArgumentError("Split pre-tokenizer: field \"pattern\" is missing");
  }
  absl::StatusOr<std::unique_ptr<SplitPattern>> pattern =
      absl::InvalidArgumentError(absl::StrCat("Split pre-tokenizer: pattern ", pattern_it->dump(),
                                              " is neither {\"String\": ...} nor {\"Regex\": ...}"));
  if (auto s = pattern_it->find("String"); s != pattern_it->end() && s->is_string()) {
    pattern = SplitPattern::FromLiteral(s->get<std::string>());
  } else if (auto r = pattern_it->find("Regex"); r != pattern_it->end() && r->is_string()) {
    pattern = SplitPattern::FromRegex(r->get<std::string>());
  }
  if (!pattern.ok()) return pattern.status();
  return std::make_unique<Split>(std::move(*pattern), *behavior, *invert);
}

absl::StatusOr<std::unique_ptr<PreTokenizer>> MakeMetaspace(const nlohmann::json& spec) {
  auto replacement = JsonString(spec, "replacement", "Metaspace pre-tokenizer");
  if (!replacement.ok()) return replacement.status();
  if (replacement->empty()) return absl::InvalidArgumentError("Metaspace pre-tokenizer: empty replacement");
  auto split = JsonBool(spec, "split", "Metaspace pre-tokenizer", true);
  if (!split.ok()) return split.status();
  Metaspace::Prepend prepend;
  if (auto it = spec.find("prepend_scheme"); it != spec.end() && it->is_string()) {
    const std::string scheme = it->get<std::string>();
    if (scheme == "always") {
      prepend = Metaspace::Prepend::kAlways;
    } else if (scheme == "first") {
      prepend = Metaspace::Prepend::kFirst;
    } else if (scheme == "never") {
      prepend = Metaspace::Prepend::kNever;
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("Metaspace pre-tokenizer: unknown prepend_scheme \"", scheme, "\""));
    }
  } else {  // files written before prepend_scheme existed
    auto add_prefix_space = JsonBool(spec, "add_prefix_space", "Metaspace pre-tokenizer", true);
    if (!add_prefix_space.ok()) return add_prefix_space.status();
    prepend = *add_prefix_space ? Metaspace::Prepend::kAlways : Metaspace::Prepend::kNever;
  }
  return std::make_unique<Metaspace>(*replacement, prepend, *split);
}

}  // namespace

absl::StatusOr<std::unique_ptr<PreTokenizer>> PreTokenizer::FromJson(const nlohmann::json& spec) {
  auto type = JsonString(spec, "type", "pre_tokenizer");
  if (!type.ok()) return type.status();
  if (*type == "Split") return MakeSplit(spec);
  if (*type == "Metaspace") return MakeMetaspace(spec);
  if (*type == "WhitespaceSplit") return std::make_unique<WhitespaceSplit>();
  if (*type == "ByteLevel") {
    auto add_prefix_space = JsonBool(spec, "add_prefix_space", "ByteLevel pre-tokenizer", true);
    auto use_regex = JsonBool(spec, "use_regex", "ByteLevel pre-tokenizer", true);
    if (!add_prefix_space.ok()) return add_prefix_space.status();
    if (!use_regex.ok()) return use_regex.status();
    std::unique_ptr<SplitPattern> regex;
    if (*use_regex) {
      auto gpt2 = SplitPattern::FromRegex(kGpt2SplitRegex);
      if (!gpt2.ok()) return gpt2.status();
      regex = std::move(*gpt2);
    }
    return std::make_unique<ByteLevel>(*add_prefix_space, std::move(regex));
  }
  if (*type == "Sequence") {
    auto it = spec.find("pretokenizers");
    if (it == spec.end() || !it->is_array()) {
      return absl::InvalidArgumentError("Sequence pre-tokenizer has no \"pretokenizers\" array");
    }
    std::vector<std::unique_ptr<PreTokenizer>> parts;
    for (const auto& part : *it) {
      auto p = FromJson(part);
      if (!p.ok()) return p.status();
      parts.push_back(std::move(*p));
    }
    return std::make_unique<SequencePreTokenizer>(std::move(parts));
  }
  return absl::UnimplementedError(absl::StrCat("pre-tokenizer type \"", *type, "\" is not supported"));
}

}  // namespace lip
