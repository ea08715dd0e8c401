#include "bridge/tokenizer/added_vocabulary.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "bridge/tokenizer/unicode_text.h"
#include "nlohmann/json.hpp"

namespace lip {
namespace {

// The code point that ends at `end` (exclusive) in valid UTF-8.
char32_t CodePointBefore(std::string_view s, size_t end) {
  size_t b = end - 1;
  while (b > 0 && (static_cast<unsigned char>(s[b]) & 0xC0) == 0x80) --b;
  return DecodeUtf8(s.substr(b, end - b)).front().value;
}

char32_t CodePointAt(std::string_view s, size_t begin) {
  const unsigned char b0 = static_cast<unsigned char>(s[begin]);
  const size_t n = std::min<size_t>(b0 < 0x80 ? 1 : b0 < 0xE0 ? 2 : b0 < 0xF0 ? 3 : 4, s.size() - begin);
  return DecodeUtf8(s.substr(begin, n)).front().value;
}

}  // namespace

absl::StatusOr<AddedVocabulary> AddedVocabulary::FromJson(const nlohmann::json& added_tokens,
                                                          const Normalizer* normalizer) {
  AddedVocabulary vocab;
  if (added_tokens.is_null()) return vocab;
  if (!added_tokens.is_array()) return absl::InvalidArgumentError("\"added_tokens\" is not an array");
  for (const auto& entry : added_tokens) {
    AddedToken token;
    auto id = entry.find("id");
    auto content = entry.find("content");
    if (!entry.is_object() || id == entry.end() || !id->is_number_integer() || content == entry.end() ||
        !content->is_string()) {
      return absl::InvalidArgumentError(absl::StrCat("added token ", entry.dump(), " lacks an id or content"));
    }
    token.id = id->get<int32_t>();
    token.content = content->get<std::string>();
    auto flag = [&](const char* key, bool fallback) {
      auto it = entry.find(key);
      return (it != entry.end() && it->is_boolean()) ? it->get<bool>() : fallback;
    };
    token.single_word = flag("single_word", false);
    token.lstrip = flag("lstrip", false);
    token.rstrip = flag("rstrip", false);
    token.special = flag("special", false);
    token.normalized = flag("normalized", !token.special);
    if (token.content.empty()) continue;  // tokenizers ignores empty added tokens
    if (vocab.by_id_.contains(token.id)) {
      return absl::InvalidArgumentError(absl::StrCat("added token id ", token.id, " appears twice"));
    }
    if (absl::Status s = ValidateUtf8(token.content); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("added token ", token.id, ": ", s.message()));
    }
    vocab.by_id_[token.id] = vocab.tokens_.size();
    vocab.by_content_[token.content] = vocab.tokens_.size();
    vocab.tokens_.push_back(std::move(token));
  }
  for (size_t k = 0; k < vocab.tokens_.size(); ++k) {
    const AddedToken& t = vocab.tokens_[k];
    if (t.normalized) {
      std::string pattern = normalizer != nullptr ? normalizer->Normalize(t.content) : t.content;
      if (!pattern.empty()) vocab.normalized_set_.patterns.emplace_back(std::move(pattern), k);
    } else {
      vocab.raw_set_.patterns.emplace_back(t.content, k);
    }
  }
  BuildMatchSet(&vocab.raw_set_);
  BuildMatchSet(&vocab.normalized_set_);
  return vocab;
}

void AddedVocabulary::BuildMatchSet(MatchSet* set) {
  for (size_t p = 0; p < set->patterns.size(); ++p) {
    set->by_first_byte[static_cast<unsigned char>(set->patterns[p].first[0])].push_back(p);
  }
  for (auto& bucket : set->by_first_byte) {
    std::stable_sort(bucket.begin(), bucket.end(), [&](size_t a, size_t b) {
      return set->patterns[a].first.size() > set->patterns[b].first.size();
    });
  }
}

std::vector<AddedVocabulary::Match> AddedVocabulary::FindMatches(std::string_view sentence,
                                                                 const MatchSet& set) const {
  std::vector<Match> out;
  size_t start_offset = 0;  // end of the last emitted piece
  size_t pos = 0;           // where the leftmost-longest search resumes
  while (pos < sentence.size()) {
    const auto& bucket = set.by_first_byte[static_cast<unsigned char>(sentence[pos])];
    const std::pair<std::string, size_t>* hit = nullptr;
    for (size_t p : bucket) {
      const std::string& pattern = set.patterns[p].first;
      if (sentence.compare(pos, pattern.size(), pattern) == 0) {
        hit = &set.patterns[p];
        break;
      }
    }
    if (hit == nullptr) {
      ++pos;
      continue;
    }
    const AddedToken& token = tokens_[hit->second];
    size_t start = pos;
    size_t stop = pos + hit->first.size();
    pos = stop;
    if (token.single_word) {
      const bool word_before = start > 0 && IsWordChar(CodePointBefore(sentence, start));
      const bool word_after = stop < sentence.size() && IsWordChar(CodePointAt(sentence, stop));
      if (word_before || word_after) continue;
    }
    if (token.lstrip) {
      size_t s = start;
      while (s > 0 && IsWhitespace(CodePointBefore(sentence, s))) {
        s -= 1;
        while (s > 0 && (static_cast<unsigned char>(sentence[s]) & 0xC0) == 0x80) --s;
      }
      start = std::max(s, start_offset);
    }
    if (token.rstrip) {
      while (stop < sentence.size() && IsWhitespace(CodePointAt(sentence, stop))) {
        const unsigned char b0 = static_cast<unsigned char>(sentence[stop]);
        stop += b0 < 0x80 ? 1 : b0 < 0xE0 ? 2 : b0 < 0xF0 ? 3 : 4;
      }
      stop = std::min(stop, sentence.size());
    }
    if (start < start_offset) continue;  // overlaps whitespace a previous rstrip took
    if (start_offset < start) out.push_back({start_offset, start, std::nullopt});
    out.push_back({start, stop, token.id});
    start_offset = stop;
  }
  if (start_offset < sentence.size()) out.push_back({start_offset, sentence.size(), std::nullopt});
  return out;
}

std::vector<AddedVocabulary::Segment> AddedVocabulary::ExtractAndNormalize(std::string_view text,
                                                                           const Normalizer* normalizer) const {
  std::vector<Segment> out;
  for (const Match& raw : FindMatches(text, raw_set_)) {
    if (raw.end <= raw.begin) continue;
    if (raw.id) {
      out.push_back({TextPiece{"", raw.begin == 0}, raw.id});
      continue;
    }
    const std::string_view part = text.substr(raw.begin, raw.end - raw.begin);
    std::string normalized = normalizer != nullptr ? normalizer->Normalize(part) : std::string(part);
    for (const Match& m : FindMatches(normalized, normalized_set_)) {
      if (m.end <= m.begin) continue;
      const bool at_start = raw.begin == 0 && m.begin == 0;
      if (m.id) {
        out.push_back({TextPiece{"", at_start}, m.id});
      } else {
        out.push_back({TextPiece{normalized.substr(m.begin, m.end - m.begin), at_start}, std::nullopt});
      }
    }
  }
  return out;
}

const AddedToken* AddedVocabulary::FindById(int32_t id) const {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : &tokens_[it->second];
}

const AddedToken* AddedVocabulary::FindByContent(std::string_view content) const {
  auto it = by_content_.find(absl::string_view(content.data(), content.size()));
  return it == by_content_.end() ? nullptr : &tokens_[it->second];
}

bool AddedVocabulary::IsSpecialContent(std::string_view content) const {
  const AddedToken* t = FindByContent(content);
  return t != nullptr && t->special;
}

}  // namespace lip
